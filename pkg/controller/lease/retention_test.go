package lease

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/informers/externalversions"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
	"kubemacpool.io/kubemacpool/pkg/retention"
)

const retentionPool = "sticky"

func stickyPool(d time.Duration) *v1alpha1.MacPool {
	pool := &v1alpha1.MacPool{ObjectMeta: metav1.ObjectMeta{Name: retentionPool},
		Spec: v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:ff"}}}}
	if d > 0 {
		pool.Spec.Retention = &v1alpha1.RetentionPolicy{Duration: metav1.Duration{Duration: d}}
	}
	return pool
}

// newRetentionHarness is a harness whose controller follows the pools of
// its clientset; run starts their informer too.
func newRetentionHarness(t *testing.T, kubeVirt bool, objects []runtime.Object, kube []runtime.Object, kubeVirtObjects ...runtime.Object) *harness {
	t.Helper()
	return newRetentionHarnessWith(t, nil, kubeVirt, objects, kube, kubeVirtObjects...)
}

// newRetentionHarnessWith calls setup (reactors) before any informer runs.
func newRetentionHarnessWith(t *testing.T, setup func(*harness), kubeVirt bool, objects []runtime.Object, kube []runtime.Object, kubeVirtObjects ...runtime.Object) *harness {
	t.Helper()
	h := newHarness(t, kubeVirt, objects, kube, kubeVirtObjects...)
	if setup != nil {
		setup(h)
	}
	factory := externalversions.NewSharedInformerFactory(h.leases, 0)
	h.controller.config.Pools = factory.Macpool().V1alpha1().MacPools().Informer()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	return h
}

func pooledLease(address, kind, name string, phase v1alpha1.MacLeasePhase, expiresAt *metav1.Time) *v1alpha1.MacLease {
	lease := testLease(address, kind, name, phase, expiresAt)
	lease.Spec.Pool = retentionPool
	lease.Spec.Interface = testNamespace + "/net1"
	if kind == kubevirt.KindVirtualMachine {
		lease.Spec.Owner.APIVersion = "kubevirt.io/v1"
		lease.Spec.Interface = "default"
	}
	return lease
}

func (h *harness) deletePod(name string) {
	h.t.Helper()
	if err := h.kube.CoreV1().Pods(testNamespace).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func retained(l *v1alpha1.MacLease) bool {
	return l != nil && l.Status.Phase == v1alpha1.MacLeasePhaseRetained && l.Status.ExpiresAt != nil
}

// Under a pool's retention policy, the lease of a deleted Pod is Retained
// with its owner's kind, name, interface and pool, an expiry, and no owner
// reference (the garbage collector would delete it with the Pod).
func TestDeletedOwnerLeaseIsRetained(t *testing.T) {
	tests := []struct {
		name         string
		retention    time.Duration
		mutatePod    func(*corev1.Pod)
		wantRetained bool
	}{
		{name: "pool retains", retention: time.Hour, wantRetained: true},
		{name: "pool without retention releases", retention: 0},
		{name: "pool without retention, generated name", retention: 0, mutatePod: func(p *corev1.Pod) {
			p.Name, p.GenerateName = "web-x2kq9", "web-"
		}},
		{name: "object opted out", retention: time.Hour, mutatePod: func(p *corev1.Pod) {
			p.Annotations[retention.ObjectAnnotation] = retention.OptOut
		}},
		{name: "generated name is not retained", retention: time.Hour, mutatePod: func(p *corev1.Pod) {
			p.Name, p.GenerateName = "web-x2kq9", "web-"
		}},
		{name: "generated name opted in", retention: time.Hour, wantRetained: true, mutatePod: func(p *corev1.Pod) {
			p.Name, p.GenerateName = "web-x2kq9", "web-"
			p.Annotations[retention.ObjectAnnotation] = retention.OptIn
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const address = "02:00:00:00:00:21"
			pod := testPod("db-0", address, corev1.PodRunning)
			if tt.mutatePod != nil {
				tt.mutatePod(pod)
			}
			lease := pooledLease(address, kindPod, pod.Name, v1alpha1.MacLeasePhaseReserved, nil)
			h := newRetentionHarness(t, false, []runtime.Object{lease, stickyPool(tt.retention)}, []runtime.Object{pod})
			h.run()
			h.eventually("the lease to be bound", func() bool {
				l := h.lease(lease.Name)
				return l != nil && l.Status.Phase == v1alpha1.MacLeasePhaseBound
			})
			bound := h.lease(lease.Name)
			if tt.wantRetained != (len(bound.OwnerReferences) == 0) {
				t.Errorf("bound lease has owner references %v; a lease to retain must have none, any other the owner's", bound.OwnerReferences)
			}
			if _, recorded := bound.Annotations[retention.ObjectAnnotation]; tt.retention == 0 && recorded {
				t.Errorf("a pool without retention recorded the owner's choice: %v", bound.Annotations)
			}
			started := time.Now()
			h.deletePod(pod.Name)
			if !tt.wantRetained {
				h.eventually("the lease to be released", func() bool { return h.lease(lease.Name) == nil })
				return
			}
			h.eventually("the lease to be Retained", func() bool { return retained(h.lease(lease.Name)) })
			l := h.lease(lease.Name)
			if l.Spec.Owner == nil || l.Spec.Owner.Kind != kindPod || l.Spec.Owner.Name != pod.Name ||
				l.Spec.Interface != lease.Spec.Interface || l.Spec.Pool != retentionPool || len(l.OwnerReferences) != 0 {
				t.Errorf("retained lease = %+v, owner references %v", l.Spec, l.OwnerReferences)
			}
			if expires := l.Status.ExpiresAt.Time; expires.Before(started.Add(tt.retention-2*time.Second)) || expires.After(time.Now().Add(tt.retention)) {
				t.Errorf("expiresAt = %s, want about %s from now", expires, tt.retention)
			}
			h.consistently("the Retained lease", func() bool { return retained(h.lease(lease.Name)) })
		})
	}
}

// A Retained lease is released when its time runs out, but only once no
// VMI reports its MAC any more.
func TestRetainedLeaseExpires(t *testing.T) {
	const free, reported = "02:00:00:00:00:22", "02:00:00:00:00:23"
	freeLease := pooledLease(free, kubevirt.KindVirtualMachine, "vm1", v1alpha1.MacLeasePhaseRetained, past())
	reportedLease := pooledLease(reported, kubevirt.KindVirtualMachine, "vm2", v1alpha1.MacLeasePhaseRetained, past())
	h := newRetentionHarness(t, true, []runtime.Object{freeLease, reportedLease, stickyPool(time.Hour)}, nil, testVMI("vm2", reported))
	h.run()
	h.eventually("the expired lease to be released", func() bool { return h.lease(freeLease.Name) == nil })
	h.consistently("the lease whose MAC vm2's VMI still reports", func() bool { return retained(h.lease(reportedLease.Name)) })
	if err := h.dynamic.Resource(kubevirt.VirtualMachineInstances).Namespace(testNamespace).Delete(context.Background(), "vm2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the lease to be released once the VMI is gone", func() bool { return h.lease(reportedLease.Name) == nil })
}

// A Retained lease waits for its time: not released early.
func TestRetainedLeaseWaitsForItsTime(t *testing.T) {
	const address = "02:00:00:00:00:24"
	soon := metav1.NewTime(time.Now().Add(1500 * time.Millisecond))
	lease := pooledLease(address, kindPod, "db-0", v1alpha1.MacLeasePhaseRetained, &soon)
	h := newRetentionHarness(t, false, []runtime.Object{lease, stickyPool(time.Hour)}, nil)
	h.run()
	if !retained(h.lease(lease.Name)) {
		t.Fatal("the lease was not kept before its expiry")
	}
	h.eventually("the lease to be released at its expiry", func() bool { return h.lease(lease.Name) == nil })
	if time.Now().Before(soon.Time) {
		t.Errorf("released before %s", soon.Time)
	}
}

// An object of the retained owner's kind and exact name that carries the
// MAC binds the lease; one whose name merely starts with it does not.
func TestRetainedLeaseBindsOnlyItsOwner(t *testing.T) {
	const address = "02:00:00:00:00:25"
	future := metav1.NewTime(time.Now().Add(time.Hour))
	lease := pooledLease(address, kindPod, "db-0", v1alpha1.MacLeasePhaseRetained, &future)
	h := newRetentionHarness(t, false, []runtime.Object{lease, stickyPool(time.Hour)}, []runtime.Object{testPod("db-01", address, corev1.PodRunning)})
	h.run()
	h.consistently("the Retained lease", func() bool {
		l := h.lease(lease.Name)
		return retained(l) && l.Spec.Owner.Name == "db-0"
	})
	if _, err := h.kube.CoreV1().Pods(testNamespace).Create(context.Background(), testPod("db-0", address, corev1.PodRunning), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the lease to be bound to db-0", func() bool {
		l := h.lease(lease.Name)
		return l != nil && l.Status.Phase == v1alpha1.MacLeasePhaseBound && l.Spec.Owner.Name == "db-0" && l.Status.ExpiresAt == nil
	})
}

// An expired Retained lease whose MAC another object of the namespace
// carries passes to that object in one write: it is never free meanwhile.
func TestExpiredRetainedLeasePassesToTheCarrier(t *testing.T) {
	const address = "02:00:00:00:00:26"
	lease := pooledLease(address, kindPod, "db-0", v1alpha1.MacLeasePhaseRetained, past())
	var deletes atomic.Int32
	h := newRetentionHarnessWith(t, func(h *harness) {
		h.leases.PrependReactor("delete", "macleases", func(action k8stesting.Action) (bool, runtime.Object, error) {
			deletes.Add(1)
			return false, nil, nil
		})
	}, false, []runtime.Object{lease, stickyPool(time.Hour)}, []runtime.Object{testPod("other", address, corev1.PodRunning)})
	h.run()
	h.eventually("the lease to be bound to the pod that carries the MAC", func() bool {
		l := h.lease(lease.Name)
		return l != nil && l.Status.Phase == v1alpha1.MacLeasePhaseBound && l.Spec.Owner.Name == "other"
	})
	if n := deletes.Load(); n != 0 {
		t.Errorf("the lease was deleted %d times on its way to the carrier", n)
	}
}

// An expired Retained lease whose MAC a VirtualMachine and its running
// virt-launcher Pod both carry passes to the VM, which keeps the MAC in its
// spec after the launcher is gone, not to the launcher listed first.
func TestExpiredRetainedLeasePassesToTheVMNotItsLauncher(t *testing.T) {
	const address = "02:00:00:00:00:27"
	lease := pooledLease(address, kubevirt.KindVirtualMachine, "old-vm", v1alpha1.MacLeasePhaseRetained, past())
	h := newRetentionHarness(t, true, []runtime.Object{lease, stickyPool(time.Hour)},
		[]runtime.Object{testPod("virt-launcher-new-vm-abcde", address, corev1.PodRunning)},
		testVM(t, "new-vm", address))
	h.run()
	h.eventually("the lease to be bound to the VirtualMachine that carries the MAC", func() bool {
		l := h.lease(lease.Name)
		return l != nil && l.Status.Phase == v1alpha1.MacLeasePhaseBound && l.Spec.Owner.Kind == kubevirt.KindVirtualMachine &&
			l.Spec.Owner.Name == "new-vm"
	})
	if l := h.lease(lease.Name); l.Spec.Owner.Kind != kubevirt.KindVirtualMachine || l.Spec.Owner.Name != "new-vm" {
		t.Errorf("the lease went to %s %s", l.Spec.Owner.Kind, l.Spec.Owner.Name)
	}
}

// A reservation reclaimed from retention whose object never appeared is
// Retained again until its retention would have ended, or released if that
// has passed.
func TestExpiredReclaimIsRetainedAgain(t *testing.T) {
	const again, gone = "02:00:00:00:00:27", "02:00:00:00:00:28"
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	againLease := pooledLease(again, kindPod, "db-0", v1alpha1.MacLeasePhaseReserved, past())
	againLease.Annotations = map[string]string{retention.RetainedUntilAnnotation: until.Format(time.RFC3339)}
	goneLease := pooledLease(gone, kindPod, "db-1", v1alpha1.MacLeasePhaseReserved, past())
	goneLease.Annotations = map[string]string{retention.RetainedUntilAnnotation: time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}
	h := newRetentionHarness(t, false, []runtime.Object{againLease, goneLease, stickyPool(time.Hour)}, nil)
	h.run()
	h.eventually("the reclaim whose retention ended to be released", func() bool { return h.lease(goneLease.Name) == nil })
	h.eventually("the other to be Retained until its retention ends", func() bool {
		l := h.lease(againLease.Name)
		return retained(l) && l.Status.ExpiresAt.Time.Equal(until) && l.Annotations[retention.RetainedUntilAnnotation] == ""
	})
}

// Retention enabled on a pool after its leases were bound: their owner
// references go, so that the garbage collector cannot release them with
// their owners.
func TestRetentionEnabledLaterDropsOwnerReferences(t *testing.T) {
	const address = "02:00:00:00:00:29"
	lease := pooledLease(address, kindPod, "db-0", v1alpha1.MacLeasePhaseReserved, nil)
	h := newRetentionHarness(t, false, []runtime.Object{lease, stickyPool(0)}, []runtime.Object{testPod("db-0", address, corev1.PodRunning)})
	h.run()
	h.eventually("the lease to be bound with an owner reference", func() bool {
		l := h.lease(lease.Name)
		return l != nil && l.Status.Phase == v1alpha1.MacLeasePhaseBound && len(l.OwnerReferences) == 1
	})
	if _, err := h.leases.MacpoolV1alpha1().MacPools().Update(context.Background(), stickyPool(time.Hour), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the owner reference to go", func() bool {
		l := h.lease(lease.Name)
		return l != nil && l.Status.Phase == v1alpha1.MacLeasePhaseBound && len(l.OwnerReferences) == 0
	})
	h.deletePod("db-0")
	h.eventually("the lease to be Retained", func() bool { return retained(h.lease(lease.Name)) })
}

// A change of a pool's retention queues that pool's leases, and only them.
func TestRetentionChangeQueuesThePoolsLeases(t *testing.T) {
	h := newHarness(t, false, nil, nil)
	store := h.leaseInformer.GetIndexer()
	for address, pool := range map[string]string{"02:00:00:00:00:41": retentionPool, "02:00:00:00:00:42": retentionPool, "02:00:00:00:00:43": "other"} {
		lease := &macpool.MacLease{}
		versioned := pooledLease(address, kindPod, "p", v1alpha1.MacLeasePhaseBound, nil)
		versioned.Spec.Pool = pool
		if err := v1alpha1.Convert_v1alpha1_MacLease_To_macpool_MacLease(versioned, lease, nil); err != nil {
			t.Fatal(err)
		}
		if err := store.Add(lease); err != nil {
			t.Fatal(err)
		}
	}
	queue := h.controller.leaseQueue
	h.controller.onPool(stickyPool(time.Hour), stickyPool(time.Hour))
	if queue.Len() != 0 {
		t.Fatalf("a pool updated without a change of retention queued %d leases", queue.Len())
	}
	h.controller.onPool(stickyPool(0), stickyPool(time.Hour))
	var queued []string
	for queue.Len() > 0 {
		key, _ := queue.Get()
		queued = append(queued, key)
		queue.Done(key)
	}
	slices.Sort(queued)
	want := []string{testNamespace + "/" + mustMAC("02:00:00:00:00:41").Name(), testNamespace + "/" + mustMAC("02:00:00:00:00:42").Name()}
	if !slices.Equal(queued, want) {
		t.Errorf("queued %v, want %v", queued, want)
	}
}
