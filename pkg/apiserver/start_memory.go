package apiserver

import (
	"context"
	"runtime/debug"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// freeOSMemory is debug.FreeOSMemory; a variable for the test.
var freeOSMemory = debug.FreeOSMemory

// returnStartMemory hands the start's transient heap back to the operating
// system once the lease informer holds every lease, once per process.
//
// Loading the leases peaks well above what stays live: etcd's response,
// every lease decoded, the allocator's preload of their names. Afterwards
// the Go runtime keeps the freed pages and its scavenger returns them only
// a little at a time: ten seconds after a start with 100,000 leases the
// anonymous memory was 2.4 times the live heap (docs/benchmarks.md). One
// forced collection and release costs a single GC cycle at a moment when
// nothing else waits on this server's CPU. It cannot hold the heap down
// afterwards: later peaks (kube-controller-manager listing every lease
// again after a restart, the lease controller's first pass) grow it again
// as far as GOGC (or GOMEMLIMIT) lets it, and with the watch cache the
// measured effect on the RSS per lease was within the noise.
func returnStartMemory(ctx context.Context, leasesSynced cache.InformerSynced) {
	if !cache.WaitForCacheSync(ctx.Done(), leasesSynced) {
		return
	}
	started := time.Now()
	freeOSMemory()
	klog.V(2).InfoS("Returned the start's transient heap to the operating system", "duration", time.Since(started))
}
