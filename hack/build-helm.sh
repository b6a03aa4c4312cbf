#!/usr/bin/env bash
# Builds the pinned helm (hack/tools/helm, its own module so that helm's
# dependencies never move the control-plane build of hack/tools) into
# _output/bin/helm, for `make test-chart` and the chart's e2e specs.
# Skips the build when the binary exists and hack/tools/helm/go.mod, go.sum
# and this script are unchanged since it was built.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo_root=$(pwd)
bin_dir="${repo_root}/_output/bin"
stamp="${bin_dir}/.helm-stamp"

helm_hash=$(cat hack/tools/helm/go.mod hack/tools/helm/go.sum hack/build-helm.sh | sha256sum | cut -d' ' -f1)

if [[ -x "${bin_dir}/helm" && -f "${stamp}" && "$(cat "${stamp}")" == "${helm_hash}" ]]; then
	echo "build-helm: _output/bin/helm is up to date"
	exit 0
fi

mkdir -p "${bin_dir}"
# A stale stamp must not survive a failed build.
rm -f "${stamp}"

echo "build-helm: building helm into _output/bin from hack/tools/helm"
echo "build-helm: the first build takes a few minutes on 2 cores; later runs are cached"
started=${SECONDS}
cd hack/tools/helm
# helm's own release builds stamp the full version; a go build leaves only
# the minor one ("v4.3"), so take it from go.mod.
helm_version=$(go list -m -f '{{.Version}}' helm.sh/helm/v4)
go build -ldflags "-X helm.sh/helm/v4/internal/version.version=${helm_version}" -o "${bin_dir}/helm" helm.sh/helm/v4/cmd/helm
cd "${repo_root}"
echo "${helm_hash}" >"${stamp}"
echo "build-helm: $("${bin_dir}/helm" version --short), done in $((SECONDS - started))s"
