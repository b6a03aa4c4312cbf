package lease

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
)

// Under the default conflictPolicy Warn, a Pod or VM of another namespace
// may ask for a MAC that a lease here holds: it is admitted with a warning
// and gets no lease of its own. When the lease here is released, that
// object still carries the MAC and must be leased at once. Before, nothing
// looked at it until it next changed (no informer resyncs), and meanwhile
// the allocator could hand the freed MAC to a third object, which never
// asked for it and got no warning.
func TestReleasedLeaseIsAdoptedByAHolderOfAnotherNamespace(t *testing.T) {
	const address, otherNamespace = "02:00:00:00:00:71", "tenant-b"
	warnedPod := testPod("b", address, corev1.PodRunning)
	warnedPod.Namespace, warnedPod.UID = otherNamespace, types.UID("pod-b")
	// A VM that does not run: nothing but its spec carries the MAC.
	warnedVM := testVM(t, "b", address)
	warnedVM.SetNamespace(otherNamespace)
	for _, test := range []struct {
		name      string
		kubeVirt  bool
		kube      []runtime.Object
		kubeVirts []runtime.Object
		kind      string
	}{
		{name: "a running Pod", kube: []runtime.Object{warnedPod}, kind: kindPod},
		{name: "a stopped VirtualMachine", kubeVirt: true, kubeVirts: []runtime.Object{warnedVM}, kind: kubevirt.KindVirtualMachine},
	} {
		t.Run(test.name, func(t *testing.T) {
			lease := testLease(address, kindPod, "a", v1alpha1.MacLeasePhaseBound, nil)
			lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: kindPod, Name: "a", UID: "pod-a"}}
			kube := append([]runtime.Object{testPod("a", address, corev1.PodRunning),
				&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: otherNamespace}}}, test.kube...)
			h := newHarness(t, test.kubeVirt, []runtime.Object{lease}, kube, test.kubeVirts...)
			h.run()
			h.eventually("the lease to be bound to pod a", func() bool {
				l := h.lease(lease.Name)
				return l != nil && l.Status.Phase == v1alpha1.MacLeasePhaseBound && len(l.OwnerReferences) == 1
			})
			if test.kubeVirt {
				h.eventually("the VM caches to sync", func() bool { vms, _ := h.controller.vmCaches(); return vms != nil })
			}

			h.deletePod("a")
			h.eventually("the MAC to be leased to "+test.kind+" b of "+otherNamespace, func() bool {
				l, err := h.leases.MacpoolV1alpha1().MacLeases(otherNamespace).Get(context.Background(), lease.Name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return false
				}
				if err != nil {
					t.Fatal(err)
				}
				return l.Spec.Owner != nil && l.Spec.Owner.Kind == test.kind && l.Spec.Owner.Name == "b" && l.Status.Phase == v1alpha1.MacLeasePhaseBound
			})
			if h.lease(lease.Name) != nil {
				t.Errorf("pod a's lease should be released")
			}
		})
	}
}
