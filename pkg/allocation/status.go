package allocation

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// statusInterval is how often pool usage is written to MacPool status and
// the gauges: often enough for `kubectl get macpools` to be current, seldom
// enough to cost nothing.
const statusInterval = 5 * time.Second

// conditionAvailable is true while a pool has free addresses.
const conditionAvailable = "Available"

// RunStatusUpdates writes every pool's capacity, allocated and free
// addresses, as the allocator counts them, until ctx is done. Replicas may
// all run it: they write the same numbers, and a conflict only skips a round.
func (s *Service) RunStatusUpdates(ctx context.Context) {
	wait.UntilWithContext(ctx, s.updateStatuses, statusInterval)
}

func (s *Service) updateStatuses(ctx context.Context) {
	if !s.HasSynced() {
		return
	}
	s.mu.RLock()
	pools := make(map[string]*pool, len(s.pools))
	for name, p := range s.pools {
		pools[name] = p
	}
	s.mu.RUnlock()
	for name, p := range pools {
		capacity, allocated, free := p.state.Stats()
		if s.metrics != nil {
			s.metrics.SetPoolCapacity(name, capacity)
			s.metrics.SetPoolAllocated(name, allocated)
		}
		if err := s.writeStatus(ctx, name, capacity, allocated, free, s.retainedIn(name)); err != nil {
			klog.V(2).InfoS("Updating MacPool status, will retry", "pool", name, "err", err)
		}
	}
}

func (s *Service) writeStatus(ctx context.Context, name string, capacity, allocated, free uint64, retained int64) error {
	pools := s.client.MacpoolV1alpha1().MacPools()
	current, err := pools.Get(ctx, name, metav1.GetOptions{ResourceVersion: "0"})
	if err != nil {
		return err
	}
	desired := current.DeepCopy()
	desired.Status.Capacity, desired.Status.Allocated, desired.Status.Free = int64(capacity), int64(allocated), int64(free)
	desired.Status.Retained = retained
	condition := metav1.Condition{Type: conditionAvailable, Status: metav1.ConditionTrue, Reason: "AddressesFree",
		Message: "the pool has free addresses", ObservedGeneration: current.Generation}
	if free == 0 {
		condition.Status, condition.Reason, condition.Message = metav1.ConditionFalse, "Exhausted", "every address of the pool is leased"
	}
	meta.SetStatusCondition(&desired.Status.Conditions, condition)
	if statusEqual(current.Status, desired.Status) {
		return nil
	}
	_, err = pools.UpdateStatus(ctx, desired, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func statusEqual(a, b v1alpha1.MacPoolStatus) bool {
	if a.Capacity != b.Capacity || a.Allocated != b.Allocated || a.Free != b.Free || a.Retained != b.Retained || len(a.Conditions) != len(b.Conditions) {
		return false
	}
	for i := range a.Conditions {
		x, y := a.Conditions[i], b.Conditions[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.ObservedGeneration != y.ObservedGeneration {
			return false
		}
	}
	return true
}
