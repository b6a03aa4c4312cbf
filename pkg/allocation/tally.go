package allocation

import (
	"sync"

	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// tally counts the leases in one phase by a group (their pool, their
// namespace) from the lease informer's events. It keeps an entry for each
// counted lease only, and the phases counted are those of the few leases that
// wait for something (Retained, Reserved), never the many Bound ones. The
// zero tally counts nothing yet.
type tally struct {
	mu    sync.Mutex
	byKey map[string]string // lease key -> group, counted leases only
	count map[string]int64  // group -> counted leases
}

// observe records the lease of key as in group and counted, or as not
// counted (any more).
func (t *tally) observe(key, group string, counted bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if previous, found := t.byKey[key]; found {
		if t.count[previous]--; t.count[previous] == 0 {
			delete(t.count, previous)
		}
		delete(t.byKey, key)
	}
	if counted {
		if t.byKey == nil {
			t.byKey, t.count = map[string]string{}, map[string]int64{}
		}
		t.byKey[key] = group
		t.count[group]++
	}
}

// of is the number of counted leases in group.
func (t *tally) of(group string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count[group]
}

// leaseCounts are the tallies the service keeps of the informer's leases.
type leaseCounts struct {
	// retained counts Retained leases by pool, for the pools' status and
	// the message of an exhausted pool.
	retained tally
	// reserved counts Reserved leases by namespace, for the limit on the
	// reservations whose objects have not appeared (see LimitReservations).
	reserved tally
}

// observe counts a lease the informer delivered, or forgets a deleted one.
func (c *leaseCounts) observe(obj interface{}, deleted bool) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	var namespace, pool string
	var phase v1alpha1.MacLeasePhase
	switch lease := obj.(type) {
	case *macpool.MacLease:
		namespace, pool, phase = lease.Namespace, lease.Spec.Pool, v1alpha1.MacLeasePhase(lease.Status.Phase)
	case *v1alpha1.MacLease:
		namespace, pool, phase = lease.Namespace, lease.Spec.Pool, lease.Status.Phase
	default:
		return
	}
	c.retained.observe(key, pool, !deleted && phase == v1alpha1.MacLeasePhaseRetained)
	c.reserved.observe(key, namespace, !deleted && phase == v1alpha1.MacLeasePhaseReserved)
}
