package lease

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

func (c *Controller) onLease(old, obj interface{}) {
	c.trackLease(old, obj)
	if obj == nil {
		if lease, ok := old.(*macpool.MacLease); ok {
			c.queueHoldersOf(lease)
		}
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(obj.(*macpool.MacLease)); err == nil {
		c.leaseQueue.Add(key)
	}
}

// queueHoldersOf queues for adoption every object that still carries a
// deleted lease's MAC: a lease deleted by hand, or expired while another
// object took the MAC, is leased again at once rather than when that object
// next changes (these informers never resync).
//
// Objects of every namespace: the lease's release proves only that nothing
// of its own namespace carries the MAC. Under conflictPolicy Warn, the
// default, an object of another namespace that asked for the MAC while this
// lease held it was admitted with a warning and got no lease; left alone, it
// would run on unleased and the allocator would hand its MAC to a third
// object, which never asked for it and gets no warning.
func (c *Controller) queueHoldersOf(lease *macpool.MacLease) {
	for _, h := range c.holdersCarrying(metav1.NamespaceAll, lease.Spec.MACAddress) {
		c.adoptQueue.Add(objectKey{kind: h.kind, namespace: h.namespace, name: h.name})
	}
}

// onPod handles a Pod event as PodEvents hands it on, after noting it in
// podsOnNodes.
func (c *Controller) onPod(old, obj interface{}) {
	var before, after *holder
	if old != nil {
		before = podHolder(podMetadata(old.(*corev1.Pod)))
	}
	if obj != nil {
		after = podHolder(podMetadata(obj.(*corev1.Pod)))
	}
	c.onPodHolders(old, obj, before, after)
}

// onPodHolders is onPod with the holders of the Pod before and after the
// event, read once by PodEvents.
func (c *Controller) onPodHolders(old, obj interface{}, before, after *holder) {
	if obj != nil {
		pod := obj.(*corev1.Pod)
		if finished(pod) {
			// Its network is torn down: no longer a collision.
			c.forgetCollisions(podMetadata(pod))
		} else {
			c.observePodCollisions(podMetadata(pod), after)
		}
	} else if old != nil {
		c.forgetCollisions(podMetadata(old.(*corev1.Pod)))
	}
	c.holderChanged(before, after)
	c.queueReported(old, obj)
}

func (c *Controller) onVM(old, obj interface{}) {
	var before, after *holder
	if old != nil {
		before, _ = vmHolder(old.(*unstructured.Unstructured))
	}
	if obj != nil {
		after, _ = vmHolder(obj.(*unstructured.Unstructured))
	}
	c.holderChanged(before, after)
}

func (c *Controller) onVMI(old, obj interface{}) {
	c.queueReported(old, obj)
	if obj == nil {
		c.forgetCollisions(old.(*unstructured.Unstructured))
	} else {
		c.observeVMICollisions(obj.(*unstructured.Unstructured))
	}
	c.observeLaunchersOf(old, obj)
}

// holderChanged queues the leases of every MAC the object carried or
// carries (to bind or release them) and the object itself (to adopt MACs
// that have no lease).
func (c *Controller) holderChanged(before, after *holder) {
	for _, h := range []*holder{before, after} {
		if h == nil {
			continue
		}
		for address := range h.interfaces {
			c.queueLeasesOf(address)
		}
	}
	if after != nil {
		c.adoptQueue.Add(objectKey{kind: after.kind, namespace: after.namespace, name: after.name})
	}
}

// queueLeasesOf queues the lease of a MAC, in whatever namespace it is.
func (c *Controller) queueLeasesOf(address string) {
	parsed, err := mac.Parse(address)
	if err != nil {
		return
	}
	leases, err := c.leasesNamed(parsed.Name())
	if err != nil {
		return
	}
	for _, obj := range leases {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			c.leaseQueue.Add(key)
		}
	}
}

// trackLease feeds kmp_leases and the oldest reservation's expiry from one
// lease event: a map update, never a list.
func (c *Controller) trackLease(old, obj interface{}) {
	if c.leaseTracker == nil {
		return
	}
	var before, after *metrics.LeaseState
	var key string
	for _, item := range []struct {
		object interface{}
		state  **metrics.LeaseState
	}{{old, &before}, {obj, &after}} {
		lease, ok := item.object.(*macpool.MacLease)
		if !ok || lease == nil {
			continue
		}
		*item.state = leaseState(lease)
		key, _ = cache.MetaNamespaceKeyFunc(lease)
	}
	c.leaseTracker.Update(key, before, after)
}

// leaseState is what the lease gauges count of a lease.
func leaseState(lease *macpool.MacLease) *metrics.LeaseState {
	state := &metrics.LeaseState{Phase: string(lease.Status.Phase)}
	switch {
	case lease.Spec.Owner == nil:
		state.Phase = metrics.LeasePhaseStatic
	case state.Phase == "":
		state.Phase = metrics.LeasePhasePending
	}
	if lease.Status.ExpiresAt != nil {
		state.ExpiresAt = lease.Status.ExpiresAt.Time
	}
	return state
}

// onNamespace queues the deleted reservations of a namespace whose deletion
// begins: they wait for a shorter time then (reservedFor). A walk of every
// lease, as onPool does, for an event that comes once per namespace.
func (c *Controller) onNamespace(old, obj interface{}) {
	before, ok := old.(*corev1.Namespace)
	if !ok || before.DeletionTimestamp != nil {
		return
	}
	if after, ok := obj.(*corev1.Namespace); ok && after.DeletionTimestamp == nil {
		return
	}
	for _, obj := range c.leases.List() {
		lease, ok := obj.(*macpool.MacLease)
		if !ok || lease.Namespace != before.Name || lease.DeletionTimestamp == nil || lease.Status.Phase != macpool.MacLeasePhaseReserved {
			continue
		}
		c.leaseQueue.Add(lease.Namespace + "/" + lease.Name)
	}
}
