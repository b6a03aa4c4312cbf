package lease

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

// syncLease brings one lease in line with the objects that exist: bind it
// when its owner carries the MAC, release it when a bound owner is gone or
// dropped the MAC, and expire a reservation whose owner never appeared.
func (c *Controller) syncLease(ctx context.Context, key string) error {
	obj, exists, err := c.leases.GetByKey(key)
	if err != nil {
		return err
	}
	if !exists {
		c.forgetRemovedPods(key)
		return nil
	}
	lease := obj.(*macpool.MacLease)
	if wrote, err := c.recordHolds(ctx, lease); wrote || err != nil {
		return err
	}
	switch wrote, err := c.dropStoppedHolds(ctx, key, lease); {
	case err != nil:
		// Only the holds wait for the Node reads: the lease is still bound,
		// retained or expired below, and they are asked again later.
		klog.ErrorS(err, "Keeping the node holds of a lease until its nodes can be read", "lease", key)
		c.leaseQueue.AddAfter(key, orphanRecheck)
	case wrote:
		return nil
	}
	if lease.DeletionTimestamp != nil {
		return c.syncDeleted(ctx, lease)
	}
	owner := lease.Spec.Owner
	if owner == nil {
		// A static reservation stays until an administrator removes it.
		return nil
	}
	if c.vmsUnknown(lease) {
		// Whether the VM exists is unknown, so the lease stays, past its
		// TTL if need be. Watching VMs queues it again.
		klog.V(2).InfoS("Keeping a VirtualMachine lease while VirtualMachines are not watched", "lease", key)
		return nil
	}
	if holder := c.ownerCarrying(lease); holder != nil {
		return c.bind(ctx, lease, holder)
	}
	switch next, wait := c.nextLauncher(key, lease); {
	case wait:
		klog.V(2).InfoS("Keeping the lease of a gone Pod as it is until the VirtualMachineInstance caches have synced", "lease", key)
		return nil
	case next != nil:
		// The guest of a standalone VMI moved to another launcher, with
		// its MAC (nextLauncher). Owner and launcher are both Pods: bind
		// writes the launcher's name, and must see the gone Pod's name to
		// tell that this is a change (a lease bound under retention may
		// differ in nothing else).
		return c.bind(ctx, lease, next)
	}
	if lease.Status.Phase == macpool.MacLeasePhaseRetained {
		return c.syncRetained(ctx, key, lease)
	}
	if lease.Status.Phase == macpool.MacLeasePhaseBound && !c.ownerExists(lease) {
		// The owner is deleted: under a retention policy its address waits
		// for an object of the same name. Retaining frees nothing, so a VMI
		// or virt-launcher pod that still reports the MAC need not be gone.
		if d := c.retainedFor(lease); d > 0 {
			if c.podsOnNodes.unrecorded(indexKey(lease.Namespace, lease.Spec.MACAddress), c.podCached(lease.Namespace)) {
				// Retained, the lease goes to the next object of the name at
				// once (a StatefulSet creates its Pod the moment the old one
				// is gone; a VM's next launcher Pod may run elsewhere), and
				// the allocator trusts the holds it has then: the hold of a
				// Pod, or virt-launcher Pod, removed while its node may still
				// run it is written first. The handlers queued the lease, or
				// will.
				klog.V(2).InfoS("Retaining a lease once the Pod handlers have seen its Pods go", "lease", key)
				c.leaseQueue.AddAfter(key, handlerLag)
				return nil
			}
			return c.retain(ctx, lease, d)
		}
	}
	if c.stillReported(lease.Namespace, lease.Spec.MACAddress) {
		// The owner is gone or dropped the MAC, but a VMI or virt-launcher
		// pod still runs with it (a grace period). Its going queues the
		// lease again.
		klog.V(2).InfoS("Keeping a lease whose MAC a VMI or virt-launcher pod still reports", "lease", key)
		return nil
	}
	if lease.Status.Phase == macpool.MacLeasePhaseBound {
		return c.remove(ctx, lease, metrics.LeaseRelease, "its owner is gone or no longer carries the address")
	}
	expiresAt := lease.Status.ExpiresAt
	if expiresAt == nil {
		// Made by hand for an owner still to come: it has no deadline and
		// waits, like a static reservation, until its owner appears.
		return nil
	}
	if wait := expiresAt.Sub(c.now()); wait > 0 {
		c.leaseQueue.AddAfter(key, wait)
		return nil
	}
	if retained, err := c.expireReclaimed(ctx, lease); retained || err != nil {
		return err
	}
	return c.remove(ctx, lease, metrics.LeaseExpire, "its owner never appeared")
}

// ownerCarrying returns the lease's owner if it exists in the lease's
// namespace and carries the lease's MAC.
func (c *Controller) ownerCarrying(lease *macpool.MacLease) *holder {
	holders := c.holdersCarrying(lease.Namespace, lease.Spec.MACAddress)
	// The owner's exact name first: a Pod db-01 must not take the lease of
	// db-0 for its name prefix.
	for _, h := range holders {
		if h.kind == lease.Spec.Owner.Kind && h.name == lease.Spec.Owner.Name {
			return h
		}
	}
	if !mayBePrefix(lease) {
		return nil
	}
	for _, h := range holders {
		if h.ownedBy(lease.Spec.Owner.Kind, lease.Spec.Owner.Name) {
			return h
		}
	}
	return nil
}

// holdersCarrying returns the Pods and, while VMs are watched, the
// VirtualMachines of namespace (of every namespace for
// metav1.NamespaceAll) that carry address.
func (c *Controller) holdersCarrying(namespace, address string) []*holder {
	vms, _ := c.vmCaches()
	var holders []*holder
	for _, indexer := range []cache.Indexer{c.pods, vms} {
		if indexer == nil {
			continue
		}
		objects, err := indexer.ByIndex(macIndex, address)
		if err != nil {
			continue
		}
		for _, obj := range objects {
			if object, ok := obj.(metav1.Object); !ok || namespace != metav1.NamespaceAll && object.GetNamespace() != namespace {
				continue
			}
			if h := holderOf(obj); h != nil {
				holders = append(holders, h)
			}
		}
	}
	return holders
}

// bind records the owner that carries the MAC: its full name (the webhook
// saw only the generateName prefix of some Pods), its UID as an owner
// reference so that the garbage collector releases the lease too, and the
// Bound phase.
func (c *Controller) bind(ctx context.Context, lease *macpool.MacLease, h *holder) error {
	reference := metav1.OwnerReference{APIVersion: h.apiVersion, Kind: h.kind, Name: h.name, UID: types.UID(h.uid)}
	// The VMIs and virt-launcher pods that report the MAC own the lease
	// too: the garbage collector then keeps it after the VM is deleted,
	// until the last of them is gone (their grace period).
	// The owner may report the MAC itself (a virt-launcher pod holding a
	// Pod lease): it is listed once.
	references := []metav1.OwnerReference{reference}
	for _, reporter := range c.reporterReferences(lease.Namespace, lease.Spec.MACAddress) {
		if reporter.UID != reference.UID {
			references = append(references, reporter)
		}
	}
	bound := lease.DeepCopy()
	bound.Spec.Owner.Name = h.name
	if iface := h.interfaces[lease.Spec.MACAddress]; iface != "" {
		bound.Spec.Interface = iface
	}
	bound.OwnerReferences = references
	bound.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseBound}
	c.prepareRetention(bound, h)
	// The allocation's token has done its work once the owner exists; the
	// watch cache, every informer and etcd would otherwise keep it (a map
	// and two strings, about 400 bytes of heap) for the lease's life. The
	// no-op check below ignores it: a lease bound before loses it with the
	// next write it gets for another reason (the finalizer's, below).
	if _, ok := bound.Annotations[macpool.AllocationAttemptAnnotation]; ok {
		delete(bound.Annotations, macpool.AllocationAttemptAnnotation)
		if len(bound.Annotations) == 0 {
			bound.Annotations = nil
		}
	}
	// A delete only marks the lease; it goes once its MAC is off the
	// network (syncDeleted). The webhooks create leases with the
	// finalizer; one made or bound by a version without it gets it here.
	if !slices.Contains(bound.Finalizers, macpool.MACProtectionFinalizer) {
		bound.Finalizers = append(bound.Finalizers, macpool.MACProtectionFinalizer)
	}
	if bound.Spec.Owner.Name == lease.Spec.Owner.Name && bound.Spec.Interface == lease.Spec.Interface &&
		sameOwnerReferences(lease.OwnerReferences, bound.OwnerReferences) && sameAnnotations(lease.Annotations, bound.Annotations) &&
		slices.Contains(lease.Finalizers, macpool.MACProtectionFinalizer) &&
		lease.Status.Phase == macpool.MacLeasePhaseBound && lease.Status.ExpiresAt == nil {
		return nil
	}
	// One write: binding is the only work a Pod costs after its create.
	if err := c.config.Binder.Bind(ctx, bound); err != nil {
		return ignoreConflict(fmt.Errorf("binding lease %s/%s to %s %s: %w", lease.Namespace, lease.Name, h.kind, h.name, err))
	}
	klog.V(2).InfoS("Bound MacLease", "lease", klog.KObj(lease), "owner", h.kind+"/"+h.name)
	c.config.Metrics.CountLeaseOperation(metrics.LeaseBind)
	return nil
}

// vmsUnknown tells a VM lease while VMs are not watched (KubeVirt not
// installed yet, gone, or its caches still syncing): nothing about its VM
// can be decided then.
func (c *Controller) vmsUnknown(lease *macpool.MacLease) bool {
	if lease.Spec.Owner == nil || lease.Spec.Owner.Kind != kubevirt.KindVirtualMachine {
		return false
	}
	vms, _ := c.vmCaches()
	return vms == nil
}

// syncDeleted lets a deleted lease go once nothing in its namespace carries
// or reports its MAC: until then the lease, Terminating, keeps the MAC from
// the allocator. Whoever deleted it (a user, the garbage collector, the
// namespace controller, this controller's own release), the proof is the
// one a release makes.
func (c *Controller) syncDeleted(ctx context.Context, lease *macpool.MacLease) error {
	if !slices.Contains(lease.Finalizers, macpool.MACProtectionFinalizer) {
		return nil
	}
	key := lease.Namespace + "/" + lease.Name
	if wait := c.reservedFor(lease); wait > 0 {
		// Its owner may still be on its way through kube-apiserver: a
		// deleted reservation keeps the MAC as long as it would have,
		// whoever deleted it. The webhook's own cleanup of a denied
		// admission does not wait; it removes the finalizer itself.
		klog.V(2).InfoS("Keeping a deleted reservation until it expires", "lease", key, "expiresIn", wait)
		c.leaseQueue.AddAfter(key, wait)
		return nil
	}
	if c.vmsUnknown(lease) {
		// Whether a VM carries the MAC is unknown until VMs are watched;
		// watching them queues the lease again.
		klog.V(2).InfoS("Keeping a deleted VirtualMachine lease while VirtualMachines are not watched", "lease", key)
		return nil
	}
	if c.waitForVMs(key) {
		// Whatever its owner kind says (a namespace admin may have edited
		// it): holdersCarrying and stillReported below see no VM yet.
		klog.V(2).InfoS("Keeping a deleted lease until the VirtualMachine caches have synced", "lease", key)
		return nil
	}
	if holders := c.holdersCarrying(lease.Namespace, lease.Spec.MACAddress); len(holders) > 0 {
		// The holder's deletion or change queues the lease again.
		klog.V(2).InfoS("Keeping a deleted lease whose MAC an object still carries", "lease", key, "holder", holders[0].kind+"/"+holders[0].name)
		return nil
	}
	if c.stillReported(lease.Namespace, lease.Spec.MACAddress) {
		klog.V(2).InfoS("Keeping a deleted lease whose MAC a VMI or virt-launcher pod still reports", "lease", key)
		return nil
	}
	if wait, err := c.hold(ctx, lease); err != nil || wait > 0 {
		// A Pod removed while its node may still run it (orphans.go).
		if err == nil {
			c.leaseQueue.AddAfter(key, wait)
		}
		return err
	}
	released := lease.DeepCopy()
	released.Finalizers = macpool.WithoutMACProtection(released.Finalizers)
	// With the last finalizer gone the storage deletes the lease in the
	// same write.
	if err := c.config.Binder.Bind(ctx, released); err != nil && !apierrors.IsNotFound(err) {
		return ignoreConflict(fmt.Errorf("letting deleted lease %s go: %w", key, err))
	}
	klog.V(2).InfoS("Let a deleted MacLease go: nothing carries its MAC", "lease", key, "mac", lease.Spec.MACAddress)
	return nil
}

// admissionInFlight bounds how long an object admitted by a webhook can
// take to reach storage: kube-apiserver's default request timeout, after
// which the request that created a reservation has ended either way.
const admissionInFlight = time.Minute

// reservedFor is how long a lease remains a reservation for an owner still
// to come: until the expiry of a Reserved lease, 0 for any other. In a
// namespace being deleted, no object is admitted any more
// (NamespaceLifecycle), so only one admitted before can still be on its way,
// for at most admissionInFlight after its lease was made: the namespace's
// deletion then waits for that, not for the whole reservation TTL (five
// minutes by default).
func (c *Controller) reservedFor(lease *macpool.MacLease) time.Duration {
	if lease.Status.Phase != macpool.MacLeasePhaseReserved || lease.Status.ExpiresAt == nil {
		return 0
	}
	until := lease.Status.ExpiresAt.Time
	if inFlight := lease.CreationTimestamp.Add(admissionInFlight); c.namespaceDeleted(lease.Namespace) && inFlight.Before(until) {
		until = inFlight
	}
	return max(until.Sub(c.now()), 0)
}

// namespaceDeleted tells a namespace being deleted, or gone.
func (c *Controller) namespaceDeleted(name string) bool {
	obj, exists, err := c.namespaces.GetByKey(name)
	if err != nil {
		return false
	}
	return !exists || obj.(*corev1.Namespace).DeletionTimestamp != nil
}

// ignoreConflict drops a conflict: the informer was behind, and the event of
// the newer version queues the lease again.
func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// sameOwnerReferences compares owner references by UID, in order: the
// owner comes first.
func sameOwnerReferences(a, b []metav1.OwnerReference) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].UID != b[i].UID {
			return false
		}
	}
	return true
}

// remove deletes a lease, but only the version this decision was made on:
// a lease re-created or re-bound meanwhile is left alone.
func (c *Controller) remove(ctx context.Context, lease *macpool.MacLease, operation metrics.LeaseOperation, why string) error {
	if c.waitForVMs(lease.Namespace + "/" + lease.Name) {
		// The proof that nothing carries or reports the MAC looked at no VM
		// or VMI; a lease without the protection finalizer (made by an
		// earlier version) would be gone with this delete.
		klog.V(2).InfoS("Keeping a lease to release until the VirtualMachine caches have synced", "lease", klog.KObj(lease), "reason", why)
		return nil
	}
	uid, version := lease.UID, lease.ResourceVersion
	err := c.config.Leases.MacpoolV1alpha1().MacLeases(lease.Namespace).Delete(ctx, lease.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &version},
	})
	switch {
	case err == nil:
		klog.InfoS("Released MacLease", "lease", klog.KObj(lease), "mac", lease.Spec.MACAddress, "reason", why)
		c.config.Metrics.CountLeaseOperation(operation)
		return nil
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		// Gone already, or changed: the change queues it again.
		return nil
	default:
		return fmt.Errorf("releasing lease %s/%s: %w", lease.Namespace, lease.Name, err)
	}
}
