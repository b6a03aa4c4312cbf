#!/usr/bin/env bash
# Runs a local kubemacpool control plane in the foreground: etcd,
# kube-apiserver and kubemacpool-apiserver behind the aggregator, all on
# 127.0.0.1. Ctrl-C stops it; the next run keeps the data in _output/local.
#
# Extra flags for kubemacpool-apiserver: KUBEMACPOOL_APISERVER_ARGS="--v=4 ..."
# Several replicas (on a 3-member etcd cluster of their own, behind a TCP
# balancer standing in for their Service): KUBEMACPOOL_REPLICAS=3
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

hack/build-tools.sh

echo "local-up: building _output/bin/kubemacpool-apiserver"
go build -o _output/bin/kubemacpool-apiserver ./cmd/kubemacpool-apiserver
echo "local-up: building _output/bin/local-up"
go build -o _output/bin/local-up ./test/localcluster/cmd/local-up

echo "local-up: logs go to _output/local/logs/, the admin kubeconfig is _output/local/kubeconfig"
# exec so that Ctrl-C and SIGTERM reach the launcher, which stops everything.
exec _output/bin/local-up --root _output/local --bin-dir _output/bin --artifacts artifacts
