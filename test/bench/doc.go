// Package bench holds the end-to-end benchmarks of Kubemacpool, run by `make
// bench` against a real local control plane (test/localcluster) that the
// first benchmark starts in _output/bench:
//
//   - BenchmarkLeaseCreate: MacLeases created per second through
//     kube-apiserver and the aggregator, against atomic creates of objects of
//     the same size straight into kubemacpool-apiserver's embedded etcd (the
//     physical limit) and against the same object created as a
//     CustomResource in kube-apiserver (what a user would pick instead);
//   - BenchmarkPodCreate and BenchmarkVMCreate: Pods (VirtualMachines) created
//     per second, their latency and the CPU time kubemacpool-apiserver spends
//     on each, in a namespace the webhook manages against one it ignores,
//     and at 16 clients against the floor webhook (floor_test.go): the
//     cheapest webhook that hands out MACs, from memory, which bounds what
//     any webhook keeps of the baseline on the machine of the run; the Pod
//     figures for 1, 4, 16 and 32 clients are charted in
//     _output/bench/pods-by-clients.svg;
//   - BenchmarkRestart: start-to-ready of kubemacpool-apiserver holding
//     100,000 leases, and its memory per lease.
//
// Every figure that has a baseline is measured against it in the same run, in
// alternating rounds, so that a shared, noisy machine shifts both alike; the
// ratios are what the acceptance targets in docs/benchmarks.md are about.
// -benchtime=Nx sets the operations per side; KMP_BENCH_LEASES the number of
// leases of BenchmarkRestart (default 100000), and KMP_BENCH_API_FILL how many
// of them are created through the API (default 5000; the rest are written
// into etcd directly). KMP_BENCH_PROFILE=1 writes pprof profiles of
// kubemacpool-apiserver to _output/bench/profiles (see profile_test.go);
// KMP_BENCH_PROFILE_KAS=1 profiles kube-apiserver there too, on every side of
// BenchmarkPodCreate and BenchmarkVMCreate (a diagnosis: profiling a baseline
// slows it, so its ratios are not the record), and KMP_BENCH_RECORD=1 copies the chart to docs/images. KMP_BENCH_SERVER_ARGS adds
// flags to kubemacpool-apiserver, to measure a setting against its default.
package bench
