package lease

import (
	"context"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/klog/v2"
)

// checkpointEvery is how often the leader saves its checkpoint (see
// pod_replay.go for what it is for).
var checkpointEvery = 10 * time.Second

// Checkpoints keeps a Pod resourceVersion across the restarts of every
// replica.
type Checkpoints interface {
	// Load returns the last resourceVersion saved, "" if none was.
	Load(ctx context.Context) (string, error)
	Save(ctx context.Context, resourceVersion string) error
}

// resourceVersion reads an object's resourceVersion as kube-apiserver's
// own watch cache does (an etcd revision); 0 if it is not one.
func resourceVersion(obj interface{}) uint64 {
	object, err := meta.Accessor(obj)
	if err != nil {
		return 0
	}
	version, err := storage.APIObjectVersioner{}.ParseResourceVersion(object.GetResourceVersion())
	if err != nil {
		return 0
	}
	return version
}

// advance notes the resourceVersion of an event handled. Only the Pod
// informer's handler calls it, one event at a time.
func (e *PodEvents) advance(last, pod *corev1.Pod) {
	var version uint64
	switch {
	case pod != nil:
		version = resourceVersion(pod)
	case last != nil:
		version = resourceVersion(last)
	}
	if version > e.handled.Load() {
		e.handled.Store(version)
	}
}

// progress returns the checkpoint to save when the events up to handled
// are handled: handled, or just before the earliest removal whose hold no
// lease records yet; false if there is none to save.
func (e *PodEvents) progress(handled uint64) (uint64, bool) {
	oldest, _, found := e.onNodes.oldestUnrecorded()
	switch {
	case found && oldest.removedAt == 0:
		// A removal of unknown version: nothing can be said to be past it.
		return 0, false
	case found && oldest.removedAt-1 < handled:
		return oldest.removedAt - 1, true
	}
	return handled, handled != 0
}

// checkpointStall is how long one removal may keep the checkpoint from
// moving before the leader says so: its hold is written onto its lease in
// milliseconds, normally.
var checkpointStall = 5 * time.Minute

// stall is the removal that keeps the checkpoint back, and since when.
type stall struct {
	key   string
	entry podOnNode
	since time.Time
	said  bool
}

// reportStall logs a removal that has kept the checkpoint back for
// checkpointStall; a variable for the tests.
var reportStall = func(key string, entry podOnNode, since time.Time) {
	klog.ErrorS(nil, "The hold of a removed Pod is still not on its lease: the Pod watch checkpoint stays before the removal, "+
		"and a start after kube-apiserver has dropped the Pod events since then would not know the removals that followed",
		"lease", key, "pod", entry.pod, "node", entry.node, "since", since)
}

// watchStall notes, at now, the removal that keeps the checkpoint back, and
// reports one that has for checkpointStall, once.
func (e *PodEvents) watchStall(last *stall, now time.Time) {
	entry, key, found := e.onNodes.oldestUnrecorded()
	switch {
	case !found:
		*last = stall{}
	case key != last.key || entry.uid != last.entry.uid:
		*last = stall{key: key, entry: entry, since: now}
	case !last.said && now.Sub(last.since) >= checkpointStall:
		reportStall(key, entry, last.since)
		last.said = true
	}
}

// saveCheckpoints saves the checkpoint every checkpointEvery until ctx is
// done, and once more then. A term runs it: only the leader writes holds.
//
// What it saves lags one period behind the events handled: a relist after
// a broken watch hands the handler the Pods that exist before the removals
// of those that went (client-go's tombstones), and a checkpoint taken in
// between would pass those removals by.
func (e *PodEvents) saveCheckpoints(ctx context.Context) {
	if e.replay == nil {
		return
	}
	var saved, sampled uint64
	var stalled stall
	save := func(ctx context.Context) {
		e.watchStall(&stalled, e.now())
		version, ok := e.progress(sampled)
		sampled = e.handled.Load()
		if !ok || version == saved {
			return
		}
		if err := e.replay.Checkpoints.Save(ctx, strconv.FormatUint(version, 10)); err != nil {
			klog.ErrorS(err, "Saving the Pod watch checkpoint failed; the next one is in a moment", "resourceVersion", version)
			return
		}
		saved = version
		klog.V(4).InfoS("Saved the Pod watch checkpoint", "resourceVersion", version)
	}
	ticker := time.NewTicker(checkpointEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			// An etcd that does not answer delays the next save, not the
			// term.
			each, cancel := context.WithTimeout(ctx, checkpointEvery)
			save(each)
			cancel()
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			save(final)
			cancel()
			return
		}
	}
}
