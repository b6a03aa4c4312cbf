package lease

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/multus"
)

// A tenant may create VMIs in its own namespace and writes the owner
// references of its own Pods: a Pod that names the tenant's real VMI is a
// "proven" launcher, but only the MACs that VMI reports are left to it.
// Any other MAC of the Pod still collides, so that the namespace that holds
// it hears of the collision.
func TestPodNamingARealVMIHidesNoOtherMAC(t *testing.T) {
	const (
		vmiMAC    = "02:00:00:00:00:01"
		stolenMAC = "02:00:00:00:00:99"
	)
	h := newHarness(t, false, nil, nil)
	for _, name := range []string{testNamespace, "victim"} {
		if err := h.controller.namespaces.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	vmi := testVMI("vm", vmiMAC)
	vmis := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := vmis.Add(vmi); err != nil {
		t.Fatal(err)
	}
	h.controller.kubeVirt = &kubeVirtWatch{vms: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}), vmis: vmis}
	h.controller.onVMI(nil, vmi)

	owner := []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Name: "vm", UID: vmi.GetUID()}}
	launcher := testPod("virt-launcher-vm-abcde", vmiMAC, corev1.PodRunning)
	launcher.OwnerReferences = owner
	h.controller.onPod(nil, launcher)
	if got := h.controller.collisions.Collisions(); len(got) != 0 {
		t.Fatalf("a launcher and its VMI with the same MAC: collisions %v, want none", got)
	}

	forged := testPod("not-a-launcher", stolenMAC, corev1.PodRunning)
	forged.OwnerReferences = owner
	forged.Annotations[multus.NetworksAnnotation] = `[{"name":"net1","mac":"` + vmiMAC + `"},{"name":"net2","mac":"` + stolenMAC + `"}]`
	h.controller.onPod(nil, forged)
	victim := testPod("victim", stolenMAC, corev1.PodRunning)
	victim.Namespace = "victim"
	h.controller.onPod(nil, victim)
	if got := h.controller.collisions.Collisions(); len(got[stolenMAC]) != 2 {
		t.Fatalf("collisions %v, want %s between the forged launcher and the victim", got, stolenMAC)
	}
	if got := h.controller.collisions.Collisions(); len(got[vmiMAC]) != 0 {
		t.Fatalf("collisions %v, want none on the VMI's own %s", got, vmiMAC)
	}
}

// A term (or a KubeVirt install) starts following VMIs after it has been
// handed every Pod: the launcher Pods were first looked at while no VMI was
// known, with every MAC their own. Once the VMI caches sync, a launcher
// leaves to its VMI the MACs the VMI reports, as it does for the events
// that come later: a running VM is no collision with its own launcher.
func TestALauncherIsNoCollisionWithItsVMIWhenATermStarts(t *testing.T) {
	const address = "02:00:00:00:00:71"
	vmi := testVMI("vm", address)
	launcher := testPod("virt-launcher-vm-abcde", address, corev1.PodRunning)
	launcher.Labels = map[string]string{"kubevirt.io": "virt-launcher"}
	launcher.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Name: "vm", UID: vmi.GetUID()}}
	h := newHarness(t, true, nil, []runtime.Object{launcher}, vmi)
	h.run()
	h.eventually("the VM caches to sync", func() bool { _, vmis := h.controller.vmCaches(); return vmis != nil })
	h.eventually("the VMI to be tracked", func() bool { return h.controller.collisions.Len() > 0 })
	h.eventually("no collision between the launcher and its VMI", func() bool { return len(h.controller.collisions.Collisions()) == 0 })
}
