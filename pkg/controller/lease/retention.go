package lease

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
	"kubemacpool.io/kubemacpool/pkg/metrics"
	"kubemacpool.io/kubemacpool/pkg/retention"
)

// poolRetention is the retention duration of a pool; zero for a pool that
// has none, is unknown, or is not watched.
func (c *Controller) poolRetention(name string) time.Duration {
	if c.config.Pools == nil || name == "" {
		return 0
	}
	obj, exists, err := c.config.Pools.GetStore().GetByKey(name)
	if err != nil || !exists {
		return 0
	}
	var policy *v1alpha1.RetentionPolicy
	switch pool := obj.(type) {
	case *v1alpha1.MacPool:
		policy = pool.Spec.Retention
	case *macpool.MacPool:
		if pool.Spec.Retention != nil {
			policy = &v1alpha1.RetentionPolicy{Duration: pool.Spec.Retention.Duration}
		}
	}
	if policy == nil {
		return 0
	}
	return policy.Duration.Duration
}

// retainedFor is how long lease stays Retained once its owner is deleted.
func (c *Controller) retainedFor(lease *macpool.MacLease) time.Duration {
	return retention.Duration(c.poolRetention(lease.Spec.Pool), lease.Annotations[retention.ObjectAnnotation])
}

// prepareRetention drops the reclaim bookkeeping from the lease about to be
// bound to h and, in a pool with a retention policy, records the owner's
// choice about retention. A lease that will be retained gets no owner
// references: with them the garbage collector would delete it together with
// its owner, before the controller could keep it. The controller then
// releases it itself, as every release proves first that no object carries
// the address. In a pool without retention nothing is recorded, so that the
// feature costs no write where it is not used; a pool that gains a retention
// policy has its leases bound again (onPool).
func (c *Controller) prepareRetention(bound *macpool.MacLease, h *holder) {
	pool := c.poolRetention(bound.Spec.Pool)
	_, reclaimed := bound.Annotations[retention.RetainedUntilAnnotation]
	_, reclaimedAt := bound.Annotations[retention.ReclaimedAtAnnotation]
	if pool <= 0 && !reclaimed && !reclaimedAt {
		return
	}
	annotations := map[string]string{}
	for key, value := range bound.Annotations {
		annotations[key] = value
	}
	delete(annotations, retention.RetainedUntilAnnotation)
	delete(annotations, retention.ReclaimedAtAnnotation)
	if pool > 0 {
		if h.retention == "" {
			delete(annotations, retention.ObjectAnnotation)
		} else {
			annotations[retention.ObjectAnnotation] = h.retention
		}
		if retention.Duration(pool, h.retention) > 0 {
			bound.OwnerReferences = nil
		}
	}
	if len(annotations) == 0 {
		annotations = nil
	}
	bound.Annotations = annotations
}

// sameAnnotations compares the annotations the controller writes at bind.
func sameAnnotations(a, b map[string]string) bool {
	for _, key := range []string{retention.ObjectAnnotation, retention.RetainedUntilAnnotation, retention.ReclaimedAtAnnotation} {
		x, inA := a[key]
		y, inB := b[key]
		if inA != inB || x != y {
			return false
		}
	}
	return true
}

// ownerExists reports whether an object of the lease owner's kind and exact
// name exists in the lease's namespace, whatever MACs it carries.
func (c *Controller) ownerExists(lease *macpool.MacLease) bool {
	indexer := c.pods
	if lease.Spec.Owner.Kind == kubevirt.KindVirtualMachine {
		indexer, _ = c.vmCaches()
	} else if lease.Spec.Owner.Kind != kindPod {
		// An owner of a kind the controller does not watch: it cannot tell,
		// and keeping the lease Bound is the safe side.
		return true
	}
	if indexer == nil {
		return true
	}
	_, exists, err := indexer.GetByKey(lease.Namespace + "/" + lease.Spec.Owner.Name)
	return err != nil || exists
}

// retain keeps the lease of a deleted owner for d: phase Retained with the
// owner's kind, name, interface and pool, no owner references (the UID was
// the deleted object's) and status.expiresAt. One write, of the version the
// decision was made on.
func (c *Controller) retain(ctx context.Context, lease *macpool.MacLease, d time.Duration) error {
	retained := lease.DeepCopy()
	retained.OwnerReferences = nil
	delete(retained.Annotations, retention.RetainedUntilAnnotation)
	delete(retained.Annotations, retention.ReclaimedAtAnnotation)
	expiresAt := metav1.NewTime(c.now().Add(d).Truncate(time.Second))
	retained.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseRetained, ExpiresAt: &expiresAt}
	if err := c.config.Binder.Bind(ctx, retained); err != nil {
		return ignoreConflict(fmt.Errorf("retaining lease %s/%s: %w", lease.Namespace, lease.Name, err))
	}
	klog.InfoS("Retained MacLease of a deleted owner", "lease", klog.KObj(lease), "mac", lease.Spec.MACAddress,
		"owner", lease.Spec.Owner.Kind+"/"+lease.Spec.Owner.Name, "until", expiresAt.UTC().Format(time.RFC3339))
	c.config.Metrics.CountLeaseOperation(metrics.LeaseRetain)
	return nil
}

// syncRetained releases a Retained lease whose time ran out, once nothing
// carries its address: an object of the namespace that carries it gets the
// lease (no gap in which the allocator could hand the address out), and a
// VMI or virt-launcher pod that still reports it keeps it.
func (c *Controller) syncRetained(ctx context.Context, key string, lease *macpool.MacLease) error {
	if lease.Status.ExpiresAt == nil {
		return nil
	}
	if wait := lease.Status.ExpiresAt.Sub(c.now()); wait > 0 {
		c.leaseQueue.AddAfter(key, wait)
		return nil
	}
	if c.waitForVMs(key) {
		// A VM may carry the address unseen: it would be passed over, or the
		// lease released.
		klog.V(2).InfoS("Keeping an expired Retained lease until the VirtualMachine caches have synced", "lease", key)
		return nil
	}
	if holders := c.holdersCarrying(lease.Namespace, lease.Spec.MACAddress); len(holders) > 0 {
		h := lastingHolder(holders)
		moved := lease.DeepCopy()
		moved.Spec.Owner = &macpool.LeaseOwner{APIVersion: h.apiVersion, Kind: h.kind, Name: h.name}
		return c.bind(ctx, moved, h)
	}
	if c.stillReported(lease.Namespace, lease.Spec.MACAddress) {
		klog.V(2).InfoS("Keeping an expired Retained lease whose MAC a VMI or virt-launcher pod still reports", "lease", key)
		return nil
	}
	return c.remove(ctx, lease, metrics.LeaseExpire, "its retention ended")
}

// lastingHolder picks, among the objects that carry an expired Retained
// lease's MAC, the one to pass the lease to: a VirtualMachine before any Pod.
// A running VM's virt-launcher Pod carries the VM's MACs too, and comes
// first in holdersCarrying; bound to it, the lease would be released or
// retained under the launcher's name when the VM stops, while the VM's spec
// keeps the MAC for its next start.
func lastingHolder(holders []*holder) *holder {
	for _, h := range holders {
		if h.kind == kubevirt.KindVirtualMachine {
			return h
		}
	}
	return holders[0]
}

// expireReclaimed handles a reservation that an admission reclaimed from
// retention and whose object never appeared: it is Retained again until its
// retention would have ended, or released if that time has passed.
func (c *Controller) expireReclaimed(ctx context.Context, lease *macpool.MacLease) (bool, error) {
	value, found := lease.Annotations[retention.RetainedUntilAnnotation]
	if !found {
		return false, nil
	}
	until, err := time.Parse(time.RFC3339, value)
	if err != nil || !until.After(c.now()) {
		return false, nil
	}
	return true, c.retain(ctx, lease, until.Sub(c.now()))
}

// onPool looks at the leases of a pool again when its retention changes:
// leases bound while it had none carry owner references, which must go
// before the garbage collector deletes them with their owner, and the other
// way round.
func (c *Controller) onPool(old, obj interface{}) {
	if old == nil || obj == nil {
		// Added: every lease is queued at the start of a term anyway.
		// Deleted: its leases are queued when they change.
		return
	}
	before, after := poolDuration(old), poolDuration(obj)
	if before == after {
		return
	}
	// A walk of every lease, not an index by pool: an index would hold a
	// key of each lease for good (80 bytes a lease at 100,000) for an
	// administrator's edit that comes seldom, and walking 100,000 leases
	// takes milliseconds.
	name := obj.(metav1.Object).GetName()
	for _, obj := range c.leases.List() {
		lease, ok := obj.(*macpool.MacLease)
		if !ok || lease.Spec.Pool != name {
			continue
		}
		if key, err := cache.MetaNamespaceKeyFunc(lease); err == nil {
			c.leaseQueue.Add(key)
		}
	}
}

func poolDuration(obj interface{}) time.Duration {
	switch pool := obj.(type) {
	case *v1alpha1.MacPool:
		if pool.Spec.Retention != nil {
			return pool.Spec.Retention.Duration.Duration
		}
	case *macpool.MacPool:
		if pool.Spec.Retention != nil {
			return pool.Spec.Retention.Duration.Duration
		}
	}
	return 0
}

// mayBePrefix tells a lease whose owner name may be a generateName prefix:
// a reservation made at admission. A bound or retained lease names its owner
// in full, and so does a reservation reclaimed from retention.
func mayBePrefix(lease *macpool.MacLease) bool {
	switch lease.Status.Phase {
	case macpool.MacLeasePhaseBound, macpool.MacLeasePhaseRetained:
		return false
	}
	_, reclaimed := lease.Annotations[retention.RetainedUntilAnnotation]
	return !reclaimed
}
