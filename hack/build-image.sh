#!/usr/bin/env bash
# Builds the kubemacpool-apiserver image without a container engine (make image):
#   _output/image/oci/                               OCI layout: one index, an image per platform
#   _output/image/kubemacpool-apiserver-<os>-<arch>.tar  docker-style tarball per platform
# from static binaries cross-compiled by `go build`, with kmp-image
# (hack/tools/image, go-containerregistry). Also builds the pinned crane into
# _output/bin. Skips what is up to date: the tools when hack/tools/image is
# unchanged, the image when its inputs (sources, stamp, name, CA bundle, Go)
# are.
#
# The Makefile passes VERSION, GIT_COMMIT, BUILD_EPOCH, GO_LDFLAGS, IMAGE, TAG
# and IMAGE_SOURCE; PLATFORMS (default "linux/amd64 linux/arm64") and
# CA_CERTIFICATES (default /etc/ssl/certs/ca-certificates.crt) are optional.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo_root=$(pwd)
bin_dir="${repo_root}/_output/bin"
out_dir="${repo_root}/_output/image"

for variable in VERSION GIT_COMMIT BUILD_EPOCH GO_LDFLAGS IMAGE TAG IMAGE_SOURCE; do
	if [[ -z "${!variable:-}" ]]; then
		echo "build-image: ${variable} is not set; run make image" >&2
		exit 1
	fi
done
platforms=${PLATFORMS:-linux/amd64 linux/arm64}
ca_certificates=${CA_CERTIFICATES:-/etc/ssl/certs/ca-certificates.crt}
if [[ ! -s "${ca_certificates}" ]]; then
	echo "build-image: the image needs CA certificates and ${ca_certificates} is missing or empty:" >&2
	echo "build-image: install them (apt-get install ca-certificates) or set CA_CERTIFICATES to a PEM bundle" >&2
	exit 1
fi

# kmp-image and crane, from their own module.
hack/build-image-tools.sh

inputs_hash=$(
	{
		git ls-files -z --cached --others --exclude-standard -- go.mod go.sum cmd pkg |
			sort -z | xargs -0 sha256sum
		echo "${VERSION} ${GIT_COMMIT} ${BUILD_EPOCH} ${GO_LDFLAGS} ${IMAGE}:${TAG} ${IMAGE_SOURCE} ${platforms}"
		go version
		sha256sum "${ca_certificates}" "${bin_dir}/kmp-image"
	} | sha256sum | cut -d' ' -f1
)
stamp="${out_dir}/.image-stamp"
if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${inputs_hash}" && -f "${out_dir}/oci/index.json" ]]; then
	echo "build-image: ${IMAGE}:${TAG} in _output/image is up to date"
	exit 0
fi
rm -f "${stamp}"

echo "build-image: building ${IMAGE}:${TAG} (${VERSION}) for ${platforms}"
echo "build-image: cross-compiling takes a few minutes per platform on 2 cores the first time, seconds once cached"
started=${SECONDS}
binary_flags=()
for platform in ${platforms}; do
	os=${platform%/*}
	arch=${platform#*/}
	binary="${out_dir}/bin/${os}-${arch}/kubemacpool-apiserver"
	echo "build-image: go build ${platform} (CGO_ENABLED=0)"
	step=${SECONDS}
	# Static and reproducible: no cgo, no local paths, no symbol table.
	CGO_ENABLED=0 GOOS=${os} GOARCH=${arch} go build -trimpath -ldflags "-s -w ${GO_LDFLAGS}" \
		-o "${binary}" ./cmd/kubemacpool-apiserver
	echo "build-image: ${platform} built in $((SECONDS - step))s"
	binary_flags+=(--binary "${platform}=${binary}")
done

"${bin_dir}/kmp-image" build "${binary_flags[@]}" \
	--image "${IMAGE}:${TAG}" \
	--source "${IMAGE_SOURCE}" \
	--revision "${GIT_COMMIT}" \
	--version "${VERSION}" \
	--created "${BUILD_EPOCH}" \
	--ca-certificates "${ca_certificates}" \
	--layout "${out_dir}/oci" \
	--tarball "${out_dir}/kubemacpool-apiserver-%s.tar"

echo "${inputs_hash}" >"${stamp}"
echo "build-image: done in $((SECONDS - started))s. Push it with:"
echo "  _output/bin/crane push _output/image/oci ${IMAGE}:${TAG}          # every platform, as one index"
echo "  _output/bin/crane push _output/image/kubemacpool-apiserver-linux-amd64.tar ${IMAGE}:${TAG}   # one platform"
