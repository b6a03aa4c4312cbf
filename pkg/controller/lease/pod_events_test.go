package lease

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// A replica follows the Pods before it leads: the removal of a Pod whose
// node may still run it, seen while another replica led (or none did, for
// the moments of a rolling upgrade's hand-over), is held as soon as this
// one's term starts. A replica that watched Pods only from its term on
// would find the Pod gone, and release its MAC.
func TestATermHoldsTheRemovalsSeenBeforeIt(t *testing.T) {
	orphanMargin = 0
	t.Cleanup(func() { orphanMargin = 10 * time.Second })
	const address = "02:00:00:00:00:77"

	t.Run("removed while this replica followed the Pods without leading", func(t *testing.T) {
		pod, lease, node := forcedPodFixture(address)
		h := newHarness(t, false, []runtime.Object{lease}, []runtime.Object{pod, node})
		h.standby()
		h.deletePod("forced")
		h.eventually("the removal to be noted", func() bool {
			removed, _ := h.controller.podsOnNodes.of(indexKey(testNamespace, address))
			return len(removed) == 1
		})

		h.run()
		h.eventually("the lease to record node-1's hold", func() bool {
			holds, err := macpool.ParseNodeHolds(h.lease(mustMAC(address).Name()).Annotations[macpool.NodeHoldsAnnotation])
			return err == nil && len(holds) == 1 && holds[0].Node == "node-1" && holds[0].Pod == "forced"
		})
		h.consistently("the lease", func() bool { return h.protected(address) })
	})

	// A removal no replica saw (a single replica restarting) is held only
	// through the replay of the Pod watch (TestAStartHoldsTheRemovalsNoReplicaSaw):
	// without it, it is not.
	t.Run("removed while no replica followed the Pods", func(t *testing.T) {
		_, lease, node := forcedPodFixture(address)
		h := newHarness(t, false, []runtime.Object{lease}, []runtime.Object{node})
		h.run()
		h.eventually("the lease to go", func() bool { return !h.protected(address) })
	})
}

// A term's handler sees the Pods that exist as added when it starts, then
// every event in order, and nothing once its term ended.
func TestFollowHandsEveryPodToTheTerm(t *testing.T) {
	h := newHarness(t, false, nil, []runtime.Object{testPod("a", "02:00:00:00:00:01", corev1.PodRunning)})
	events := h.standby()
	ctx := context.Background()

	seen := make(chan string, 10)
	stop := events.follow(func(old, obj interface{}, before, after *holder) {
		switch {
		case obj == nil:
			seen <- "removed " + old.(*corev1.Pod).Name
		case old == nil:
			seen <- "added " + obj.(*corev1.Pod).Name + " carrying " + carried(after)
		default:
			seen <- "updated " + obj.(*corev1.Pod).Name
		}
	})
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-seen:
			if got != want {
				t.Fatalf("the term saw %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the term never saw %q", want)
		}
	}
	expect("added a carrying 02:00:00:00:00:01")
	if _, err := h.kube.CoreV1().Pods(testNamespace).Create(ctx, testPod("b", "02:00:00:00:00:02", corev1.PodRunning), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("added b carrying 02:00:00:00:00:02")
	h.deletePod("a")
	expect("removed a")
	stop()
	h.deletePod("b")
	select {
	case got := <-seen:
		t.Fatalf("the term saw %q after it ended", got)
	case <-time.After(200 * time.Millisecond):
	}
}

// carried lists the MACs a holder carries (one, in these tests).
func carried(h *holder) string {
	if h == nil {
		return "nothing"
	}
	out := ""
	for address := range h.interfaces {
		out += address
	}
	return out
}

// Removals no lease records are kept an hour past their holds, then
// dropped: a replica that does not lead sees every removal and writes none.
func TestRemovalsAreForgottenAfterAnHour(t *testing.T) {
	var p podsOnNodes
	now := time.Now()
	p.put("ns/02:00:00:00:00:01", podOnNode{uid: types.UID("old"), pod: "old", node: "n", stoppedBy: now.Add(-removalMemory - time.Minute)})
	p.put("ns/02:00:00:00:00:02", podOnNode{uid: types.UID("recent"), pod: "recent", node: "n", stoppedBy: now.Add(-time.Minute)})
	p.put("ns/02:00:00:00:00:03", podOnNode{uid: types.UID("running"), pod: "running", node: "n"})
	p.sweep(now)
	if removed, _ := p.of("ns/02:00:00:00:00:01"); len(removed) != 0 {
		t.Errorf("a removal past its hold by more than %s is kept: %+v", removalMemory, removed)
	}
	if removed, _ := p.of("ns/02:00:00:00:00:02"); len(removed) != 1 {
		t.Errorf("a recent removal was dropped")
	}
	if _, inAPI := p.of("ns/02:00:00:00:00:03"); !inAPI {
		t.Errorf("a Pod in the API was dropped")
	}
}

// Terms overlap: client-go's leader election runs a term's controller in
// its own goroutine and may start the next term (in the same process) before
// the last one's Run has returned. The stop of the term that ended must not
// cut the new term off the Pod events: its controller would bind, release
// and hold nothing from Pod events for its whole term.
func TestAnEndedTermDoesNotStopTheNext(t *testing.T) {
	h := newHarness(t, false, nil, nil)
	events := h.standby()
	ctx := context.Background()

	stopLast := events.follow(func(old, obj interface{}, before, after *holder) {})
	seen := make(chan string, 10)
	stopNext := events.follow(func(old, obj interface{}, before, after *holder) {
		if obj != nil {
			seen <- obj.(*corev1.Pod).Name
		}
	})
	defer stopNext()
	stopLast()
	if _, err := h.kube.CoreV1().Pods(testNamespace).Create(ctx, testPod("a", "02:00:00:00:00:01", corev1.PodRunning), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-seen:
		if got != "a" {
			t.Fatalf("the new term saw %q, want a", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the last term's stop cut the new term off the Pod events")
	}
}

// Only a replica that does not lead forgets removals by the clock. The
// leader forgets each once its lease records the hold: one it could not
// write yet (storage failing, an annotation to mend by hand) is in its
// memory only, and dropped there, the lease would go without it while the
// node may still run the Pod.
func TestALeaderKeepsTheRemovalsItHasNotRecorded(t *testing.T) {
	const first, second, third = "02:00:00:00:00:81", "02:00:00:00:00:82", "02:00:00:00:00:83"
	leases := cache.NewStore(cache.MetaNamespaceKeyFunc)
	removed := map[string]*corev1.Pod{}
	for i, address := range []string{first, second, third} {
		pod, _, _ := forcedPodFixture(address)
		pod.Name, pod.UID = pod.Name+string(rune('a'+i)), types.UID(address)
		removed[address] = pod
		if err := leases.Add(&macpool.MacLease{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: mustMAC(address).Name()}}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	e := &PodEvents{
		informer: cache.NewSharedIndexInformer(&cache.ListWatch{}, &corev1.Pod{}, 0, cache.Indexers{}),
		leases:   leases, onNodes: &podsOnNodes{}, now: func() time.Time { return now },
	}
	noted := func(address string) bool {
		entries, _ := e.onNodes.of(indexKey(testNamespace, address))
		return len(entries) == 1
	}

	stop := e.follow(func(old, obj interface{}, before, after *holder) {})
	e.dispatch(removed[first], nil)
	if !noted(first) {
		t.Fatal("the removal was not noted")
	}
	now = now.Add(removalMemory + 2*time.Hour)
	e.dispatch(removed[second], nil)
	if !noted(first) {
		t.Fatalf("the leader forgot, %s past its hold, a removal no lease records", removalMemory+2*time.Hour)
	}

	// The term ends: this replica no longer writes them.
	stop()
	now = now.Add(removalMemory + 2*time.Hour)
	e.dispatch(removed[third], nil)
	for _, address := range []string{first, second} {
		if noted(address) {
			t.Errorf("a replica that does not lead kept the removal of %s past %s", address, removalMemory)
		}
	}
	if !noted(third) {
		t.Errorf("a recent removal was forgotten")
	}
}

// A replica that does not lead forgets a removal once a lease records its
// hold (the leader wrote it): kept for the hour, it would be written again
// when this replica takes over, onto a lease whose hold the leader had
// dropped since (the node proved it stopped the Pod; the lease was bound
// again, to the StatefulSet's next Pod), and a Retained lease held so is
// not reclaimed.
func TestAReplicaForgetsTheRemovalsALeaseRecords(t *testing.T) {
	orphanMargin = 0
	t.Cleanup(func() { orphanMargin = 10 * time.Second })
	const address = "02:00:00:00:00:78"
	pod, lease, node := forcedPodFixture(address)
	lease.DeletionTimestamp, lease.Finalizers = nil, nil
	h := newHarness(t, false, []runtime.Object{lease}, []runtime.Object{pod, node})
	events := h.standby()
	ctx := context.Background()
	h.eventually("the lease to be known", func() bool { return events.leased(testNamespace, address) })
	h.deletePod("forced")
	removed := func() []podOnNode {
		entries, _ := events.onNodes.of(indexKey(testNamespace, address))
		return entries
	}
	h.eventually("the removal to be noted", func() bool { return len(removed()) == 1 })

	// The leader records it, rounded up to the second.
	stoppedBy := metav1.NewTime(removed()[0].stoppedBy.Truncate(time.Second).Add(time.Second))
	recorded := h.lease(mustMAC(address).Name())
	recorded.Annotations = map[string]string{macpool.NodeHoldsAnnotation: macpool.FormatNodeHolds([]macpool.NodeHold{{Node: "node-1", Pod: "forced", StoppedBy: stoppedBy}})}
	if _, err := h.leases.MacpoolV1alpha1().MacLeases(testNamespace).Update(ctx, recorded, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the recorded removal to be forgotten", func() bool { return len(removed()) == 0 })
}

// standby runs the informers as a replica that does not lead: its
// PodEvents follows the Pods, and no controller runs. It returns them once
// they have had the first list.
func (h *harness) standby() *PodEvents {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	go h.leaseInformer.RunWithContext(ctx)
	h.startInformers(ctx.Done())
	events := h.controller.config.PodEvents
	h.eventually("the Pod events to sync", events.HasSynced)
	return events
}
