#!/usr/bin/env bash
# Builds kmp-image (the image builder) and the pinned crane CLI from their
# own module, hack/tools/image, into _output/bin. Skips the build when both
# exist and the module (go.mod, go.sum, sources) is unchanged since.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin_dir="$(pwd)/_output/bin"
stamp="${bin_dir}/.image-tools-stamp"

tools_hash=$( (cd hack/tools/image && cat go.mod go.sum $(ls ./*.go | grep -v _test.go)) | sha256sum | cut -d' ' -f1)
if [[ -x "${bin_dir}/kmp-image" && -x "${bin_dir}/crane" && -f "${stamp}" && "$(cat "${stamp}")" == "${tools_hash}" ]]; then
	echo "build-image-tools: kmp-image and crane in _output/bin are up to date"
	exit 0
fi
mkdir -p "${bin_dir}"
rm -f "${stamp}"
echo "build-image-tools: building kmp-image and crane into _output/bin from hack/tools/image (under a minute the first time)"
started=${SECONDS}
cd hack/tools/image
go build -o "${bin_dir}/kmp-image" .
go build -o "${bin_dir}/crane" github.com/google/go-containerregistry/cmd/crane
echo "${tools_hash}" >"${stamp}"
echo "build-image-tools: done in $((SECONDS - started))s"
