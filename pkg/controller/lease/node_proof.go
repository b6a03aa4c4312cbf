package lease

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// nodeStopped tells whether node has surely stopped the Pods removed from
// the API before since: the Node object is gone, its kubelet reported it
// Ready after since (it had heard of the removals then, and stops such a
// Pod within its grace period), or an administrator marked it out of
// service while it is not Ready.
//
// "After since" is by this replica's clock, which since is too: the
// kubelet's heartbeat is a time by the node's clock, and a node whose
// clock runs ahead would prove, with a heartbeat written before the
// removal, that it stopped a Pod it may still run. So the proof is a
// heartbeat that this replica saw appear after a read, made after since,
// that still showed an earlier one (nodeReads.wroteSince).
func (c *Controller) nodeStopped(ctx context.Context, node string, since time.Time) (bool, error) {
	object, err := c.nodes.get(ctx, c.config.Kube, node, c.now())
	if err != nil {
		return false, err
	}
	if object == nil {
		return true, nil
	}
	if readyHeartbeat(object) != nil {
		return c.nodes.wroteSince(node, since), nil
	}
	return outOfService(object), nil
}

// readyHeartbeat is the heartbeat of a Node whose kubelet reports it Ready,
// nil for a Node not Ready.
func readyHeartbeat(node *corev1.Node) *metav1.Time {
	for i, condition := range node.Status.Conditions {
		if condition.Type == corev1.NodeReady && condition.Status == corev1.ConditionTrue {
			return &node.Status.Conditions[i].LastHeartbeatTime
		}
	}
	return nil
}

// outOfService tells a Node tainted node.kubernetes.io/out-of-service, which
// an administrator puts on a node known to be shut down (Kubernetes'
// non-graceful node shutdown): the garbage collector of Pods force-deletes
// the Pods of such a node that is not Ready, so that their controllers
// start them elsewhere. Its word is the proof no kubelet can give; without
// it the MACs of those Pods would stay leased until a dead machine came
// back, and a replacement Pod that asks for its MAC would wait as long.
func outOfService(node *corev1.Node) bool {
	for _, taint := range node.Spec.Taints {
		if taint.Key == corev1.TaintNodeOutOfService {
			return true
		}
	}
	return false
}

// nodeReadFor is how long a read of a Node answers for every held lease
// that asks about it: the leases of the Pods of one dead node are held
// together, and would otherwise read the same Node each, every
// orphanRecheck.
const nodeReadFor = 5 * time.Second

// nodeReads are the Nodes read lately, by name; nil for one not found.
type nodeReads struct {
	mu     sync.Mutex
	byName map[string]nodeRead
	// reading are the reads of a Node under way, by name: closed when the
	// read is over. One read of a Node at a time: the heartbeats of two
	// reads at once may come back in either order, and an older heartbeat
	// taken after a later one would look written after that later read
	// (observeHeartbeatLocked), a proof that no heartbeat gave.
	reading map[string]chan struct{}
	// heartbeats are the Ready heartbeats each Node was read with, as this
	// replica saw them change, by its own clock; kept for heartbeatMemory
	// after the last read.
	heartbeats map[string]heartbeat
}

// heartbeat is what the reads of one Node showed of its Ready heartbeat.
type heartbeat struct {
	// value is the heartbeat of the last read; zero if it was not Ready.
	value metav1.Time
	// read is when the last read was made: at or before the moment it
	// showed value.
	read time.Time
	// changedAfter is when the last read that showed another value was
	// made: the kubelet wrote value after it. Zero if no read did.
	changedAfter time.Time
}

// heartbeatMemory is how long the heartbeats of a Node no hold asks about
// are kept; a hold asks every orphanRecheck.
const heartbeatMemory = time.Hour

type nodeRead struct {
	node *corev1.Node
	at   time.Time
}

// get returns the Node named name, nil if there is none, read at most
// nodeReadFor before now. A caller that finds a read of the Node under way
// waits for it, and takes its answer.
func (r *nodeReads) get(ctx context.Context, kube kubernetes.Interface, name string, now time.Time) (*corev1.Node, error) {
	r.mu.Lock()
	for {
		if read, found := r.byName[name]; found && now.Sub(read.at) < nodeReadFor {
			r.mu.Unlock()
			return read.node, nil
		}
		under, busy := r.reading[name]
		if !busy {
			break
		}
		r.mu.Unlock()
		select {
		case <-under:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// Read, or failed: then this caller reads.
		r.mu.Lock()
	}
	if r.reading == nil {
		r.reading = map[string]chan struct{}{}
	}
	done := make(chan struct{})
	r.reading[name] = done
	r.mu.Unlock()

	node, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.reading, name)
	close(done)
	switch {
	case apierrors.IsNotFound(err):
		node = nil
	case err != nil:
		return nil, err
	}
	if r.byName == nil {
		r.byName = map[string]nodeRead{}
	}
	for other, read := range r.byName {
		if now.Sub(read.at) >= nodeReadFor {
			delete(r.byName, other)
		}
	}
	r.byName[name] = nodeRead{node: node, at: now}
	r.observeHeartbeatLocked(name, node, now)
	return node, nil
}

// observeHeartbeatLocked notes the Ready heartbeat of a Node read at now.
func (r *nodeReads) observeHeartbeatLocked(name string, node *corev1.Node, now time.Time) {
	if r.heartbeats == nil {
		r.heartbeats = map[string]heartbeat{}
	}
	for other, seen := range r.heartbeats {
		if now.Sub(seen.read) >= heartbeatMemory {
			delete(r.heartbeats, other)
		}
	}
	if node == nil {
		delete(r.heartbeats, name)
		return
	}
	var value metav1.Time
	if ready := readyHeartbeat(node); ready != nil {
		value = *ready
	}
	seen, found := r.heartbeats[name]
	if found && !seen.value.Equal(&value) {
		seen.changedAfter = seen.read
	}
	// The reads of a Node are one at a time, each showing the Node as it
	// was at or after its now; but a caller's now is taken before it gets
	// its turn, and may be earlier than the read before it. The later of
	// the two still comes before this read's answer.
	seen.value = value
	if now.After(seen.read) {
		seen.read = now
	}
	r.heartbeats[name] = seen
}

// wroteSince tells whether the kubelet of the Node name wrote the Ready
// heartbeat it was last read with after a read made at or after since.
func (r *nodeReads) wroteSince(name string, since time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen, found := r.heartbeats[name]
	return found && !seen.value.IsZero() && !seen.changedAfter.IsZero() && !seen.changedAfter.Before(since)
}
