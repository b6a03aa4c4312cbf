#!/usr/bin/env bash
# Builds Prometheus's promtool into _output/bin/promtool from its own pinned
# module, hack/tools/promtool (so Prometheus's dependencies never move the
# product's or hack/tools' Kubernetes versions). `make test-monitoring` uses it
# to check and unit-test the alerting rules.
# Skips the build when the binary exists and hack/tools/promtool/go.mod and
# go.sum are unchanged since it was built.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo_root=$(pwd)
bin_dir="${repo_root}/_output/bin"
stamp="${bin_dir}/.promtool-stamp"

tools_hash=$(cat hack/tools/promtool/go.mod hack/tools/promtool/go.sum | sha256sum | cut -d' ' -f1)

if [[ -x "${bin_dir}/promtool" && -f "${stamp}" && "$(cat "${stamp}")" == "${tools_hash}" ]]; then
	echo "build-promtool: _output/bin/promtool is up to date"
	exit 0
fi

mkdir -p "${bin_dir}"
# A stale stamp must not survive a failed build.
rm -f "${stamp}"

version=$(cd hack/tools/promtool && go list -m -f '{{.Version}}' github.com/prometheus/prometheus)
echo "build-promtool: building promtool (github.com/prometheus/prometheus ${version}) into _output/bin from hack/tools/promtool"
echo "build-promtool: the first build downloads and compiles Prometheus: 10 minutes or more on 2 cores (about an hour on a busy machine); later runs are cached"
started=${SECONDS}

cd hack/tools/promtool
go build -o "${bin_dir}/promtool" github.com/prometheus/prometheus/cmd/promtool

echo "${tools_hash}" >"${stamp}"
echo "build-promtool: done in $((SECONDS - started))s"
