package lease

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	versionedfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/metrics"
	"kubemacpool.io/kubemacpool/pkg/multus"
)

const testNamespace = "ns"

// harness runs a controller against client-go fakes.
type harness struct {
	t          *testing.T
	controller *Controller
	metrics    *metrics.Metrics
	leases     *versionedfake.Clientset
	// leaseInformer is shared like the server's; run starts it.
	leaseInformer cache.SharedIndexInformer
	kube          *kubefake.Clientset
	dynamic       *dynamicfake.FakeDynamicClient
	// startInformers starts the term's kube informers, as the server does
	// after New.
	startInformers func(stop <-chan struct{})
	// kubeVirt is what the KubeVirt probe answers, unless discoveryFails;
	// probed counts its calls.
	kubeVirt       atomic.Bool
	discoveryFails atomic.Bool
	probed         atomic.Int32
}

func newHarness(t *testing.T, kubeVirt bool, leases []runtime.Object, kube []runtime.Object, kubeVirtObjects ...runtime.Object) *harness {
	t.Helper()
	h := &harness{t: t, metrics: metrics.New()}
	h.kubeVirt.Store(kubeVirt)
	h.leases = versionedfake.NewSimpleClientset(leases...)
	h.kube = kubefake.NewClientset(append(kube, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}})...)
	h.dynamic = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		kubevirt.VirtualMachines:         "VirtualMachineList",
		kubevirt.VirtualMachineInstances: "VirtualMachineInstanceList",
	}, kubeVirtObjects...)
	h.leaseInformer = internalLeaseInformer(h.leases)
	config, start := withInformers(Config{
		Leases: h.leases, LeaseInformer: h.leaseInformer, Kube: h.kube, Metrics: h.metrics,
		KubeVirt: func(context.Context) (bool, error) {
			h.probed.Add(1)
			if h.discoveryFails.Load() {
				return false, errors.New("discovery failed")
			}
			return h.kubeVirt.Load(), nil
		},
		KubeVirtInterval:  20 * time.Millisecond,
		KubeVirtInformers: dynamicKubeVirtInformers(h.dynamic),
	})
	h.startInformers = start
	controller, err := New(config)
	if err != nil {
		t.Fatal(err)
	}
	h.controller = controller
	return h
}

// run starts the controller with one worker, so that leases are handled in
// the order they are queued, and returns once its caches have synced.
func (h *harness) run() {
	h.start()
	h.eventually("the controller to sync", func() bool { return h.probed.Load() > 0 })
}

// start starts the informers and the controller, which runs until the test
// ends, without waiting for anything.
func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go h.leaseInformer.RunWithContext(ctx)
	h.startInformers(ctx.Done())
	go func() {
		defer close(done)
		if err := h.controller.Run(ctx, 1); err != nil {
			h.t.Error(err)
		}
	}()
	h.t.Cleanup(func() { cancel(); <-done })
}

func (h *harness) eventually(what string, condition func() bool) {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return condition(), nil })
	if err != nil {
		h.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// consistently fails if condition turns false within a second.
func (h *harness) consistently(what string, condition func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if !condition() {
			h.t.Fatalf("%s changed", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holdVMList holds the VM informers' lists until the returned release is
// called, as the first list of a leadership term on a cluster with many VMs
// takes a while; the test's end releases them too.
func (h *harness) holdVMList() (release func()) {
	held := make(chan struct{})
	release = sync.OnceFunc(func() { close(held) })
	h.dynamic.PrependReactor("list", "virtualmachines", func(clienttesting.Action) (bool, runtime.Object, error) {
		<-held
		return false, nil, nil
	})
	h.t.Cleanup(release)
	return release
}

// protected tells whether the lease of address exists with the protection
// finalizer.
func (h *harness) protected(address string) bool {
	lease := h.lease(mustMAC(address).Name())
	return lease != nil && slices.Contains(lease.Finalizers, macpool.MACProtectionFinalizer)
}

func (h *harness) lease(name string) *v1alpha1.MacLease {
	lease, err := h.leases.MacpoolV1alpha1().MacLeases(testNamespace).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return lease
}

func testLease(address, kind, name string, phase v1alpha1.MacLeasePhase, expiresAt *metav1.Time) *v1alpha1.MacLease {
	parsed := mustMAC(address)
	return &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: parsed.Name(), Namespace: testNamespace, UID: types.UID("lease-" + parsed.Name())},
		Spec: v1alpha1.MacLeaseSpec{MACAddress: parsed.String(),
			Owner: &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: kind, Name: name}},
		Status: v1alpha1.MacLeaseStatus{Phase: phase, ExpiresAt: expiresAt},
	}
}

func testVM(t *testing.T, name, address string) *unstructured.Unstructured {
	t.Helper()
	vm := &kubevirtv1.VirtualMachine{
		TypeMeta:   metav1.TypeMeta{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace, UID: types.UID("vm-" + name)},
		Spec: kubevirtv1.VirtualMachineSpec{Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{
			Spec: kubevirtv1.VirtualMachineInstanceSpec{
				Domain: kubevirtv1.DomainSpec{Devices: kubevirtv1.Devices{Interfaces: []kubevirtv1.Interface{{
					Name: "default", MacAddress: address,
					InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Masquerade: &kubevirtv1.InterfaceMasquerade{}},
				}}}},
				Networks: []kubevirtv1.Network{{Name: "default", NetworkSource: kubevirtv1.NetworkSource{Pod: &kubevirtv1.PodNetwork{}}}},
			},
		}},
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(vm)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: content}
}

func testVMI(name, address string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
		"metadata": map[string]interface{}{"name": name, "namespace": testNamespace, "uid": "vmi-" + name},
		"status": map[string]interface{}{"phase": "Running",
			"interfaces": []interface{}{map[string]interface{}{"name": "default", "mac": address}}},
	}}
}

func testPod(name, address string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace, UID: types.UID("pod-" + name),
			Annotations: map[string]string{
				multus.NetworksAnnotation:      `[{"name":"net1","mac":"` + address + `"}]`,
				multus.NetworkStatusAnnotation: `[{"name":"net1","mac":"` + address + `"}]`,
			}},
		Status: corev1.PodStatus{Phase: phase},
	}
}

func past() *metav1.Time { t := metav1.NewTime(time.Now().Add(-time.Hour)); return &t }

// KubeVirt installed after the server: until the controller watches VMs, a
// VM lease is not expired, even past its TTL; once it does, the VM's lease
// is bound.
func TestVMLeaseWaitsForKubeVirt(t *testing.T) {
	const vmMAC, podMAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
	vmLease := testLease(vmMAC, kubevirt.KindVirtualMachine, "vm-", v1alpha1.MacLeasePhaseReserved, past())
	vmLease.Spec.Owner.APIVersion = "kubevirt.io/v1"
	h := newHarness(t, false, []runtime.Object{vmLease}, nil, testVM(t, "vm-abcde", vmMAC))
	h.run()

	// A Pod lease queued after the VM lease: once it expired, the VM
	// lease was looked at too.
	if _, err := h.leases.MacpoolV1alpha1().MacLeases(testNamespace).Create(context.Background(),
		testLease(podMAC, kindPod, "never", v1alpha1.MacLeasePhaseReserved, past()), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the Pod lease to expire", func() bool { return h.lease(mustMAC(podMAC).Name()) == nil })
	h.consistently("the VM lease", func() bool {
		lease := h.lease(vmLease.Name)
		return lease != nil && lease.Status.Phase == v1alpha1.MacLeasePhaseReserved
	})

	h.kubeVirt.Store(true)
	h.eventually("the VM lease to be bound to vm-abcde", func() bool {
		lease := h.lease(vmLease.Name)
		return lease != nil && lease.Status.Phase == v1alpha1.MacLeasePhaseBound && lease.Spec.Owner.Name == "vm-abcde" &&
			len(lease.OwnerReferences) == 1 && lease.OwnerReferences[0].Kind == kubevirt.KindVirtualMachine
	})

	// KubeVirt gone: VM leases are left alone, even with the VM deleted.
	h.kubeVirt.Store(false)
	h.eventually("the controller to stop watching VMs", func() bool { vms, _ := h.controller.vmCaches(); return vms == nil })
	if err := h.dynamic.Resource(kubevirt.VirtualMachines).Namespace(testNamespace).Delete(context.Background(), "vm-abcde", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.controller.leaseQueue.Add(testNamespace + "/" + vmLease.Name)
	h.consistently("the VM lease", func() bool { return h.lease(vmLease.Name) != nil })

	// Back again: the VM is gone for real, and its lease is released.
	h.kubeVirt.Store(true)
	h.eventually("the VM lease to be released", func() bool { return h.lease(vmLease.Name) == nil })
}

// A lease deleted by hand while its Pod still carries the MAC is leased
// again at once, without waiting for the Pod to change.
func TestDeletedLeaseIsAdoptedAgain(t *testing.T) {
	const address = "02:00:00:00:00:0c"
	lease := testLease(address, kindPod, "p", v1alpha1.MacLeasePhaseBound, nil)
	h := newHarness(t, false, []runtime.Object{lease}, []runtime.Object{testPod("p", address, corev1.PodRunning)})
	h.run()
	h.eventually("the lease to be bound", func() bool {
		l := h.lease(lease.Name)
		return l != nil && len(l.OwnerReferences) == 1
	})
	if err := h.leases.MacpoolV1alpha1().MacLeases(testNamespace).Delete(context.Background(), lease.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the lease to be adopted again", func() bool {
		l := h.lease(lease.Name)
		return l != nil && l.Status.Phase == v1alpha1.MacLeasePhaseBound && l.Spec.Owner.Name == "p"
	})
}

// A VM deleted while its VMI still runs with its MAC keeps the lease until
// the VMI is gone too.
func TestVMLeaseKeptWhileItsVMIReportsTheMAC(t *testing.T) {
	const kept, released = "02:00:00:00:00:0d", "02:00:00:00:00:0e"
	keptLease := testLease(kept, kubevirt.KindVirtualMachine, "vm1", v1alpha1.MacLeasePhaseBound, nil)
	releasedLease := testLease(released, kubevirt.KindVirtualMachine, "vm2", v1alpha1.MacLeasePhaseBound, nil)
	h := newHarness(t, true, []runtime.Object{keptLease, releasedLease}, nil,
		testVM(t, "vm1", kept), testVM(t, "vm2", released), testVMI("vm1", kept))
	h.run()
	// The VMI owns the lease too, so that the garbage collector keeps it.
	h.eventually("both leases to be bound, vm1's owned by its VMI too", func() bool {
		a, b := h.lease(keptLease.Name), h.lease(releasedLease.Name)
		return a != nil && b != nil && len(a.OwnerReferences) == 2 && a.OwnerReferences[1].Kind == kubevirt.KindVirtualMachineInstance &&
			len(b.OwnerReferences) == 1
	})
	vms := h.dynamic.Resource(kubevirt.VirtualMachines).Namespace(testNamespace)
	for _, name := range []string{"vm1", "vm2"} {
		if err := vms.Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	h.eventually("the lease of vm2, which no VMI reports, to be released", func() bool { return h.lease(releasedLease.Name) == nil })
	h.consistently("the lease of vm1", func() bool { return h.lease(keptLease.Name) != nil })

	if err := h.dynamic.Resource(kubevirt.VirtualMachineInstances).Namespace(testNamespace).Delete(context.Background(), "vm1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the lease of vm1 to be released once its VMI is gone", func() bool { return h.lease(keptLease.Name) == nil })
}

// A Pod that finished (Succeeded or Failed) is off the network: sharing a
// MAC with it is no collision.
func TestFinishedPodsAreNoCollision(t *testing.T) {
	const address = "02:00:00:00:00:0f"
	tests := []struct {
		phase corev1.PodPhase
		want  int
	}{
		{corev1.PodRunning, 1},
		{corev1.PodSucceeded, 0},
		{corev1.PodFailed, 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.phase), func(t *testing.T) {
			h := newHarness(t, false, nil, nil)
			if err := h.controller.namespaces.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}}); err != nil {
				t.Fatal(err)
			}
			running, other := testPod("running", address, corev1.PodRunning), testPod("other", address, corev1.PodRunning)
			h.controller.onPod(nil, running)
			h.controller.onPod(nil, other)
			if got := len(h.controller.collisions.Collisions()); got != 1 {
				t.Fatalf("two running pods: %d collisions, want 1", got)
			}
			done := other.DeepCopy()
			done.Status.Phase = tt.phase
			h.controller.onPod(other, done)
			if got := len(h.controller.collisions.Collisions()); got != tt.want {
				t.Fatalf("after the other pod became %s: %d collisions, want %d", tt.phase, got, tt.want)
			}
		})
	}
}

// The Pod informer keeps only metadata and phase.
func TestSlimPod(t *testing.T) {
	pod := testPod("p", "02:00:00:00:00:01", corev1.PodSucceeded)
	pod.Spec.Containers = []corev1.Container{{Name: "c", Image: "i"}}
	pod.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "m"}}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c"}}
	obj, err := SlimPod(pod)
	if err != nil {
		t.Fatal(err)
	}
	slim := obj.(*corev1.Pod)
	if len(slim.Spec.Containers) != 0 || slim.ManagedFields != nil || slim.Status.ContainerStatuses != nil ||
		slim.Status.Phase != corev1.PodSucceeded || slim.Annotations[multus.NetworksAnnotation] == "" {
		t.Fatalf("SlimPod kept %+v", slim)
	}
}

func mustMAC(text string) mac.Address {
	address, err := mac.Parse(text)
	if err != nil {
		panic(err)
	}
	return address
}

// The bind drops the allocation's token and keeps every other annotation;
// a lease bound before, token and all, is not written again for it.
func TestBindDropsTheAllocationToken(t *testing.T) {
	const withOther, tokenOnly = "02:00:00:00:00:31", "02:00:00:00:00:32"
	future := metav1.NewTime(time.Now().Add(time.Hour))
	reserved := func(address, owner string, annotations map[string]string) *v1alpha1.MacLease {
		lease := testLease(address, kindPod, owner, v1alpha1.MacLeasePhaseReserved, &future)
		lease.Annotations = annotations
		return lease
	}
	h := newHarness(t, false, []runtime.Object{
		reserved(withOther, "p1", map[string]string{macpool.AllocationAttemptAnnotation: "request-1", "example.com/keep": "x"}),
		reserved(tokenOnly, "p2", map[string]string{macpool.AllocationAttemptAnnotation: "request-2"}),
	}, []runtime.Object{testPod("p1", withOther, corev1.PodRunning), testPod("p2", tokenOnly, corev1.PodRunning)})
	h.run()
	bound := func(address string) *v1alpha1.MacLease {
		var lease *v1alpha1.MacLease
		h.eventually(address+" to be bound", func() bool {
			lease = h.lease(mustMAC(address).Name())
			return lease != nil && lease.Status.Phase == v1alpha1.MacLeasePhaseBound
		})
		return lease
	}
	if got := bound(withOther).Annotations; len(got) != 1 || got["example.com/keep"] != "x" {
		t.Errorf("annotations after the bind: %v, want only example.com/keep", got)
	}
	if got := bound(tokenOnly).Annotations; got != nil {
		t.Errorf("annotations after the bind: %v, want none", got)
	}

	// A lease bound by an earlier version still carries its token.
	earlier := bound(tokenOnly).DeepCopy()
	earlier.ResourceVersion = ""
	earlier.Annotations = map[string]string{macpool.AllocationAttemptAnnotation: "request-2"}
	again := newHarness(t, false, []runtime.Object{earlier}, []runtime.Object{testPod("p2", tokenOnly, corev1.PodRunning)})
	again.run()
	again.consistently("the lease bound earlier", func() bool {
		for _, action := range again.leases.Actions() {
			if action.GetVerb() == "update" || action.GetVerb() == "patch" {
				return false
			}
		}
		return again.lease(earlier.Name).Annotations[macpool.AllocationAttemptAnnotation] == "request-2"
	})
}

// A deleted lease (by hand, by the namespace controller) stays, Terminating,
// while an object of its namespace still carries the MAC, and goes once none
// does; one that nothing carries goes at once.
func TestDeletedLeaseStaysWhileItsMACIsCarried(t *testing.T) {
	const carried, free = "02:00:00:00:00:51", "02:00:00:00:00:52"
	deleted := func(address, owner string) *v1alpha1.MacLease {
		lease := testLease(address, kindPod, owner, v1alpha1.MacLeasePhaseBound, nil)
		lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: kindPod, Name: owner, UID: types.UID("pod-" + owner)}}
		lease.Finalizers = []string{"example.com/other", macpool.MACProtectionFinalizer}
		now := metav1.Now()
		lease.DeletionTimestamp = &now
		return lease
	}
	h := newHarness(t, false, []runtime.Object{deleted(carried, "p1"), deleted(free, "gone")},
		[]runtime.Object{testPod("p1", carried, corev1.PodRunning)})
	h.run()
	h.eventually("the lease nothing carries to lose its finalizer", func() bool { return !h.protected(free) })
	if l := h.lease(mustMAC(free).Name()); l == nil || !slices.Equal(l.Finalizers, []string{"example.com/other"}) {
		t.Errorf("want the lease kept with only the other finalizer (the storage deletes it once that one goes too), got %v", l)
	}
	h.consistently("the carried lease's finalizer", func() bool { return h.protected(carried) })
	h.deletePod("p1")
	h.eventually("the carried lease to lose its finalizer once the pod is gone", func() bool { return !h.protected(carried) })
}

// deletedReservation is a protected Pod reservation made at created, for
// ttl from then, deleted now.
func deletedReservation(address string, created time.Time, ttl time.Duration) *v1alpha1.MacLease {
	expiresAt := metav1.NewTime(created.Add(ttl))
	lease := testLease(address, kindPod, "coming", v1alpha1.MacLeasePhaseReserved, &expiresAt)
	lease.CreationTimestamp = metav1.NewTime(created)
	lease.Finalizers = []string{macpool.MACProtectionFinalizer}
	deletedAt := metav1.Now()
	lease.DeletionTimestamp = &deletedAt
	return lease
}

// A reservation deleted before its owner appeared (a tenant deleting the
// webhook's lease while the Pod is still on its way through kube-apiserver)
// keeps its MAC until it would have expired: the Pod may yet be created with
// it.
func TestDeletedReservationStaysUntilItExpires(t *testing.T) {
	const address = "02:00:00:00:00:55"
	lease := deletedReservation(address, time.Now(), 2*time.Second)
	expiresAt := lease.Status.ExpiresAt
	h := newHarness(t, false, []runtime.Object{lease}, nil)
	h.run()
	h.consistently("the deleted reservation's finalizer before its expiry", func() bool { return h.protected(address) })
	h.eventually("the finalizer to go once the reservation has expired", func() bool { return !h.protected(address) })
	if time.Now().Before(expiresAt.Time) {
		t.Errorf("the finalizer went %v before the reservation's expiry", expiresAt.Sub(time.Now()))
	}
}

// In a namespace being deleted no object is admitted any more: a deleted
// reservation made longer ago than a request can take waits no longer for
// its owner, and the namespace's deletion is not held up by its TTL.
func TestDeletedReservationInANamespaceBeingDeleted(t *testing.T) {
	const address = "02:00:00:00:00:56"
	created := time.Now().Add(-2 * admissionInFlight)
	h := newHarness(t, false, []runtime.Object{deletedReservation(address, created, time.Hour)}, nil)
	h.run()
	h.consistently("the deleted reservation's finalizer while its namespace lives", func() bool { return h.protected(address) })

	ctx := context.Background()
	namespace, err := h.kube.CoreV1().Namespaces().Get(ctx, testNamespace, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deletedAt := metav1.Now()
	namespace.DeletionTimestamp = &deletedAt
	if _, err := h.kube.CoreV1().Namespaces().Update(ctx, namespace, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the finalizer to go once the namespace is being deleted", func() bool { return !h.protected(address) })
}

// The bind adds the protection finalizer, to a lease bound before it
// existed too.
func TestBindAddsTheProtectionFinalizer(t *testing.T) {
	const reserved, boundBefore = "02:00:00:00:00:53", "02:00:00:00:00:54"
	future := metav1.NewTime(time.Now().Add(time.Hour))
	old := testLease(boundBefore, kindPod, "p2", v1alpha1.MacLeasePhaseBound, nil)
	old.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: kindPod, Name: "p2", UID: "pod-p2"}}
	h := newHarness(t, false, []runtime.Object{testLease(reserved, kindPod, "p1", v1alpha1.MacLeasePhaseReserved, &future), old},
		[]runtime.Object{testPod("p1", reserved, corev1.PodRunning), testPod("p2", boundBefore, corev1.PodRunning)})
	h.run()
	for _, address := range []string{reserved, boundBefore} {
		h.eventually(address+" to be bound with the finalizer", func() bool {
			lease := h.lease(mustMAC(address).Name())
			return lease != nil && lease.Status.Phase == v1alpha1.MacLeasePhaseBound && slices.Contains(lease.Finalizers, macpool.MACProtectionFinalizer)
		})
	}
}

// While KubeVirt may be served and the VM caches have not synced (the
// start of a leadership term, KubeVirt just installed), no lease is freed,
// whatever its owner kind: spec.owner is a namespace admin's to edit (here
// from the VM "halted" that carries the MAC to a Pod), and a VM may carry a
// Pod lease's MAC. Before, only leases whose owner kind said VirtualMachine
// waited: these were freed, the deleted one by its finalizer's removal, the
// others by a delete (they have no finalizer, as leases of an earlier
// version), and the expired Retained one by its release.
func TestNoLeaseIsFreedWhileVMsAreNotWatchedYet(t *testing.T) {
	const address = "02:00:00:00:00:61"
	deleted := testLease(address, kindPod, "retargeted", v1alpha1.MacLeasePhaseBound, nil)
	deleted.Finalizers = []string{macpool.MACProtectionFinalizer}
	now := metav1.Now()
	deleted.DeletionTimestamp = &now
	tests := []struct {
		name  string
		lease *v1alpha1.MacLease
	}{
		{"a deleted lease whose owner kind says Pod", deleted},
		{"a bound lease whose Pod is gone", testLease(address, kindPod, "gone", v1alpha1.MacLeasePhaseBound, nil)},
		{"an expired reservation", testLease(address, kindPod, "never", v1alpha1.MacLeasePhaseReserved, past())},
		{"an expired Retained lease", testLease(address, kindPod, "gone", v1alpha1.MacLeasePhaseRetained, past())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, true, []runtime.Object{tt.lease}, nil, testVM(t, "halted", address))
			h.holdVMList()
			h.run()
			h.consistently("the lease of a MAC a VM carries", func() bool {
				lease := h.lease(tt.lease.Name)
				return lease != nil && lease.UID == tt.lease.UID &&
					(lease.DeletionTimestamp == nil) == (tt.lease.DeletionTimestamp == nil) &&
					slices.Equal(lease.Finalizers, tt.lease.Finalizers)
			})
		})
	}
}

// Control: once VMs are watched, the same edit and delete leave the lease
// Terminating while the VM carries the MAC.
func TestDeletedLeaseStaysWhileAVMCarriesItsMACWhateverItsOwner(t *testing.T) {
	const address = "02:00:00:00:00:62"
	h := newHarness(t, true, nil, nil, testVM(t, "halted", address))
	h.run()
	h.eventually("the VM's MAC to be adopted", func() bool { return h.protected(address) })
	lease := h.lease(mustMAC(address).Name())
	lease.Spec.Owner = &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: kindPod, Name: "retargeted"}
	now := metav1.Now()
	lease.DeletionTimestamp = &now
	if _, err := h.leases.MacpoolV1alpha1().MacLeases(testNamespace).Update(context.Background(), lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.consistently("the finalizer of a lease whose MAC a VM carries", func() bool { return h.protected(address) })
}

// A Pod lease kept because VMs were not seen goes once they are, or once
// discovery says KubeVirt is not served: no VM carries its MAC then, and a
// cluster without KubeVirt does not keep its Pods' leases for ever. Nothing
// else queues it again: nothing carries its MAC.
func TestLeaseKeptForVMsIsQueuedAgain(t *testing.T) {
	const address = "02:00:00:00:00:63"
	tests := []struct {
		name string
		// kubeVirt is discovery's answer once it answers.
		kubeVirt bool
	}{
		{name: "once the VM caches have synced", kubeVirt: true},
		{name: "once discovery says KubeVirt is not served", kubeVirt: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lease := testLease(address, kindPod, "gone", v1alpha1.MacLeasePhaseBound, nil)
			lease.Finalizers = []string{macpool.MACProtectionFinalizer}
			now := metav1.Now()
			lease.DeletionTimestamp = &now
			h := newHarness(t, tt.kubeVirt, []runtime.Object{lease}, nil)
			release := h.holdVMList()
			// Discovery fails first: KubeVirt may be served.
			h.discoveryFails.Store(true)
			h.run()
			h.consistently("the deleted lease's finalizer while VMs are not seen", func() bool { return h.protected(address) })
			h.discoveryFails.Store(false)
			release()
			h.eventually("the finalizer to go", func() bool { return !h.protected(address) })
		})
	}
}

// The VM webhook is not called for a VirtualMachine being deleted
// (matchCondition not-being-deleted): a tenant who keeps one Terminating
// with a finalizer of its own may write into it any MAC, one in spec.exclude
// or in another tenant's pool. Adoption, which writes as the server, leases
// nothing of an object being deleted, Pod or VM; what such an object holds
// already it keeps.
func TestObjectsBeingDeletedAreNotAdopted(t *testing.T) {
	const live, squatted, leaving = "02:00:00:00:00:61", "0e:00:00:0b:00:01", "0e:00:00:0b:00:02"
	deleting := func(object metav1.Object) {
		now := metav1.Now()
		object.SetDeletionTimestamp(&now)
		object.SetFinalizers([]string{"tenant.example.com/keep"})
	}
	squat := testVM(t, "squat", squatted)
	deleting(squat)
	pod := testPod("leaving", leaving, corev1.PodRunning)
	deleting(pod)
	h := newHarness(t, true, nil, []runtime.Object{pod}, testVM(t, "live", live), squat)
	h.run()
	h.eventually("the live VM's MAC to be adopted", func() bool {
		lease := h.lease(mustMAC(live).Name())
		return lease != nil && lease.Status.Phase == v1alpha1.MacLeasePhaseBound && lease.Spec.Owner.Name == "live"
	})
	h.consistently("no lease for the MACs of objects being deleted", func() bool {
		return h.lease(mustMAC(squatted).Name()) == nil && h.lease(mustMAC(leaving).Name()) == nil
	})

	// The live VM is deleted in turn, and held by a finalizer: it keeps the
	// lease it has, and a MAC added now, which no webhook saw, is not leased.
	ctx := context.Background()
	vms := h.dynamic.Resource(kubevirt.VirtualMachines).Namespace(testNamespace)
	vm, err := vms.Get(ctx, "live", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deleting(vm)
	if _, err := vms.Update(ctx, vm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	const added = "0e:00:00:0b:00:03"
	second := testVM(t, "live", added)
	interfaces, _, _ := unstructured.NestedSlice(second.Object, "spec", "template", "spec", "domain", "devices", "interfaces")
	networks, _, _ := unstructured.NestedSlice(second.Object, "spec", "template", "spec", "networks")
	interfaces[0].(map[string]interface{})["name"], networks[0].(map[string]interface{})["name"] = "second", "second"
	existing, _, _ := unstructured.NestedSlice(vm.Object, "spec", "template", "spec", "domain", "devices", "interfaces")
	existingNetworks, _, _ := unstructured.NestedSlice(vm.Object, "spec", "template", "spec", "networks")
	if err := unstructured.SetNestedSlice(vm.Object, append(existing, interfaces[0]), "spec", "template", "spec", "domain", "devices", "interfaces"); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedSlice(vm.Object, append(existingNetworks, networks[0]), "spec", "template", "spec", "networks"); err != nil {
		t.Fatal(err)
	}
	if _, err := vms.Update(ctx, vm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.consistently("the deleted VM's lease kept, its added MAC not leased", func() bool {
		lease := h.lease(mustMAC(live).Name())
		return lease != nil && lease.Status.Phase == v1alpha1.MacLeasePhaseBound && h.lease(mustMAC(added).Name()) == nil
	})
}

// A VirtualMachine stored with two interfaces of one name (before the
// webhook ran, or past KubeVirt's own validation) carries both MACs: both
// are adopted and neither lease is released, as for any other VM.
func TestVMWithARepeatedInterfaceNameKeepsEveryMAC(t *testing.T) {
	const first, second = "02:00:00:00:00:64", "02:00:00:00:00:65"
	vm := testVM(t, "twins", first)
	interfaces, _, _ := unstructured.NestedSlice(vm.Object, "spec", "template", "spec", "domain", "devices", "interfaces")
	twin := runtime.DeepCopyJSONValue(interfaces[0]).(map[string]interface{})
	twin["macAddress"] = second
	if err := unstructured.SetNestedSlice(vm.Object, append(interfaces, twin), "spec", "template", "spec", "domain", "devices", "interfaces"); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, true, nil, nil, vm)
	h.run()
	for _, address := range []string{first, second} {
		h.eventually("the lease of "+address+" to be bound to the VM", func() bool {
			lease := h.lease(mustMAC(address).Name())
			return lease != nil && lease.Status.Phase == v1alpha1.MacLeasePhaseBound && lease.Spec.Owner.Name == "twins"
		})
	}
	// Passes of the controller over both leases free neither.
	for _, address := range []string{first, second} {
		h.controller.leaseQueue.Add(testNamespace + "/" + mustMAC(address).Name())
	}
	h.consistently("both leases", func() bool { return h.protected(first) && h.protected(second) })
}
