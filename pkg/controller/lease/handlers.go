package lease

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

func (c *Controller) onLease(_, obj interface{}) {
	if obj == nil {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(obj.(*v1alpha1.MacLease)); err == nil {
		c.leaseQueue.Add(key)
	}
}

func (c *Controller) onPod(old, obj interface{}) {
	var before, after *holder
	if old != nil {
		before = podHolder(old.(*metav1.PartialObjectMetadata))
	}
	if obj != nil {
		pod := obj.(*metav1.PartialObjectMetadata)
		after = podHolder(pod)
		c.observePodCollisions(pod, after)
	} else if old != nil {
		c.forgetCollisions(old.(*metav1.PartialObjectMetadata))
	}
	c.holderChanged(before, after)
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
	if obj == nil {
		c.forgetCollisions(old.(*unstructured.Unstructured))
		return
	}
	c.observeVMICollisions(obj.(*unstructured.Unstructured))
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
	leases, err := c.leases.ByIndex(leaseNameIndex, parsed.Name())
	if err != nil {
		return
	}
	for _, obj := range leases {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			c.leaseQueue.Add(key)
		}
	}
}
