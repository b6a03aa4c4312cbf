#!/usr/bin/env bash
# Runs a local kubemacpool control plane in the foreground: etcd,
# kube-apiserver and kubemacpool-apiserver behind the aggregator, all on
# 127.0.0.1. Ctrl-C stops it; the next run keeps the data in _output/local.
#
# Extra flags for kubemacpool-apiserver: KUBEMACPOOL_APISERVER_ARGS="--v=4 ..."
# Several replicas (on a 3-member etcd cluster of their own, behind a TCP
# balancer standing in for their Service): KUBEMACPOOL_REPLICAS=3
# The server binary of an image `make image` built, taken out of its layers
# for this machine's platform: KUBEMACPOOL_IMAGE=_output/image/oci
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

hack/build-tools.sh

server=_output/bin/kubemacpool-apiserver
if [[ -n "${KUBEMACPOOL_IMAGE:-}" ]]; then
	hack/build-image-tools.sh
	server=_output/local-image/kubemacpool-apiserver
	echo "local-up: taking ${server} out of the image in ${KUBEMACPOOL_IMAGE} (linux/$(go env GOARCH))"
	_output/bin/kmp-image extract --layout "${KUBEMACPOOL_IMAGE}" --platform "linux/$(go env GOARCH)" --output "${server}"
else
	echo "local-up: building _output/bin/kubemacpool-apiserver"
	CGO_ENABLED=0 go build -trimpath -ldflags "${GO_LDFLAGS:-}" -o "${server}" ./cmd/kubemacpool-apiserver
fi
echo "local-up: building _output/bin/local-up"
go build -o _output/bin/local-up ./test/localcluster/cmd/local-up

echo "local-up: logs go to _output/local/logs/, the admin kubeconfig is _output/local/kubeconfig"
# exec so that Ctrl-C and SIGTERM reach the launcher, which stops everything.
exec _output/bin/local-up --root _output/local --bin-dir _output/bin --kubemacpool-binary "${server}" --artifacts artifacts
