package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// Pods removed while no replica followed them.
//
// With one replica (the default: the embedded etcd, strategy Recreate), a
// Pod removed with --force while that replica restarts leaves an event that
// no process saw: the next list simply lacks the Pod, and its lease would be
// released, or retained, without the hold its node may need. So the leader
// saves, every checkpointEvery, a Pod resourceVersion up to which every
// removal is handled (its hold is on the lease, or none was needed): the
// checkpoint. A process that starts watches the Pods from it, up to its own
// first list, and notes the removals it finds as if it had seen them; its
// term then writes their holds, as for any removal seen while another
// replica led.
//
// kube-apiserver keeps the Pod events of the last 75 s at least (its watch
// cache; at least the last 100 events too). A checkpoint older than what it
// keeps is answered 410 Gone. The process then compares the Pods as they
// were at the checkpoint, which kube-apiserver reads from its etcd for the
// last 5 minutes at least (its compaction interval), with its first list:
// a Pod in the first and not in the second was removed in between, and is
// held if it may still run as it was then. A Pod started after the
// checkpoint and removed before the start is not known that way, and a
// checkpoint older still not at all; the process says so in its log.

// Replay is how a process learns of the Pods removed before it started.
type Replay struct {
	Checkpoints Checkpoints
	// Watch watches every Pod from resourceVersion on.
	Watch func(ctx context.Context, resourceVersion string) (watch.Interface, error)
	// List lists one page of Pods, for the Pods as they were at the
	// checkpoint when the watch cannot be replayed from it.
	List func(ctx context.Context, options metav1.ListOptions) (*corev1.PodList, error)
	// Report, if set, is told how the start learnt of the removals:
	// ReplayWatched, ReplayListed, ReplayNone or ReplayFailed.
	Report func(result string)
}

// The results Replay reports.
const (
	ReplayWatched = "watched"
	ReplayListed  = "listed"
	ReplayNone    = "none"
	ReplayFailed  = "failed"
)

// report tells Replay.Report the result of the start's replay.
func (e *PodEvents) report(result string) {
	if e.replay.Report != nil {
		e.replay.Report(result)
	}
}

var (
	// replayQuiet ends a replay that has had no event for that long:
	// kube-apiserver sends the events it keeps at once, and a cluster
	// where no Pod changed since the first list sends nothing more.
	replayQuiet = 2 * time.Second
	// loadTimeout bounds the retries of reading the checkpoint at start.
	loadTimeout = 30 * time.Second
	// replayPage is the page size of the list at the checkpoint.
	replayPage int64 = 500
	// replayTimeout bounds the watch of a replay, retries included: the
	// controller's term waits for it, and a kube-apiserver that never
	// answers the watch would keep it waiting for good.
	replayTimeout = time.Minute
	// replayRetry is how long a replay waits before it watches again after
	// a watch failed or ended short of the first list.
	replayRetry = time.Second
)

// Replay notes the Pods removed, while their nodes may still run them,
// between the last checkpoint and this process's first list of Pods. The
// caller runs it once, as the informers start; the Pod events have synced
// only once it has returned.
func (e *PodEvents) Replay(ctx context.Context) {
	defer e.replayed.Store(true)
	if e.replay == nil {
		return
	}
	var from string
	err := wait.PollUntilContextTimeout(ctx, time.Second, loadTimeout, true, func(ctx context.Context) (bool, error) {
		var err error
		if from, err = e.replay.Checkpoints.Load(ctx); err != nil {
			klog.ErrorS(err, "Reading the Pod watch checkpoint failed; trying again")
			return false, nil
		}
		return true, nil
	})
	switch {
	case err != nil:
		klog.ErrorS(err, "Could not read the Pod watch checkpoint: the MACs of Pods removed with --force while no replica ran are not held")
		e.report(ReplayFailed)
		return
	case from == "":
		klog.InfoS("No Pod watch checkpoint yet (a first start): no Pod removal to replay")
		e.report(ReplayNone)
		return
	}
	// The leases tell which removals matter (PodEvents.leased); the first
	// list tells where the replay may end.
	if !cache.WaitForCacheSync(ctx.Done(), e.registration.HasSynced, e.leasesSynced) {
		return
	}
	// Read now, not at the Pods' first list: the handler noted no removal
	// it had before the leases were known (no lease, no hold), and the
	// reflector moves this past every event before handing it on, so the
	// replay covers those too.
	until := e.informer.LastSyncResourceVersion()
	if newer(from, until) {
		// kube-apiserver's etcd was restored from a backup, or the
		// cluster rebuilt: its resourceVersions are not the ones the
		// checkpoint counts in.
		klog.ErrorS(nil, "The Pod watch checkpoint is past kube-apiserver's Pods (was its etcd restored?): the MACs of Pods removed with --force while no replica ran are not held",
			"checkpoint", from, "firstList", until)
		e.report(ReplayFailed)
		return
	}
	result := ReplayWatched
	removals, err := e.replayFrom(ctx, from, until)
	if gone(err) && e.replay.List != nil {
		klog.InfoS("kube-apiserver no longer keeps the Pod events since the checkpoint: comparing the Pods as they were then with the first list",
			"checkpoint", from, "firstList", until)
		result = ReplayListed
		removals, err = e.replayFromList(ctx, from)
	}
	if err != nil && ctx.Err() != nil {
		klog.InfoS("Replaying the Pod watch from the checkpoint: stopped with the server", "checkpoint", from)
		return
	}
	if err != nil {
		klog.ErrorS(err, "Replaying the Pod watch from the checkpoint failed: the MACs of Pods removed with --force between the checkpoint and this start are not held",
			"checkpoint", from, "firstList", until)
		e.report(ReplayFailed)
		return
	}
	klog.InfoS("Replayed the Pod removals since the checkpoint", "checkpoint", from, "firstList", until, "removals", removals, "from", result)
	e.report(result)
}

// errReplayCut is a replay whose watch ended before it reached the first
// list.
var errReplayCut = errors.New("the watch ended before it reached the first list")

// replayFrom watches the Pods from the checkpoint from, noting every
// removal, until an event at or past until (the first list), or until the
// watch has been quiet for replayQuiet. It returns how many removals it
// noted. A watch that fails, or ends short of the first list, is made
// again from the last event it had, as client-go's reflector does, for up
// to replayTimeout in all: given up at the first 429, 500 or closed
// connection, the removals of the gap would go unheld for good, as the
// next checkpoint passes them. A 410 is final: those events are gone.
func (e *PodEvents) replayFrom(ctx context.Context, from, until string) (int, error) {
	end, err := storage.APIObjectVersioner{}.ParseResourceVersion(until)
	if err != nil {
		return 0, fmt.Errorf("reading the first list's resourceVersion: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	removals := 0
	for {
		noted, last, err := e.replayWatch(ctx, from, end)
		removals += noted
		if err == nil {
			return removals, nil
		}
		if !retriable(err) {
			return removals, explainGone(err)
		}
		if last != "" {
			from = last
		}
		klog.ErrorS(err, "Replaying the Pod watch: watching again", "resourceVersion", from)
		select {
		case <-ctx.Done():
			return removals, fmt.Errorf("%w, after: %w", ctx.Err(), err)
		case <-time.After(replayRetry):
		}
	}
}

// replayWatch is one watch of replayFrom; it also returns the
// resourceVersion of the last event it had, "" if none.
func (e *PodEvents) replayWatch(ctx context.Context, from string, end uint64) (int, string, error) {
	events, err := e.replay.Watch(ctx, from)
	if err != nil {
		return 0, "", err
	}
	defer events.Stop()
	quiet := time.NewTimer(replayQuiet)
	defer quiet.Stop()
	removals, last := 0, ""
	for {
		select {
		case <-ctx.Done():
			return removals, last, ctx.Err()
		case <-quiet.C:
			return removals, last, nil
		case event, open := <-events.ResultChan():
			if !open {
				return removals, last, errReplayCut
			}
			switch event.Type {
			case watch.Error:
				return removals, last, apierrors.FromObject(event.Object)
			case watch.Deleted:
				if pod, ok := event.Object.(*corev1.Pod); ok {
					e.replayRemoval(pod)
					removals++
				}
			}
			if object, err := meta.Accessor(event.Object); err == nil && object.GetResourceVersion() != "" {
				last = object.GetResourceVersion()
			}
			if end != 0 && resourceVersion(event.Object) >= end {
				return removals, last, nil
			}
			quiet.Reset(replayQuiet)
		}
	}
}

// newer tells a resourceVersion past another; false if either is not one.
func newer(version, than string) bool {
	a, err := storage.APIObjectVersioner{}.ParseResourceVersion(version)
	if err != nil {
		return false
	}
	b, err := storage.APIObjectVersioner{}.ParseResourceVersion(than)
	return err == nil && b != 0 && a > b
}

// gone tells a 410 from kube-apiserver: it no longer has what was asked.
func gone(err error) bool {
	return err != nil && (apierrors.IsResourceExpired(err) || apierrors.IsGone(err))
}

// retriable tells a failed replay watch worth making again: not a 410
// (the events are gone), nor what asking again does not change.
func retriable(err error) bool {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		apierrors.IsResourceExpired(err), apierrors.IsGone(err),
		apierrors.IsForbidden(err), apierrors.IsUnauthorized(err),
		apierrors.IsBadRequest(err), apierrors.IsInvalid(err), apierrors.IsNotFound(err):
		return false
	}
	return true
}

// explainGone says what a 410 from kube-apiserver means here.
func explainGone(err error) error {
	if gone(err) {
		return fmt.Errorf("kube-apiserver no longer keeps the Pod events since the checkpoint (the server was down for longer than its watch cache covers): %w", err)
	}
	return err
}

// replayRemoval notes the removal of pod, as the Pod handler would have.
func (e *PodEvents) replayRemoval(pod *corev1.Pod) {
	e.onNodes.observe(pod, nil, podHolder(podMetadata(pod)), nil, e.leased, e.now())
}

// replayFromList notes as removed, as they were at the checkpoint from, the
// Pods that existed then and that the first list does not have (the Pod
// cache, which has it and what came since: a Pod removed since is noted by
// the handler as well, and noting it twice is noting it once). It returns
// how many of them it noted.
func (e *PodEvents) replayFromList(ctx context.Context, from string) (int, error) {
	options := metav1.ListOptions{ResourceVersion: from, ResourceVersionMatch: metav1.ResourceVersionMatchExact, Limit: replayPage}
	removals := 0
	for {
		list, err := e.replay.List(ctx, options)
		if err != nil {
			return removals, fmt.Errorf("listing the Pods as they were at the checkpoint: %w", explainGone(err))
		}
		for i := range list.Items {
			pod := &list.Items[i]
			if e.cached(pod) {
				continue
			}
			e.replayRemoval(pod)
			removals++
		}
		if list.Continue == "" {
			return removals, nil
		}
		options = metav1.ListOptions{Continue: list.Continue, Limit: replayPage}
	}
}

// cached tells whether the Pod cache has pod, as the same Pod (its UID).
func (e *PodEvents) cached(pod *corev1.Pod) bool {
	obj, exists, err := e.informer.GetStore().GetByKey(pod.Namespace + "/" + pod.Name)
	if err != nil || !exists {
		return false
	}
	current, ok := obj.(*corev1.Pod)
	return ok && current.UID == pod.UID
}
