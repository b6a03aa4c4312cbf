package lease

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/collision"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// eventComponent is the event source of the original Kubemacpool.
const eventComponent = "kubemacpool"

// observePodCollisions tracks a Pod from its creation until it is deleted.
// Phases are not in a Pod's metadata, and the metadata-only informer is
// what keeps the controller small on clusters with many pods. The
// network-status annotation is no sign of being on the network: the pod's
// owner can write or remove it, and removing it must not hide a collision.
// A virt-launcher pod leaves to its VMI, whose status reports them, the MACs
// that VMI has (in its spec or status), and only when that VMI exists with
// the UID the pod's owner reference names. Its other MACs are its own: a
// tenant who may create VMIs can name its own real VMI in a plain pod's
// owner references, and the pod's MACs must not vanish from collision
// detection for that.
func (c *Controller) observePodCollisions(pod *metav1.PartialObjectMetadata, h *holder) {
	key := collision.PodKey(pod.Namespace, pod.Name)
	if h == nil || pod.DeletionTimestamp != nil || !c.managed(kindPod, pod.Namespace) {
		c.untrack(key, pod.UID)
		return
	}
	holdings := h.networks
	if vmi := c.launcherVMI(pod); vmi != nil {
		_, reported := reportedMACs(vmi)
		holdings = withoutMACs(holdings, reported)
	}
	if len(holdings) == 0 {
		c.untrack(key, pod.UID)
		return
	}
	c.references.Store(key, reference("v1", kindPod, pod.Namespace, pod.Name, pod.UID))
	change, _ := c.collisions.UpdateHoldings(key, string(pod.UID), c.resolveNetworks(holdings), nil)
	c.report(change)
}

// withoutMACs returns holdings without those whose MAC is one of macs
// (canonical form); holdings itself when there is nothing to drop.
func withoutMACs(holdings []collision.Holding, macs []string) []collision.Holding {
	if len(macs) == 0 {
		return holdings
	}
	drop := make(map[string]bool, len(macs))
	for _, address := range macs {
		drop[address] = true
	}
	kept := make([]collision.Holding, 0, len(holdings))
	for _, holding := range holdings {
		if parsed, err := mac.Parse(holding.MAC); err != nil || !drop[parsed.String()] {
			kept = append(kept, holding)
		}
	}
	return kept
}

// observeLaunchersOf looks again at the pods of vmi's namespace that carry a
// MAC the VMI had or has: which of a launcher pod's MACs are left to its VMI
// depends on the VMI (an interface plugged or unplugged), whose events may
// come before or after the pod's.
func (c *Controller) observeLaunchersOf(old, obj interface{}) {
	seen := map[string]bool{}
	for _, o := range []interface{}{old, obj} {
		if o == nil {
			continue
		}
		namespace, macs := reportedMACs(o)
		for _, address := range macs {
			objects, err := c.pods.ByIndex(macIndex, address)
			if err != nil {
				continue
			}
			for _, object := range objects {
				pod, ok := object.(*corev1.Pod)
				if !ok || pod.Namespace != namespace || seen[pod.Name] || kubevirt.OwnerReference(pod.OwnerReferences, kubevirt.KindVirtualMachineInstance) == nil {
					continue
				}
				seen[pod.Name] = true
				if !finished(pod) {
					meta := podMetadata(pod)
					c.observePodCollisions(meta, podHolder(meta))
				}
			}
		}
	}
}

// observeVMICollisions tracks a Running VirtualMachineInstance by the MACs
// its status reports, which are what is on the wire, each on the network
// its spec gives the interface (see vmiHoldings).
func (c *Controller) observeVMICollisions(vmi *unstructured.Unstructured) {
	key := collision.VMIKey(vmi.GetNamespace(), vmi.GetName())
	phase, _, _ := unstructured.NestedString(vmi.Object, "status", "phase")
	if phase != "Running" || vmi.GetDeletionTimestamp() != nil || !c.managed(kubevirt.KindVirtualMachineInstance, vmi.GetNamespace()) {
		c.untrack(key, vmi.GetUID())
		return
	}
	macs := c.resolveNetworks(vmiHoldings(vmi))
	// The source and target of a decentralized migration share their MACs
	// by design and are told apart by the migration they belong to.
	var migrations []string
	for _, side := range []string{"sourceState", "targetState"} {
		if id, found, _ := unstructured.NestedString(vmi.Object, "status", "migrationState", side, "migrationUID"); found {
			migrations = append(migrations, id)
		}
	}
	c.references.Store(key, reference("kubevirt.io/v1", kubevirt.KindVirtualMachineInstance, vmi.GetNamespace(), vmi.GetName(), vmi.GetUID()))
	change, unparseable := c.collisions.UpdateHoldings(key, string(vmi.GetUID()), macs, migrations)
	if len(unparseable) > 0 {
		klog.V(2).InfoS("Ignoring unparseable MACs in a VMI status", "vmi", key, "macs", unparseable)
	}
	c.report(change)
}

// forgetCollisions drops a deleted object.
func (c *Controller) forgetCollisions(obj metav1.Object) {
	var key string
	switch obj.(type) {
	case *metav1.PartialObjectMetadata:
		key = collision.PodKey(obj.GetNamespace(), obj.GetName())
	default:
		key = collision.VMIKey(obj.GetNamespace(), obj.GetName())
	}
	c.untrack(key, obj.GetUID())
}

// untrack stops tracking an object, unless key now names a newer object
// with another UID (a VM rebooted into a new VMI of the same name).
func (c *Controller) untrack(key string, uid types.UID) {
	change := c.collisions.RemoveIfUID(key, string(uid))
	if ref, ok := c.references.Load(key); ok && ref.(*corev1.ObjectReference).UID == uid {
		c.references.Delete(key)
	}
	c.report(change)
}

// report updates the gauges and warns about collisions that started or
// gained a participant. The event on each object names only the objects of
// its own namespace, which its users may read; the event on the MacPool of
// the MAC only counts them (it is stored in namespace "default"), and the
// log names them all.
func (c *Controller) report(change collision.Change) {
	if change.Empty() {
		return
	}
	c.config.Metrics.SetCollisions(c.collisions.Counts())
	for _, transitions := range [][]collision.Transition{change.Started, change.Changed} {
		for _, transition := range transitions {
			klog.InfoS("MAC collision", "mac", transition.MAC, "objects", transition.Keys)
			c.recorder.Event(c.poolOf(transition.MAC), corev1.EventTypeWarning, collision.EventReason, collision.PoolEventMessage(transition.MAC, transition.Keys))
			for _, key := range transition.Keys {
				if ref, ok := c.references.Load(key); ok {
					message := collision.NamespaceEventMessage(transition.MAC, transition.Keys, collision.KeyNamespace(key))
					c.recorder.Event(ref.(runtime.Object), corev1.EventTypeWarning, collision.EventReason, message)
				}
			}
		}
	}
}

// poolOf is the MacPool a collision event for address is recorded on: the
// pool of its lease, or the default pool for an address without one.
func (c *Controller) poolOf(address string) *corev1.ObjectReference {
	pool := macpool.DefaultPoolName
	if parsed, err := mac.Parse(address); err == nil {
		if leases, err := c.leasesNamed(parsed.Name()); err == nil {
			for _, obj := range leases {
				if name := obj.(*macpool.MacLease).Spec.Pool; name != "" {
					pool = name
				}
			}
		}
	}
	return &corev1.ObjectReference{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "MacPool", Name: pool}
}

// reference is what an event is recorded on.
func reference(apiVersion, kind, namespace, name string, uid types.UID) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: apiVersion, Kind: kind, Namespace: namespace, Name: name, UID: uid}
}
