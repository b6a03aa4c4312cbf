package allocation

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// NameLister lists the names of every stored MacLease, and nothing else of
// them: the name of a lease is its MAC.
type NameLister func(ctx context.Context) ([]string, error)

// preloadReconcilePoll is how often Preload checks for the informer's sync.
const preloadReconcilePoll = 100 * time.Millisecond

// Preload fills the index from the names of the stored leases, so that the
// service can allocate before the lease informer has decoded every lease:
// with 100,000 leases that decode is most of a start. A start then costs a
// read of keys, and the informer catches up behind it.
//
// The index stays a guess, as always: the atomic create of a lease decides.
// A lease another replica creates before the informer has synced is found
// by that create (AlreadyExists marks it taken). A lease deleted meanwhile
// would stay taken in the index; once the informer has synced, the names
// it does not hold are freed.
func (s *Service) Preload(ctx context.Context, list NameLister) error {
	started := time.Now()
	names, err := list(ctx)
	if err != nil {
		return fmt.Errorf("listing the names of the stored leases: %w", err)
	}
	preloaded := make([]mac.Address, 0, len(names))
	for _, name := range names {
		address, err := mac.Parse(name)
		if err != nil {
			klog.ErrorS(err, "Ignoring a stored MacLease whose name is not a MAC", "name", name)
			continue
		}
		s.taken.Add(address)
		preloaded = append(preloaded, address)
	}
	s.preloaded.Store(true)
	klog.InfoS("Loaded the leased MACs from the storage's keys", "leases", len(preloaded), "duration", time.Since(started))
	go s.forgetDeletedSincePreload(ctx, preloaded)
	return nil
}

// forgetDeletedSincePreload frees, once the informer holds every lease, the
// preloaded addresses whose lease is gone: deleted between the read of the
// keys and the informer's list, so that no delete event will come for them.
func (s *Service) forgetDeletedSincePreload(ctx context.Context, preloaded []mac.Address) {
	if err := wait.PollUntilContextCancel(ctx, preloadReconcilePoll, true, func(context.Context) (bool, error) {
		return s.leasesSynced(), nil
	}); err != nil {
		return
	}
	stored := sets.New(s.leaseNames()...)
	freed := 0
	for _, address := range preloaded {
		if !stored.Has(address.Name()) && s.taken.Remove(address) {
			freed++
		}
	}
	klog.InfoS("The lease informer caught up with the preloaded index", "freed", freed)
}
