package lease

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
)

// forcedPodFixture is a Pod that the kubelet of node-1 runs with address,
// whose bound lease the garbage collector has deleted already, and node-1,
// which last reported Ready an hour ago: it has heard of nothing since.
func forcedPodFixture(address string) (*corev1.Pod, *v1alpha1.MacLease, *corev1.Node) {
	zero := int64(0)
	now := metav1.Now()
	pod := testPod("forced", address, corev1.PodRunning)
	pod.Spec.NodeName, pod.Status.HostIP = "node-1", "192.0.2.10"
	pod.Spec.TerminationGracePeriodSeconds = &zero
	// As a delete with --force leaves it in its last watch event.
	pod.DeletionTimestamp = &now
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	lease := testLease(address, kindPod, "forced", v1alpha1.MacLeasePhaseBound, nil)
	lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: kindPod, Name: "forced", UID: pod.UID}}
	lease.Finalizers = []string{macpool.MACProtectionFinalizer}
	lease.DeletionTimestamp = &now
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.NewTime(time.Now().Add(-time.Hour))}}}}
	return pod, lease, node
}

// The leader that sees a Pod go while its node may still run it writes the
// hold onto the lease: the next leader (a rolling upgrade, a crash), which
// never saw the Pod, keeps the MAC until the node proves it stopped it.
// Held in the first leader's memory only, the MAC would go at the change.
func TestHoldsOutliveTheLeader(t *testing.T) {
	orphanMargin = 0
	t.Cleanup(func() { orphanMargin = 10 * time.Second })
	const address = "02:00:00:00:00:74"
	pod, lease, node := forcedPodFixture(address)
	first := newHarness(t, false, []runtime.Object{lease}, []runtime.Object{pod, node})
	first.run()
	first.deletePod("forced")
	var recorded *v1alpha1.MacLease
	first.eventually("the lease to record node-1's hold", func() bool {
		recorded = first.lease(mustMAC(address).Name())
		holds, err := macpool.ParseNodeHolds(recorded.Annotations[macpool.NodeHoldsAnnotation])
		return err == nil && len(holds) == 1 && holds[0].Node == "node-1" && holds[0].Pod == "forced"
	})
	first.consistently("the lease under the first leader", func() bool { return first.protected(address) })

	// The next leader starts from what is stored: the lease, the Node, and
	// no Pod.
	next := newHarness(t, false, []runtime.Object{recorded}, []runtime.Object{node})
	next.run()
	next.consistently("the lease under the next leader", func() bool { return next.protected(address) })

	if err := next.kube.CoreV1().Nodes().Delete(context.Background(), "node-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	next.eventually("the lease to go once the node is gone", func() bool {
		next.controller.leaseQueue.Add(testNamespace + "/" + mustMAC(address).Name())
		return !next.protected(address)
	})
}

// client-go removes a Pod from the cache before it hands the removal to the
// handlers, which alone know whether its node may still run it. A deleted
// lease looked at in between (the garbage collector deleted it, under a
// burst of removals the handlers lag) waits for them rather than letting
// the MAC go.
func TestADeletedLeaseWaitsForThePodHandlers(t *testing.T) {
	const address = "02:00:00:00:00:75"
	pod, lease, node := forcedPodFixture(address)
	h := newHarness(t, false, []runtime.Object{lease}, []runtime.Object{node})
	// The handlers saw the Pod run on node-1; the cache has it no more.
	h.controller.podsOnNodes.observe(nil, pod, nil, podHolder(podMetadata(pod)), h.controller.config.PodEvents.leased, time.Now())
	h.run()
	h.consistently("the lease while the handlers have not seen the Pod go", func() bool { return h.protected(address) })

	// They see it go, every container stopped: the MAC is off the network.
	stopped := pod.DeepCopy()
	stopped.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}
	h.controller.podsOnNodes.observe(stopped, nil, podHolder(podMetadata(stopped)), nil, h.controller.config.PodEvents.leased, time.Now())
	h.eventually("the lease to go once the handlers saw the Pod stopped", func() bool {
		h.controller.leaseQueue.Add(testNamespace + "/" + mustMAC(address).Name())
		return !h.protected(address)
	})
}

// The holds of the Pods of one dead node read its Node once, not once each.
func TestHeldLeasesOfOneNodeReadItOnce(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}
	h := newHarness(t, false, nil, []runtime.Object{node})
	start := time.Now()
	reads := func() int {
		n := 0
		for _, action := range h.kube.Actions() {
			if action.GetVerb() == "get" && action.GetResource().Resource == "nodes" {
				n++
			}
		}
		return n
	}
	for _, at := range []time.Time{start, start.Add(time.Second), start.Add(nodeReadFor - time.Millisecond)} {
		h.controller.now = func() time.Time { return at }
		if _, err := h.controller.nodeStopped(context.Background(), "node-1", start); err != nil {
			t.Fatal(err)
		}
	}
	if got := reads(); got != 1 {
		t.Errorf("%d reads of the Node within %v, want 1", got, nodeReadFor)
	}
	h.controller.now = func() time.Time { return start.Add(nodeReadFor) }
	if _, err := h.controller.nodeStopped(context.Background(), "node-1", start); err != nil {
		t.Fatal(err)
	}
	if got := reads(); got != 2 {
		t.Errorf("%d reads of the Node after %v, want 2", got, nodeReadFor)
	}
}

// What the handlers note of a Pod follows it: a Pod no kubelet took is not
// noted, a running one is noted in the API, one removed while running is
// noted removed if a lease of its MAC exists, and one that finished or was
// removed stopped is forgotten.
func TestPodsOnNodesFollowThePod(t *testing.T) {
	const address = "02:00:00:00:00:76"
	key := indexKey(testNamespace, address)
	pending := testPod("p", address, corev1.PodPending)
	running := pending.DeepCopy()
	running.Spec.NodeName, running.Status.HostIP, running.Status.Phase = "node-1", "192.0.2.10", corev1.PodRunning
	succeeded := running.DeepCopy()
	succeeded.Status.Phase = corev1.PodSucceeded
	holderOf := func(pod *corev1.Pod) *holder { return podHolder(podMetadata(pod)) }
	always := func(string, string) bool { return true }
	never := func(string, string) bool { return false }
	tests := []struct {
		name        string
		events      [][2]*corev1.Pod // {before, after}
		leased      func(string, string) bool
		wantRemoved int
		wantInAPI   bool
	}{
		{name: "pending", events: [][2]*corev1.Pod{{nil, pending}}, leased: always},
		{name: "running", events: [][2]*corev1.Pod{{nil, pending}, {pending, running}}, leased: always, wantInAPI: true},
		{name: "removed running", events: [][2]*corev1.Pod{{nil, running}, {running, nil}}, leased: always, wantRemoved: 1},
		{name: "removed running, no lease", events: [][2]*corev1.Pod{{nil, running}, {running, nil}}, leased: never},
		{name: "finished", events: [][2]*corev1.Pod{{nil, running}, {running, succeeded}}, leased: always},
		{name: "removed after it finished", events: [][2]*corev1.Pod{{nil, running}, {running, succeeded}, {succeeded, nil}}, leased: always},
		{name: "dropped the MAC", events: [][2]*corev1.Pod{{nil, running}, {running, withoutNetworks(running)}}, leased: always},
		// A relist after a missed watch hands the handlers the Pod
		// re-created under the same name as an update of the one removed:
		// that one went while running, and only the new one is in the API.
		{name: "re-created, seen as an update", events: [][2]*corev1.Pod{{nil, running}, {running, recreated(running)}},
			leased: always, wantRemoved: 1, wantInAPI: true},
		{name: "re-created, seen as an update, then removed stopped", events: [][2]*corev1.Pod{{nil, running}, {running, recreated(running)},
			{recreated(running), recreated(succeeded)}, {recreated(succeeded), nil}}, leased: never},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen podsOnNodes
			for _, event := range tt.events {
				var before, after *holder
				if event[0] != nil {
					before = holderOf(event[0])
				}
				if event[1] != nil {
					after = holderOf(event[1])
				}
				seen.observe(event[0], event[1], before, after, tt.leased, time.Now())
			}
			removed, inAPI := seen.of(key)
			if len(removed) != tt.wantRemoved || inAPI != tt.wantInAPI {
				t.Errorf("noted %d removed, in the API %v; want %d, %v", len(removed), inAPI, tt.wantRemoved, tt.wantInAPI)
			}
		})
	}
}

func withoutNetworks(pod *corev1.Pod) *corev1.Pod {
	dropped := pod.DeepCopy()
	dropped.Annotations = nil
	dropped.UID = types.UID(pod.UID)
	return dropped
}

// recreated is pod deleted and created again under its name: another UID.
func recreated(pod *corev1.Pod) *corev1.Pod {
	again := pod.DeepCopy()
	again.UID = pod.UID + "-again"
	return again
}

// A deleted lease's sync records the holds of removed Pods first
// (recordHolds), then, once the Pod cache shows nothing carrying the MAC,
// asks hold. The Pod handlers run concurrently: one that sees the Pod go in
// between turns its entry from in the API to removed, which recordHolds has
// not written. hold must count it, not let the MAC go while the node may
// still run the Pod.
func TestHoldCountsARemovalNotRecordedYet(t *testing.T) {
	const address = "02:00:00:00:00:77"
	pod, lease, node := forcedPodFixture(address)
	h := newHarness(t, false, nil, []runtime.Object{node})
	internal := &macpool.MacLease{}
	if err := v1alpha1.Convert_v1alpha1_MacLease_To_macpool_MacLease(lease, internal, nil); err != nil {
		t.Fatal(err)
	}
	always := func(string, string) bool { return true }
	seen := podHolder(podMetadata(pod))
	h.controller.podsOnNodes.observe(nil, pod, nil, seen, always, time.Now())
	// recordHolds ran here, with nothing to record; then the handlers saw
	// the Pod go.
	h.controller.podsOnNodes.observe(pod, nil, seen, nil, always, time.Now())
	wait, err := h.controller.hold(context.Background(), internal)
	if err != nil || wait <= 0 {
		t.Errorf("hold = %v, %v; want a wait: the node may still run the Pod", wait, err)
	}
}

// The Pod handlers alone know which Pods a kubelet took (podsOnNodes): a
// deleted lease waits for them only if they have seen the Pod. The caches
// count as synced, and the workers start, once the handlers have had every
// Pod of the first list, not when the informer's store has: a Pod listed
// at the start of a term and removed before the handlers got to it would
// otherwise leave nothing to hold its MAC.
func TestCachesSyncOnceThePodHandlersHaveTheFirstList(t *testing.T) {
	const address = "02:00:00:00:00:78"
	pod, _, node := forcedPodFixture(address)
	pod.DeletionTimestamp = nil
	h := newHarness(t, false, nil, []runtime.Object{pod, node})
	// The handlers are busy: the first Pod waits.
	h.controller.podsOnNodes.mu.Lock()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h.startInformers(ctx.Done())
	h.eventually("the Pod in the store", func() bool {
		_, exists, _ := h.controller.pods.GetByKey(testNamespace + "/forced")
		return exists
	})
	synced := func() bool {
		for _, s := range h.controller.synced {
			if !s() {
				return false
			}
		}
		return true
	}
	time.Sleep(100 * time.Millisecond)
	if synced() {
		t.Errorf("synced while the Pod handlers have not seen the first list")
	}
	h.controller.podsOnNodes.mu.Unlock()
	h.eventually("synced once the handlers have seen it", synced)
}

// A lease that is not deleted (bound again, Retained) loses the holds whose
// nodes proved they stopped the removed Pod, and keeps the others: left on
// it, a hold would keep a Retained lease from being reclaimed, and come back
// when the lease is deleted on a node that went NotReady since.
func TestStoppedHoldsLeaveALiveLease(t *testing.T) {
	const address = "02:00:00:00:00:78"
	past := metav1.NewTime(time.Now().Add(-time.Minute))
	lease := testLease(address, kindPod, "db-0", v1alpha1.MacLeasePhaseRetained, &metav1.Time{Time: time.Now().Add(time.Hour)})
	lease.Annotations = map[string]string{macpool.NodeHoldsAnnotation: macpool.FormatNodeHolds([]macpool.NodeHold{
		{Node: "gone", Pod: "db-0", StoppedBy: past},
		{Node: "down", Pod: "db-0", StoppedBy: past},
	})}
	down := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "down"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionFalse, LastHeartbeatTime: metav1.NewTime(time.Now())}}}}
	h := newHarness(t, false, []runtime.Object{lease}, []runtime.Object{down})
	h.run()
	nodes := func() []string {
		value, found := h.lease(mustMAC(address).Name()).Annotations[macpool.NodeHoldsAnnotation]
		if !found {
			return nil
		}
		holds, err := macpool.ParseNodeHolds(value)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, hold := range holds {
			names = append(names, hold.Node)
		}
		return names
	}
	h.eventually("the hold of the deleted node to go", func() bool { return slices.Equal(nodes(), []string{"down"}) })
	h.consistently("the hold of the NotReady node", func() bool { return slices.Equal(nodes(), []string{"down"}) })

	if err := h.kube.CoreV1().Nodes().Delete(context.Background(), "down", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the last hold to go once its node is deleted", func() bool {
		h.controller.leaseQueue.Add(testNamespace + "/" + mustMAC(address).Name())
		return nodes() == nil
	})
	if got := h.lease(mustMAC(address).Name()); got.Status.Phase != v1alpha1.MacLeasePhaseRetained {
		t.Errorf("the lease is %s, want it Retained still", got.Status.Phase)
	}
}

// Node reads that fail keep a live lease's holds, and nothing else: the
// lease is still bound to the Pod that carries its MAC.
func TestFailingNodeReadsDoNotStopABind(t *testing.T) {
	const address = "02:00:00:00:00:79"
	past := metav1.NewTime(time.Now().Add(-time.Minute))
	lease := testLease(address, kindPod, "web-0", v1alpha1.MacLeasePhaseReserved, &metav1.Time{Time: time.Now().Add(time.Hour)})
	lease.Annotations = map[string]string{macpool.NodeHoldsAnnotation: macpool.FormatNodeHolds([]macpool.NodeHold{
		{Node: "unreadable", Pod: "web-0", StoppedBy: past},
	})}
	h := newHarness(t, false, []runtime.Object{lease}, []runtime.Object{testPod("web-0", address, corev1.PodRunning)})
	h.kube.PrependReactor("get", "nodes", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("kube-apiserver unreachable")
	})
	h.run()
	h.eventually("the lease to be bound", func() bool {
		return h.lease(mustMAC(address).Name()).Status.Phase == v1alpha1.MacLeasePhaseBound
	})
	if _, found := h.lease(mustMAC(address).Name()).Annotations[macpool.NodeHoldsAnnotation]; !found {
		t.Error("the holds went although their node could not be read")
	}
}

// The same window before a lease is retained: a StatefulSet Pod removed with
// --force while its node may still run it, its lease Bound under a retention
// policy and looked at (queued by an earlier event of the Pod) after the
// cache dropped the Pod but before the handlers saw it go. Retained then,
// without the hold, the lease is reclaimed at once by the Pod created again
// under the name (pkg/allocation waits for a Retained lease and trusts its
// holds): one MAC on two running Pods.
func TestRetentionWaitsForThePodHandlers(t *testing.T) {
	const address = "02:00:00:00:00:76"
	for _, tc := range []struct {
		name, kind, owner, pod string
		kubeVirt               bool
	}{
		{name: "a StatefulSet Pod", kind: kindPod, owner: "db-0", pod: "db-0"},
		// A VM created again under its name may run its next launcher Pod
		// on another node while the partitioned one still runs the old.
		{name: "a VirtualMachine's virt-launcher Pod", kind: kubevirt.KindVirtualMachine, owner: "vm-0", pod: "virt-launcher-vm-0-x7k2p", kubeVirt: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod, _, node := forcedPodFixture(address)
			pod.Name, pod.UID = tc.pod, types.UID("pod-"+tc.pod)
			lease := pooledLease(address, tc.kind, tc.owner, v1alpha1.MacLeasePhaseBound, nil)
			h := newRetentionHarness(t, tc.kubeVirt, []runtime.Object{lease, stickyPool(time.Hour)}, []runtime.Object{node})
			if !cache.WaitForCacheSync(t.Context().Done(), h.controller.config.Pools.HasSynced) {
				t.Fatal("the pools never synced")
			}
			// The handlers saw the Pod run on node-1; the cache has it no more.
			h.controller.podsOnNodes.observe(nil, pod, nil, podHolder(podMetadata(pod)), h.controller.config.PodEvents.leased, time.Now())
			h.run()
			h.consistently("the Bound lease while the handlers have not seen the Pod go", func() bool {
				l := h.lease(lease.Name)
				return l != nil && l.Status.Phase == v1alpha1.MacLeasePhaseBound
			})

			h.controller.podsOnNodes.observe(pod, nil, podHolder(podMetadata(pod)), nil, h.controller.config.PodEvents.leased, time.Now())
			h.controller.leaseQueue.Add(testNamespace + "/" + lease.Name)
			h.eventually("the lease to be Retained with node-1's hold", func() bool {
				l := h.lease(lease.Name)
				if !retained(l) {
					return false
				}
				holds, err := macpool.ParseNodeHolds(l.Annotations[macpool.NodeHoldsAnnotation])
				return err == nil && len(holds) == 1 && holds[0].Node == "node-1" && holds[0].Pod == tc.pod
			})
		})
	}
}
