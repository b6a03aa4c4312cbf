package lease

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// nextLauncher returns the virt-launcher Pod to which the lease of a gone
// Pod passes at once: the MAC of a standalone VMI's guest is leased to the
// launcher the VMI first ran in, and a live migration moves the guest, with
// the MAC, to another launcher before the first one goes. Kept under the
// gone launcher's name (Retained, or Bound while the VMI reports the MAC),
// the lease would be nobody's that the Pod webhook recognises: the target
// of the next migration carries the guest's MAC only while a launcher of
// the VMI holds it (heldByLaunchers), and would meet the pool's
// conflictPolicy instead. A launcher's name is generated, so no object of
// the name ever comes back for a retention to wait for.
//
// Only a Bound or Retained lease of a Pod that no longer exists, named as a
// launcher of the VMI (kubevirt.IsLauncherName), passes, and only when
// every object of the lease's namespace that carries the MAC is a
// Pod whose owner reference names, with its UID, one and the same VMI that
// no VirtualMachine owns and that runs the guest with the MAC (runsWith).
// Anything else (a second VMI, a Pod that is no launcher, a VirtualMachine,
// whose lease its launcher must never take) is left to the rules that held
// before. Passing frees nothing: the lease keeps the MAC throughout.
//
// wait is true while the VMI caches have not synced and a Pod carries the
// MAC: whether it is a launcher is unknown, and the lease is left as it is
// until the caches sync (waitForVMs queues it again).
func (c *Controller) nextLauncher(key string, lease *macpool.MacLease) (next *holder, wait bool) {
	if lease.Spec.Owner.Kind != kindPod || c.ownerExists(lease) {
		return nil, false
	}
	switch lease.Status.Phase {
	case macpool.MacLeasePhaseBound, macpool.MacLeasePhaseRetained:
	default:
		// A reservation waits for the object it was made for.
		return nil, false
	}
	holders := c.holdersCarrying(lease.Namespace, lease.Spec.MACAddress)
	if len(holders) == 0 {
		return nil, false
	}
	if c.waitForVMs(key) {
		return nil, true
	}
	// Read again: the VM caches may have synced since the first read,
	// which then missed a VirtualMachine that carries the MAC too.
	holders = c.holdersCarrying(lease.Namespace, lease.Spec.MACAddress)
	var vmi *unstructured.Unstructured
	var candidates []*holder
	var created = map[*holder]metav1.Time{}
	for _, h := range holders {
		if h.kind != kindPod {
			return nil, false
		}
		obj, exists, err := c.pods.GetByKey(h.namespace + "/" + h.name)
		if err != nil || !exists {
			return nil, false
		}
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return nil, false
		}
		if finished(pod) {
			// Its network is torn down: it carries the MAC in its
			// annotation only (a migration's source, Completed).
			continue
		}
		owner := c.launcherVMI(podMetadata(pod))
		if owner == nil || vmi != nil && owner.GetUID() != vmi.GetUID() {
			return nil, false
		}
		vmi = owner
		if pod.DeletionTimestamp == nil {
			candidates = append(candidates, h)
			created[h] = pod.CreationTimestamp
		}
	}
	if vmi == nil || len(candidates) == 0 || kubevirt.OwnerReference(vmi.GetOwnerReferences(), kubevirt.KindVirtualMachine) != nil ||
		!runsWith(vmi, lease.Spec.MACAddress) {
		return nil, false
	}
	if !kubevirt.IsLauncherName(lease.Spec.Owner.Name, vmi.GetName()) {
		// The gone Pod was no launcher of this VMI (a StatefulSet's db-0
		// whose MAC the launcher carries in a collision a pool warned of):
		// its name may come back, and its retention waits for it.
		return nil, false
	}
	// The oldest launcher first, by name for a tie: during a migration both
	// carry the MAC, and the source is the one that runs the guest. The
	// choice is stable, so that the lease does not move back and forth.
	sort.Slice(candidates, func(i, j int) bool {
		a, b := created[candidates[i]], created[candidates[j]]
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return candidates[i].name < candidates[j].name
	})
	return candidates[0], false
}

// runsWith tells whether vmi's guest runs with address, as the Pod webhook
// reads it (kubevirt.RunningMACs).
func runsWith(vmi *unstructured.Unstructured, address string) bool {
	want, err := mac.Parse(address)
	return err == nil && kubevirt.RunningMACs(vmi)[want]
}
