#!/usr/bin/env bash
# usage: listmeasure.sh A|B  -> starts local-up with /tmp/binX, fills 5000 leases in ns bulk, times 40 namespaced lists of ns empty
set -u
X=$1; root=/tmp/lc-$X; rm -rf $root
cd /work/main
go run ./test/localcluster/cmd/local-up --root $root --bin-dir /tmp/bin$X > /tmp/lc-$X.log 2>&1 &
lcpid=$!
for i in $(seq 1 120); do grep -q 'is ready' /tmp/lc-$X.log && break; sleep 1; done
K="_output/bin/kubectl --kubeconfig $(ls $root/kubeconfig 2>/dev/null || ls $root/*.kubeconfig | head -1)"
$K create ns bulk >/dev/null; $K create ns empty >/dev/null; sleep 2
python3 - > /tmp/leases-$X.yaml <<'PY'
items=[]
for i in range(5000):
    m="02:fe:%02x:%02x:%02x:%02x"%((i>>24)&255,(i>>16)&255,(i>>8)&255,i&255)
    items.append({"apiVersion":"macpool.kubemacpool.io/v1alpha1","kind":"MacLease","metadata":{"name":m.replace(":","-"),"namespace":"bulk"},"spec":{"macAddress":m,"pool":"default"}})
import json; print(json.dumps({"apiVersion":"v1","kind":"List","items":items}))
PY
t0=$(date +%s.%N); $K create -f /tmp/leases-$X.yaml > /dev/null 2>/tmp/create-$X.err; t1=$(date +%s.%N)
echo "$X: created $($K get macleases -n bulk -o name | wc -l) leases in $(echo "$t1-$t0"|bc) s; errors: $(wc -l < /tmp/create-$X.err)"
pid=$(pgrep -f "/tmp/bin$X/kubemacpool-apiserver" | head -1)
c0=$(awk '{print $14+$15}' /proc/$pid/stat); t0=$(date +%s.%N)
for i in $(seq 1 40); do $K get macleases -n empty -o name > /dev/null 2>&1; done
t1=$(date +%s.%N); c1=$(awk '{print $14+$15}' /proc/$pid/stat)
echo "$X: 40 lists of an empty namespace: $(echo "$t1-$t0"|bc) s wall, kmp CPU $(( (c1-c0)*10 )) ms"
pkill -INT -f "local-up --root $root"; wait $lcpid 2>/dev/null
