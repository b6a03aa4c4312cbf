package lease

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	clienttesting "k8s.io/client-go/testing"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// memoryCheckpoints keeps a checkpoint in memory, and every one saved.
type memoryCheckpoints struct {
	mu      sync.Mutex
	current string
	saved   []string
	loadErr error
}

func (c *memoryCheckpoints) Load(context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current, c.loadErr
}

func (c *memoryCheckpoints) Save(_ context.Context, resourceVersion string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.current = resourceVersion
	c.saved = append(c.saved, resourceVersion)
	return nil
}

func (c *memoryCheckpoints) history() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.saved)
}

// firstList is the resourceVersion kube-apiserver lists the Pods at in the
// replay tests: past their checkpoints, as after a restart.
const firstList = "1000"

// podsListedAt makes the fake kube-apiserver list the Pods at version (the
// fake's own versions count its objects).
func (h *harness) podsListedAt(version string) {
	pods := corev1.SchemeGroupVersion.WithResource("pods")
	h.kube.PrependReactor("list", "pods", func(action clienttesting.Action) (bool, runtime.Object, error) {
		obj, err := h.kube.Tracker().List(pods, corev1.SchemeGroupVersion.WithKind("Pod"), action.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		list := obj.(*corev1.PodList)
		list.ResourceVersion = version
		return true, list, nil
	})
}

// reportTo makes replay report to the returned function's list.
func reportTo(replay *Replay) func() []string {
	var mu sync.Mutex
	var results []string
	replay.Report = func(result string) {
		mu.Lock()
		defer mu.Unlock()
		results = append(results, result)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(results)
	}
}

// replayedWatch answers a watch from the checkpoint with events, then stays
// open, as kube-apiserver's does; it records the resourceVersion asked.
func replayedWatch(asked *string, events ...watch.Event) func(context.Context, string) (watch.Interface, error) {
	return func(_ context.Context, resourceVersion string) (watch.Interface, error) {
		*asked = resourceVersion
		w := watch.NewFakeWithChanSize(len(events), false)
		for _, event := range events {
			w.Action(event.Type, event.Object)
		}
		return w, nil
	}
}

// withReplay makes the harness's Pod events replay through replay before
// they sync, as the server's assembly does, and runs the replay.
func (h *harness) withReplay(replay *Replay) *PodEvents {
	h.podsListedAt(firstList)
	events := h.controller.config.PodEvents
	events.replay = replay
	events.replayed.Store(false)
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	go events.Replay(ctx)
	return events
}

func shortReplay(t *testing.T) {
	quiet := replayQuiet
	replayQuiet = 100 * time.Millisecond
	t.Cleanup(func() { replayQuiet = quiet })
}

// A Pod removed with --force while the only replica was down leaves an
// event that no process saw. The process that starts replays the Pod watch
// from the last leader's checkpoint, and holds the MAC of that Pod as if it
// had seen it go; without the replay it releases it
// (TestATermHoldsTheRemovalsSeenBeforeIt, "removed while no replica
// followed the Pods").
func TestAStartHoldsTheRemovalsNoReplicaSaw(t *testing.T) {
	orphanMargin = 0
	t.Cleanup(func() { orphanMargin = 10 * time.Second })
	shortReplay(t)
	const address = "02:00:00:00:00:78"

	pod, lease, node := forcedPodFixture(address)
	pod.ResourceVersion = "105"
	h := newHarness(t, false, []runtime.Object{lease}, []runtime.Object{node})
	var asked string
	replay := &Replay{
		Checkpoints: &memoryCheckpoints{current: "100"},
		Watch:       replayedWatch(&asked, watch.Event{Type: watch.Deleted, Object: pod}),
	}
	reported := reportTo(replay)
	h.withReplay(replay)
	h.run()
	if asked != "100" {
		t.Errorf("the replay watched from %q, want the checkpoint 100", asked)
	}
	h.eventually("the lease to record node-1's hold", func() bool {
		holds, err := macpool.ParseNodeHolds(h.lease(mustMAC(address).Name()).Annotations[macpool.NodeHoldsAnnotation])
		return err == nil && len(holds) == 1 && holds[0].Node == "node-1" && holds[0].Pod == "forced"
	})
	h.consistently("the lease", func() bool { return h.protected(address) })
	if got := reported(); !slices.Equal(got, []string{ReplayWatched}) {
		t.Errorf("the replay reported %v, want %s", got, ReplayWatched)
	}
}

// A replay that cannot be made says so and lets the controller start: the
// removals of that gap are not held, as before replays existed, but the
// rest of the work does not wait for them.
func TestAFailedReplayDoesNotStopTheController(t *testing.T) {
	orphanMargin = 0
	t.Cleanup(func() { orphanMargin = 10 * time.Second })
	shortReplay(t)
	load := loadTimeout
	loadTimeout = 50 * time.Millisecond
	t.Cleanup(func() { loadTimeout = load })
	const address = "02:00:00:00:00:79"

	gone := apierrors.NewResourceExpired("too old resource version: 100 (200)")
	for _, c := range []struct {
		name   string
		replay func(asked *string) *Replay
		// result is what the metrics are told.
		result string
	}{{
		name:   "the checkpoint is older than what kube-apiserver keeps (on the watch)",
		result: ReplayFailed,
		replay: func(asked *string) *Replay {
			return &Replay{Checkpoints: &memoryCheckpoints{current: "100"},
				Watch: replayedWatch(asked, watch.Event{Type: watch.Error, Object: &gone.ErrStatus})}
		},
	}, {
		name:   "the checkpoint is older than what kube-apiserver keeps (on the request)",
		result: ReplayFailed,
		replay: func(asked *string) *Replay {
			return &Replay{Checkpoints: &memoryCheckpoints{current: "100"},
				Watch: func(context.Context, string) (watch.Interface, error) { return nil, gone }}
		},
	}, {
		name:   "the checkpoint cannot be read",
		result: ReplayFailed,
		replay: func(asked *string) *Replay {
			return &Replay{Checkpoints: &memoryCheckpoints{loadErr: errors.New("etcd is down")},
				Watch: replayedWatch(asked)}
		},
	}, {
		name:   "the checkpoint is past kube-apiserver's Pods (its etcd restored)",
		result: ReplayFailed,
		replay: func(asked *string) *Replay {
			return &Replay{Checkpoints: &memoryCheckpoints{current: "5000"},
				Watch: replayedWatch(asked, watch.Event{Type: watch.Deleted, Object: removedAtCheckpoint(address, "5001")})}
		},
	}, {
		name:   "no checkpoint was ever saved",
		result: ReplayNone,
		replay: func(asked *string) *Replay {
			return &Replay{Checkpoints: &memoryCheckpoints{}, Watch: replayedWatch(asked)}
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			_, lease, node := forcedPodFixture(address)
			h := newHarness(t, false, []runtime.Object{lease}, []runtime.Object{node})
			var asked string
			replay := c.replay(&asked)
			reported := reportTo(replay)
			h.withReplay(replay)
			h.run()
			h.eventually("the lease to go", func() bool { return !h.protected(address) })
			if got := reported(); !slices.Equal(got, []string{c.result}) {
				t.Errorf("the replay reported %v, want %s", got, c.result)
			}
		})
	}
}

// The replay ends at the first event at or past the first list: what
// follows, the Pod informer hands to the handler itself.
func TestAReplayEndsAtTheFirstList(t *testing.T) {
	quiet := replayQuiet
	replayQuiet = time.Minute
	t.Cleanup(func() { replayQuiet = quiet })
	const address, later = "02:00:00:00:00:7a", "02:00:00:00:00:7b"

	removed, _, _ := forcedPodFixture(address)
	removed.ResourceVersion = "150"
	changed := testPod("other", later, corev1.PodRunning)
	changed.ResourceVersion = "200"
	after, _, _ := forcedPodFixture(later)
	after.Name, after.UID, after.ResourceVersion = "after", types.UID("pod-after"), "250"

	h := newHarness(t, false, []runtime.Object{testLease(address, kindPod, "forced", "Bound", nil), testLease(later, kindPod, "after", "Bound", nil)}, nil)
	events := h.standby()
	var asked string
	events.replay = &Replay{Watch: replayedWatch(&asked,
		watch.Event{Type: watch.Deleted, Object: removed},
		watch.Event{Type: watch.Modified, Object: changed},
		watch.Event{Type: watch.Deleted, Object: after})}
	done := make(chan struct{})
	var noted int
	var err error
	go func() {
		defer close(done)
		noted, err = events.replayFrom(context.Background(), "100", "200")
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the replay did not end at the first list's resourceVersion")
	}
	if err != nil || noted != 1 {
		t.Fatalf("the replay noted %d removals (error %v), want the one before the first list", noted, err)
	}
	if removals, _ := events.onNodes.of(indexKey(testNamespace, address)); len(removals) != 1 {
		t.Errorf("the removal before the first list is not noted: %v", removals)
	}
	if removals, _ := events.onNodes.of(indexKey(testNamespace, later)); len(removals) != 0 {
		t.Errorf("the replay went past the first list: %v", removals)
	}
}

// A checkpoint older than the Pod events kube-apiserver keeps: the Pods as
// they were at it, read page by page, are compared with the first list. One
// that is gone since, and may still run as it was then, is held; one still
// there (the same Pod) is not, nor is another Pod created since under the
// name of one that went.
func TestATooOldCheckpointComparesThePodsThenWithTheFirstList(t *testing.T) {
	orphanMargin = 0
	t.Cleanup(func() { orphanMargin = 10 * time.Second })
	shortReplay(t)
	page := replayPage
	replayPage = 1
	t.Cleanup(func() { replayPage = page })
	const removedMAC, keptMAC = "02:00:00:00:00:7d", "02:00:00:00:00:7e"

	removed, removedLease, node := forcedPodFixture(removedMAC)
	removed.DeletionTimestamp = nil
	kept := testPod("kept", keptMAC, corev1.PodRunning)
	kept.Spec.NodeName, kept.Status.HostIP = "node-1", "192.0.2.10"
	keptLease := testLease(keptMAC, kindPod, "kept", "Bound", nil)
	keptLease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: kindPod, Name: "kept", UID: kept.UID}}
	h := newHarness(t, false, []runtime.Object{removedLease, keptLease}, []runtime.Object{kept, node})

	gone := apierrors.NewResourceExpired("too old resource version: 100 (200)")
	pages := []*corev1.PodList{
		{ListMeta: metav1.ListMeta{Continue: "page-2"}, Items: []corev1.Pod{*kept}},
		{Items: []corev1.Pod{*removed}},
	}
	var asked []metav1.ListOptions
	var mu sync.Mutex
	replay := &Replay{
		Checkpoints: &memoryCheckpoints{current: "100"},
		Watch:       func(context.Context, string) (watch.Interface, error) { return nil, gone },
		List: func(_ context.Context, options metav1.ListOptions) (*corev1.PodList, error) {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, options)
			return pages[len(asked)-1], nil
		},
	}
	reported := reportTo(replay)
	h.withReplay(replay)
	h.run()
	h.eventually("the removed Pod's lease to record node-1's hold", func() bool {
		holds, err := macpool.ParseNodeHolds(h.lease(mustMAC(removedMAC).Name()).Annotations[macpool.NodeHoldsAnnotation])
		return err == nil && len(holds) == 1 && holds[0].Node == "node-1" && holds[0].Pod == "forced"
	})
	h.consistently("the removed Pod's lease", func() bool { return h.protected(removedMAC) })
	if holds := h.lease(mustMAC(keptMAC).Name()).Annotations[macpool.NodeHoldsAnnotation]; holds != "" {
		t.Errorf("the Pod still there got holds %s", holds)
	}
	if got := reported(); !slices.Equal(got, []string{ReplayListed}) {
		t.Errorf("the replay reported %v, want %s", got, ReplayListed)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 2 || asked[0].ResourceVersion != "100" || asked[0].ResourceVersionMatch != metav1.ResourceVersionMatchExact || asked[1].Continue != "page-2" {
		t.Errorf("the lists asked were %+v, want the checkpoint's exact version, then its next page", asked)
	}
}

// A replay rides out what cuts a watch short, as any watcher does: it
// watches again from the last event it had. Given up at once, a
// kube-apiserver that answered 429 or 500, or closed the watch, left every
// removal of the gap unheld, for good: the next checkpoint passes them.
func TestAReplayWatchesAgainAfterATransientFailure(t *testing.T) {
	retry := replayRetry
	replayRetry = 10 * time.Millisecond
	t.Cleanup(func() { replayRetry = retry })
	shortReplay(t)
	const first, second = "02:00:00:00:00:7e", "02:00:00:00:00:7f"
	removed := func(address, name, version string) *corev1.Pod {
		pod, _, _ := forcedPodFixture(address)
		pod.Name, pod.UID, pod.ResourceVersion = name, types.UID("uid-"+name), version
		return pod
	}
	for _, c := range []struct {
		name  string
		watch func(calls int, resourceVersion string) (watch.Interface, error)
	}{{
		name: "the watch request fails",
		watch: func(calls int, resourceVersion string) (watch.Interface, error) {
			if calls == 1 {
				return nil, apierrors.NewTooManyRequests("the server is starting", 1)
			}
			w := watch.NewFakeWithChanSize(2, false)
			w.Delete(removed(first, "a", "150"))
			w.Delete(removed(second, "b", "160"))
			return w, nil
		},
	}, {
		name: "the watch ends early",
		watch: func(calls int, resourceVersion string) (watch.Interface, error) {
			w := watch.NewFakeWithChanSize(2, false)
			switch {
			case calls == 1 && resourceVersion == "100":
				w.Delete(removed(first, "a", "150"))
				w.Stop()
			case calls == 2 && resourceVersion == "150":
				w.Delete(removed(second, "b", "160"))
			}
			return w, nil
		},
	}, {
		name: "the watch sends an error",
		watch: func(calls int, resourceVersion string) (watch.Interface, error) {
			w := watch.NewFakeWithChanSize(2, false)
			switch {
			case calls == 1 && resourceVersion == "100":
				w.Delete(removed(first, "a", "150"))
				w.Error(&apierrors.NewInternalError(errors.New("etcd leader changed")).ErrStatus)
			case calls == 2 && resourceVersion == "150":
				w.Delete(removed(second, "b", "160"))
			}
			return w, nil
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, false, []runtime.Object{testLease(first, kindPod, "a", "Bound", nil), testLease(second, kindPod, "b", "Bound", nil)}, nil)
			events := h.standby()
			h.eventually("the leases to be known", func() bool {
				return events.leased(testNamespace, first) && events.leased(testNamespace, second)
			})
			var mu sync.Mutex
			calls := 0
			events.replay = &Replay{Watch: func(_ context.Context, resourceVersion string) (watch.Interface, error) {
				mu.Lock()
				defer mu.Unlock()
				calls++
				return c.watch(calls, resourceVersion)
			}}
			noted, err := events.replayFrom(context.Background(), "100", "200")
			if err != nil || noted != 2 {
				t.Fatalf("the replay noted %d removals (error %v), want both", noted, err)
			}
			for _, address := range []string{first, second} {
				if removals, _ := events.onNodes.of(indexKey(testNamespace, address)); len(removals) != 1 {
					t.Errorf("the removal with %s is not noted: %v", address, removals)
				}
			}
		})
	}
}

// The controller's term waits for the replay: a watch that kube-apiserver
// never answers must not keep it waiting for good.
func TestAReplayThatHangsEnds(t *testing.T) {
	timeout := replayTimeout
	replayTimeout = 200 * time.Millisecond
	t.Cleanup(func() { replayTimeout = timeout })
	h := newHarness(t, false, nil, nil)
	h.withReplay(&Replay{
		Checkpoints: &memoryCheckpoints{current: "100"},
		Watch: func(ctx context.Context, _ string) (watch.Interface, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	})
	h.run()
	h.eventually("the Pod events to sync", h.controller.config.PodEvents.HasSynced)
}

// The term waits for the replay: started before it has noted the removals
// no replica saw, it would release their leases at once.
func TestATermWaitsForTheReplay(t *testing.T) {
	orphanMargin = 0
	t.Cleanup(func() { orphanMargin = 10 * time.Second })
	shortReplay(t)
	const address = "02:00:00:00:00:80"
	pod, lease, node := forcedPodFixture(address)
	pod.ResourceVersion = "105"
	h := newHarness(t, false, []runtime.Object{lease}, []runtime.Object{node})
	answer := make(chan struct{})
	h.withReplay(&Replay{
		Checkpoints: &memoryCheckpoints{current: "100"},
		Watch: func(ctx context.Context, _ string) (watch.Interface, error) {
			select {
			case <-answer:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			w := watch.NewFakeWithChanSize(1, false)
			w.Delete(pod)
			return w, nil
		},
	})
	// Not h.run, which waits for the term to start: it must not yet.
	h.start()

	h.consistently("the lease, while the replay has not answered", func() bool { return h.protected(address) })
	close(answer)
	h.eventually("the lease to record node-1's hold", func() bool {
		holds, err := macpool.ParseNodeHolds(h.lease(mustMAC(address).Name()).Annotations[macpool.NodeHoldsAnnotation])
		return err == nil && len(holds) == 1 && holds[0].Node == "node-1"
	})
	h.consistently("the lease", func() bool { return h.protected(address) })
}

type failingNetworks struct{}

func (failingNetworks) Known(string, string) bool { return false }

func (failingNetworks) OnChange(func(string, string)) (func(), error) {
	return nil, errors.New("no NetworkAttachmentDefinitions")
}

// A replay notes a removal only where a lease has the MAC (PodEvents.leased),
// so it waits for the leases to be known: in the server, the leases' first
// list (every lease decoded) ends well after the Pods'.
func TestAReplayWaitsForTheLeases(t *testing.T) {
	shortReplay(t)
	const address = "02:00:00:00:00:82"
	pod, lease, _ := forcedPodFixture(address)
	pod.ResourceVersion = "105"
	h := newHarness(t, false, []runtime.Object{lease}, nil)
	var asked string
	h.podsListedAt(firstList)
	events := h.controller.config.PodEvents
	events.replay = &Replay{
		Checkpoints: &memoryCheckpoints{current: "100"},
		Watch:       replayedWatch(&asked, watch.Event{Type: watch.Deleted, Object: pod}),
	}
	events.replayed.Store(false)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h.startInformers(ctx.Done())
	h.eventually("the Pods' first list", events.registration.HasSynced)
	replayed := make(chan struct{})
	go func() { defer close(replayed); events.Replay(ctx) }()
	time.Sleep(2 * replayQuiet)
	go h.leaseInformer.RunWithContext(ctx)
	<-replayed
	if removals, _ := events.onNodes.of(indexKey(testNamespace, address)); len(removals) != 1 {
		t.Errorf("the removal replayed before the leases were known is not noted: %v", removals)
	}
}

// removedAtCheckpoint is the Pod of forcedPodFixture removed at version.
func removedAtCheckpoint(address, version string) *corev1.Pod {
	pod, _, _ := forcedPodFixture(address)
	pod.ResourceVersion = version
	return pod
}
