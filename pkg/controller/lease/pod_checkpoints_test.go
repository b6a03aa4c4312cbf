package lease

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// The checkpoint vouches that every removal before it is on a lease: it
// stays just before the earliest removal whose hold no lease records yet,
// and moves on once one does.
func TestTheCheckpointStaysBeforeUnrecordedRemovals(t *testing.T) {
	const address = "02:00:00:00:00:7c"
	pod, _, _ := forcedPodFixture(address)
	pod.ResourceVersion = "250"
	h := newHarness(t, false, []runtime.Object{testLease(address, kindPod, "forced", "Bound", nil)}, nil)
	events := h.standby()

	if version, ok := events.progress(0); ok {
		t.Errorf("with no event handled, the checkpoint is %d, want none", version)
	}
	if version, ok := events.progress(300); !ok || version != 300 {
		t.Errorf("with no removal noted, the checkpoint is %d (%v), want the events handled, 300", version, ok)
	}
	events.replayRemoval(pod)
	if version, ok := events.progress(300); !ok || version != 249 {
		t.Errorf("with a removal at 250 not on its lease, the checkpoint is %d (%v), want 249", version, ok)
	}
	removed, _ := events.onNodes.of(indexKey(testNamespace, address))
	events.onNodes.forgetRecorded(indexKey(testNamespace, address), []macpool.NodeHold{{Node: "node-1", Pod: "forced", StoppedBy: metav1.NewTime(removed[0].stoppedBy)}})
	if version, ok := events.progress(300); !ok || version != 300 {
		t.Errorf("once the lease records the hold, the checkpoint is %d (%v), want 300", version, ok)
	}

	unknown := pod.DeepCopy()
	unknown.ResourceVersion = ""
	events.replayRemoval(unknown)
	if version, ok := events.progress(300); ok {
		t.Errorf("with a removal of unknown version not on its lease, the checkpoint is %d, want none", version)
	}
}

// The leader saves the checkpoint every period, one period behind the
// events it handled, and once more as its term ends.
func TestTheLeaderSavesTheCheckpoint(t *testing.T) {
	h, events, checkpoints := checkpointing(t, 20*time.Millisecond)

	stop := saving(t, events)
	events.handled.Store(100)
	h.eventually("the checkpoint 100", func() bool { return slices.Contains(checkpoints.history(), "100") })
	events.handled.Store(200)
	h.eventually("the checkpoint 200", func() bool { return slices.Contains(checkpoints.history(), "200") })
	events.handled.Store(300)
	stop()
	saved := checkpoints.history()
	if !slices.IsSorted(saved) || slices.Compact(slices.Clone(saved))[0] != "100" {
		t.Errorf("the checkpoints saved were %v, want 100 then 200 and on, in order", saved)
	}
	if got := saved[len(saved)-1]; got != "200" && got != "300" {
		t.Errorf("the last checkpoint is %s, want at least 200", got)
	}
}

// A removal noted by a replica that does not lead, whose lease then goes
// (the leader saw the node stop the Pod, and released the MAC), needs no
// hold: the replica must forget it then. Kept, it would stay for good once
// the replica leads (a leader forgets a removal only as it syncs its lease,
// and nothing queues a lease that is gone), and hold the checkpoint before
// it for as long as the term lasts: the next start would find the events
// since that checkpoint gone (410), and hold none of the removals of its
// own gap. A replica's replay, at every start of a rolling upgrade, notes
// such removals: their holds are stamped later than the leader's, which
// then do not make the replica forget them (forgetRecorded).
func TestAGoneLeaseDoesNotHoldTheCheckpoint(t *testing.T) {
	const address = "02:00:00:00:00:7d"
	pod, lease, node := forcedPodFixture(address)
	lease.DeletionTimestamp, lease.Finalizers = nil, nil
	h := newHarness(t, false, []runtime.Object{lease}, []runtime.Object{pod, node})
	events := h.standby()
	h.eventually("the lease to be known", func() bool { return events.leased(testNamespace, address) })
	h.deletePod("forced")
	h.eventually("the removal to be noted", func() bool {
		_, _, found := events.onNodes.oldestUnrecorded()
		return found
	})
	if err := h.leases.MacpoolV1alpha1().MacLeases(testNamespace).Delete(context.Background(), lease.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the lease to be gone", func() bool { return !events.leased(testNamespace, address) })

	h.run()
	h.eventually("the removal of a gone lease to be forgotten", func() bool {
		_, _, found := events.onNodes.oldestUnrecorded()
		return !found
	})
}

// What the leader saves lags one period behind the events handled: a
// relist after a broken watch hands the handler the Pods that exist (up to
// the list's resourceVersion) before the tombstones of those that went,
// and a checkpoint taken in between would pass those removals by.
func TestTheCheckpointLagsAPeriodBehindTheEvents(t *testing.T) {
	const address = "02:00:00:00:00:81"
	pod, lease := removedAt150(address)
	h, events, checkpoints := checkpointing(t, 500*time.Millisecond, lease)
	h.eventually("the lease to be known", func() bool { return events.leased(testNamespace, address) })

	saving(t, events)
	events.handled.Store(100)
	h.eventually("the checkpoint 100", func() bool { return slices.Contains(checkpoints.history(), "100") })
	// A relist: the Pods that exist, up to 300, just after a save...
	events.handled.Store(300)
	// ...and, past the next save, the tombstone of one removed at 150.
	time.Sleep(checkpointEvery * 3 / 2)
	events.replayRemoval(pod)
	h.eventually("the checkpoint just before the removal", func() bool { return slices.Contains(checkpoints.history(), "149") })
	if saved := checkpoints.history(); slices.Contains(saved, "300") {
		t.Errorf("the checkpoints saved were %v: 300 passed the removal at 150 before the handler had it", saved)
	}
}

// A term's checkpoints end with it, however it ends: saved on after Run
// returned (an error, its context still live), they would vouch for holds
// no controller writes any more, and the goroutine would leak.
func TestTheCheckpointsEndWithTheTerm(t *testing.T) {
	h, events, checkpoints := checkpointing(t, 20*time.Millisecond)
	events.handled.Store(100)
	h.controller.config.Networks = failingNetworks{}

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := h.controller.Run(ctx, 1); err == nil {
		t.Fatal("the term ran without its networks")
	}
	events.handled.Store(500)
	time.Sleep(10 * checkpointEvery)
	if saved := checkpoints.history(); slices.Contains(saved, "500") {
		t.Errorf("the checkpoints saved were %v: saved on after the term's Run returned", saved)
	}
}

// checkpointing is a replica that follows the Pods without leading, with
// leases, whose checkpoints go to the returned memory every period.
func checkpointing(t *testing.T, every time.Duration, leases ...runtime.Object) (*harness, *PodEvents, *memoryCheckpoints) {
	t.Helper()
	period := checkpointEvery
	checkpointEvery = every
	t.Cleanup(func() { checkpointEvery = period })
	h := newHarness(t, false, leases, nil)
	events := h.standby()
	checkpoints := &memoryCheckpoints{}
	events.replay = &Replay{Checkpoints: checkpoints}
	return h, events, checkpoints
}

// A removal whose hold stays off its lease (a lease the leader cannot
// write) keeps the checkpoint from moving, for good: the leader says so,
// once, naming the lease, rather than let the next start find out (410).
func TestAStalledCheckpointIsSaid(t *testing.T) {
	const address = "02:00:00:00:00:83"
	pod, lease := removedAt150(address)
	h, events, checkpoints := checkpointing(t, 10*time.Millisecond, lease)
	h.eventually("the lease to be known", func() bool { return events.leased(testNamespace, address) })
	stall := checkpointStall
	checkpointStall = 500 * time.Millisecond
	t.Cleanup(func() { checkpointStall = stall })
	var mu sync.Mutex
	var said []string
	report := reportStall
	reportStall = func(key string, entry podOnNode, _ time.Time) {
		mu.Lock()
		defer mu.Unlock()
		said = append(said, key+" "+entry.pod)
	}
	t.Cleanup(func() { reportStall = report })

	events.handled.Store(300)
	events.replayRemoval(pod)
	saving(t, events)
	h.eventually("the checkpoint before the removal", func() bool { return slices.Contains(checkpoints.history(), "149") })
	time.Sleep(checkpointStall / 5)
	mu.Lock()
	early := len(said)
	mu.Unlock()
	if early != 0 {
		t.Fatalf("a removal was said to stall the checkpoint before checkpointStall: %v", said)
	}
	h.eventually("the stall to be said", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(said) > 0
	})
	time.Sleep(checkpointStall)
	mu.Lock()
	defer mu.Unlock()
	if want := []string{testNamespace + "/" + address + " forced"}; !slices.Equal(said, want) {
		t.Errorf("the stalls said were %v, want %v, once", said, want)
	}
}

// saving runs the leader's checkpoint saves of events until the returned
// stop is called, or the test ends; stop waits for the last save.
func saving(t *testing.T, events *PodEvents) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); events.saveCheckpoints(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// removedAt150 is forcedPodFixture's Pod, removed at resourceVersion 150,
// and its lease, not deleted.
func removedAt150(address string) (*corev1.Pod, *v1alpha1.MacLease) {
	pod, lease, _ := forcedPodFixture(address)
	lease.DeletionTimestamp, lease.Finalizers = nil, nil
	pod.ResourceVersion = "150"
	return pod, lease
}
