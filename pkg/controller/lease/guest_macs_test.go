package lease

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/retention"
)

// lonelyVMI is a standalone VMI (no VirtualMachine) whose guest runs with
// address on the interface of its spec that has it.
func lonelyVMI(address string) *unstructured.Unstructured {
	vmi := testVMI("lonely", address)
	vmi.Object["spec"] = map[string]interface{}{"domain": map[string]interface{}{"devices": map[string]interface{}{
		"interfaces": []interface{}{map[string]interface{}{"name": "default", "macAddress": address}}}}}
	return vmi
}

// launcherOf is a running Pod carrying address, owned by the VMI name/uid as
// KubeVirt makes its launchers.
func launcherOf(podName, address, vmi string, uid types.UID) *corev1.Pod {
	pod := testPod(podName, address, corev1.PodRunning)
	pod.GenerateName = "virt-launcher-" + vmi + "-"
	pod.Labels = map[string]string{"kubevirt.io": "virt-launcher"}
	pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Name: vmi, UID: uid}}
	return pod
}

// A standalone VMI's MAC is leased to its first virt-launcher Pod. After a
// live migration that Pod is gone and the target launcher carries the MAC:
// the lease passes to it at once, with or without retention, so that the
// webhook finds the guest's MAC held by a launcher of the VMI at the next
// migration. Kept under the gone launcher's name (Retained, or Bound while
// the VMI reports the MAC), it made the next migration's target a conflict.
// A Pod that only claims to be a launcher takes nothing early.
func TestStandaloneVMILeaseFollowsItsLaunchers(t *testing.T) {
	const address = "02:00:00:00:00:61"
	const gone, target = "virt-launcher-lonely-aaaaa", "virt-launcher-lonely-bbbbb"
	vmi := lonelyVMI(address)
	tests := []struct {
		name      string
		retention time.Duration
		pod       *corev1.Pod
		vmi       *unstructured.Unstructured
		// optIn: the gone launcher opted in to retention, as its lease
		// records.
		optIn bool
		// retained: the lease was Retained under the gone launcher's name
		// before it could pass.
		retained bool
		// owner is the gone Pod's name; a launcher's of the VMI when
		// empty.
		owner string
		moves bool
	}{
		{name: "retention, the VMI's launcher", retention: time.Hour, pod: launcherOf(target, address, "lonely", vmi.GetUID()), vmi: vmi, moves: true},
		{name: "retention, launchers opted in", retention: time.Hour, optIn: true, pod: func() *corev1.Pod {
			p := launcherOf(target, address, "lonely", vmi.GetUID())
			p.Annotations[retention.ObjectAnnotation] = retention.OptIn
			return p
		}(), vmi: vmi, moves: true},
		{name: "retention, Retained already", retention: time.Hour, retained: true,
			pod: launcherOf(target, address, "lonely", vmi.GetUID()), vmi: vmi, moves: true},
		{name: "no retention, the VMI's launcher", pod: launcherOf(target, address, "lonely", vmi.GetUID()), vmi: vmi, moves: true},
		{name: "retention, owned by the VMI's name with another UID", retention: time.Hour,
			pod: launcherOf(target, address, "lonely", "uid-forged"), vmi: vmi},
		{name: "no retention, owned by the VMI's name with another UID",
			pod: launcherOf(target, address, "lonely", "uid-forged"), vmi: vmi},
		{name: "retention, a launcher of a VMI that does not report the MAC", retention: time.Hour,
			pod: launcherOf(target, address, "lonely", vmi.GetUID()), vmi: lonelyVMI("02:00:00:00:00:62")},
		{name: "retention, a launcher of a VirtualMachine's VMI", retention: time.Hour,
			pod: launcherOf(target, address, "lonely", vmi.GetUID()), vmi: func() *unstructured.Unstructured {
				owned := lonelyVMI(address)
				owned.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "lonely", UID: "vm-lonely"}})
				return owned
			}()},
		// A collision the pool warned of: the launcher carries the MAC of
		// a StatefulSet's Pod, whose name comes back.
		{name: "retention, the gone Pod no launcher of the VMI", retention: time.Hour, owner: "db-0",
			pod: launcherOf(target, address, "lonely", vmi.GetUID()), vmi: vmi},
		{name: "retention, the gone Pod a launcher of another VMI", retention: time.Hour, owner: "virt-launcher-other-aaaaa",
			pod: launcherOf(target, address, "lonely", vmi.GetUID()), vmi: vmi},
		{name: "retention, a launcher label and nothing else", retention: time.Hour,
			pod: func() *corev1.Pod {
				p := launcherOf(target, address, "lonely", vmi.GetUID())
				p.OwnerReferences = nil
				return p
			}(), vmi: vmi},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owner := gone
			if tt.owner != "" {
				owner = tt.owner
			}
			lease := pooledLease(address, kindPod, owner, v1alpha1.MacLeasePhaseBound, nil)
			if tt.retained {
				until := metav1.NewTime(time.Now().Add(time.Hour))
				lease.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseRetained, ExpiresAt: &until}
			}
			if tt.optIn {
				// Bound as the webhook and the controller leave it: nothing
				// but the owner's name tells it from the target's lease.
				lease.Annotations = map[string]string{retention.ObjectAnnotation: retention.OptIn}
				lease.Finalizers = []string{macpool.MACProtectionFinalizer}
			}
			h := newRetentionHarness(t, true, []runtime.Object{lease, stickyPool(tt.retention)}, []runtime.Object{tt.pod}, tt.vmi)
			h.run()
			h.eventually("the VM caches to sync", func() bool { _, vmis := h.controller.vmCaches(); return vmis != nil })
			if tt.moves {
				h.eventually("the lease to be bound to the target launcher", func() bool {
					l := h.lease(lease.Name)
					return l != nil && l.Status.Phase == v1alpha1.MacLeasePhaseBound && l.Spec.Owner.Name == target
				})
				if l := h.lease(lease.Name); !tt.optIn && (len(l.OwnerReferences) == 0 || l.OwnerReferences[0].UID != tt.pod.UID) {
					t.Errorf("owner references %v, want the target launcher first", l.OwnerReferences)
				}
				return
			}
			if tt.retention > 0 {
				h.eventually("the lease to be Retained", func() bool { return retained(h.lease(lease.Name)) })
			}
			h.consistently("the lease under the gone Pod's name", func() bool {
				l := h.lease(lease.Name)
				return l != nil && l.Spec.Owner.Name == owner
			})
		})
	}
}

// The MAC a standalone VMI's guest runs with is the one its status reports
// on the spec's interface that has it. A status is its writer's word: an
// interface the spec does not have proves nothing, whatever MAC it reports,
// 00:00:00:00:00:00 included (the MAC a name missing from the spec read as).
func TestStandaloneVMIStatusOnAnInterfaceOfNoSpecMovesNoLease(t *testing.T) {
	const address = "00:00:00:00:00:00"
	const gone, target = "virt-launcher-lonely-aaaaa", "virt-launcher-lonely-bbbbb"
	vmi := lonelyVMI("02:00:00:00:00:63")
	vmi.Object["status"] = map[string]interface{}{"phase": "Running",
		"interfaces": []interface{}{map[string]interface{}{"name": "ghost", "mac": address}}}
	lease := pooledLease(address, kindPod, gone, v1alpha1.MacLeasePhaseBound, nil)
	h := newRetentionHarness(t, true, []runtime.Object{lease, stickyPool(time.Hour)},
		[]runtime.Object{launcherOf(target, address, "lonely", vmi.GetUID())}, vmi)
	h.staysWithTheGoneLauncher(lease.Name, gone)
}

// The lease of a gone Pod passes only to a launcher of its own namespace: a
// standalone VMI of another namespace whose launcher carries the MAC (under
// conflictPolicy Warn, which admits it with a warning) and whose status
// reports it takes nothing, whatever the names and UIDs it copies.
func TestStandaloneVMIOfAnotherNamespaceTakesNoLease(t *testing.T) {
	const address, otherNamespace = "02:00:00:00:00:64", "tenant-b"
	const gone, target = "virt-launcher-lonely-aaaaa", "virt-launcher-lonely-bbbbb"
	vmi := lonelyVMI(address)
	vmi.SetNamespace(otherNamespace)
	pod := launcherOf(target, address, "lonely", vmi.GetUID())
	pod.Namespace = otherNamespace
	lease := pooledLease(address, kindPod, gone, v1alpha1.MacLeasePhaseBound, nil)
	h := newRetentionHarness(t, true, []runtime.Object{lease, stickyPool(time.Hour)},
		[]runtime.Object{pod, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: otherNamespace}}}, vmi)
	h.staysWithTheGoneLauncher(lease.Name, gone)
}

// staysWithTheGoneLauncher runs the controller and checks that the lease
// name, of the gone Pod gone, becomes Retained under gone's name and stays
// there: no launcher takes it.
func (h *harness) staysWithTheGoneLauncher(name, gone string) {
	h.t.Helper()
	h.run()
	h.eventually("the VM caches to sync", func() bool { _, vmis := h.controller.vmCaches(); return vmis != nil })
	h.eventually("the lease to be Retained", func() bool { return retained(h.lease(name)) })
	h.consistently("the lease under the gone launcher's name", func() bool {
		l := h.lease(name)
		return l != nil && l.Spec.Owner.Name == gone
	})
}
