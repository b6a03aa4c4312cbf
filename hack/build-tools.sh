#!/usr/bin/env bash
# Builds the real control-plane binaries the local cluster and the e2e tests
# run, from the separate hack/tools module (so the product's go.mod never
# pulls in k8s.io/kubernetes):
#   _output/bin/etcd  _output/bin/kube-apiserver  _output/bin/kube-controller-manager
#   _output/bin/kubectl
# Skips the build when the binaries exist and hack/tools/go.mod and go.sum are
# unchanged since they were built.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo_root=$(pwd)
bin_dir="${repo_root}/_output/bin"
stamp="${bin_dir}/.tools-stamp"

tools_hash=$(cat hack/tools/go.mod hack/tools/go.sum | sha256sum | cut -d' ' -f1)

if [[ -x "${bin_dir}/etcd" && -x "${bin_dir}/kube-apiserver" && -x "${bin_dir}/kube-controller-manager" &&
	-x "${bin_dir}/kubectl" &&
	-f "${stamp}" && "$(cat "${stamp}")" == "${tools_hash}" ]]; then
	echo "build-tools: etcd, kube-apiserver, kube-controller-manager and kubectl in _output/bin are up to date"
	exit 0
fi

mkdir -p "${bin_dir}"
# A stale stamp must not survive a failed build.
rm -f "${stamp}"

echo "build-tools: building etcd, kube-apiserver, kube-controller-manager and kubectl into _output/bin from hack/tools"
echo "build-tools: the first kube-apiserver build takes about 10 to 15 minutes on 2 cores; later runs are cached"
started=${SECONDS}

cd hack/tools
# One binary per go build: `go build -o dir/ .../server/v3` would name etcd "v3".
echo "build-tools: building etcd"
go build -o "${bin_dir}/etcd" go.etcd.io/etcd/server/v3
echo "build-tools: building kube-apiserver"
go build -o "${bin_dir}/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
echo "build-tools: building kube-controller-manager (a few more minutes the first time)"
go build -o "${bin_dir}/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
echo "build-tools: building kubectl"
go build -o "${bin_dir}/kubectl" k8s.io/kubernetes/cmd/kubectl

echo "${tools_hash}" >"${stamp}"
echo "build-tools: done in $((SECONDS - started))s"
