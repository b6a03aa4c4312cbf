package lease

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// A Pod can leave the API while its node still runs it: `kubectl delete
// --force`, which any tenant may do to its own Pods, or the garbage
// collector of Pods on a node that stopped answering. Its sandbox keeps its
// MACs on the network until the kubelet hears of the removal and stops it,
// which on a partitioned node may be never. The lease controller would
// otherwise release those MACs at once, and the allocator hand them to
// another namespace's Pod on the same L2. So the MACs of a Pod removed while
// it may still run (mayStillRun) stay leased until its node proves it has
// stopped it: the Node is gone, or its kubelet reported the node Ready after
// the Pod's grace period had run out since the removal.

// orphanMargin is added to a removed Pod's grace period: the kubelet needs
// a moment to hear of the removal.
var orphanMargin = 10 * time.Second

// defaultGracePeriod is a Pod's terminationGracePeriodSeconds when unset.
const defaultGracePeriod = 30 * time.Second

// orphanMaxGrace bounds the grace period a removed Pod's hold counts. The
// Pod's creator writes terminationGracePeriodSeconds, with no upper limit:
// a tenant who set years, let a kubelet start the Pod and removed it with
// --force would keep its MACs (any free MAC it asked for, in any pool) for
// those years, with no object, while its container exits at once. Past the
// bound, a node that reported Ready proves its kubelet heard of the
// removal; only a container that ignores SIGTERM for longer may outlive
// the lease, as every such Pod did before holds existed.
const orphanMaxGrace = time.Hour

// orphanRecheck is how often a node that has not proved it stopped a removed
// Pod is asked again. A Node's Ready condition is reported every few minutes
// at least (nodeStatusReportFrequency).
const orphanRecheck = 30 * time.Second

// orphan is a MAC of a Pod removed while its node may still run it.
type orphan struct {
	pod  string
	node string
	// stoppedBy is when the kubelet, had it heard of the removal, would
	// have stopped the Pod.
	stoppedBy time.Time
}

// orphans are the MACs of removed Pods that their nodes may still run, by
// namespace/MAC. They live in the leader's memory: a new leader does not
// know the Pods removed before its term.
type orphans struct {
	mu    sync.Mutex
	byMAC map[string]orphan
}

// record notes the MACs of pod, just removed from the API, if its node may
// still run it.
func (o *orphans) record(pod *corev1.Pod, h *holder, now time.Time) {
	if h == nil || !mayStillRun(pod) {
		return
	}
	grace := defaultGracePeriod
	if seconds := pod.Spec.TerminationGracePeriodSeconds; seconds != nil {
		// Compared in seconds: a large value times time.Second would
		// overflow to a negative (no) hold.
		grace = orphanMaxGrace
		if *seconds < int64(orphanMaxGrace/time.Second) {
			grace = time.Duration(*seconds) * time.Second
		}
	}
	entry := orphan{pod: pod.Name, node: pod.Spec.NodeName, stoppedBy: now.Add(grace + orphanMargin)}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.byMAC == nil {
		o.byMAC = map[string]orphan{}
	}
	for address := range h.interfaces {
		o.byMAC[indexKey(pod.Namespace, address)] = entry
	}
	klog.InfoS("Keeping the MACs of a Pod removed while its node may still run it, until the node shows it stopped it",
		"pod", klog.KObj(pod), "node", pod.Spec.NodeName, "macs", len(h.interfaces))
}

// hold tells how long to keep a lease of address in namespace before
// asking again whether a removed Pod still runs with it; 0 once no such Pod
// may. It forgets the Pod once its node has proved it stopped it.
func (c *Controller) hold(ctx context.Context, namespace, address string) (time.Duration, error) {
	key := indexKey(namespace, address)
	c.orphans.mu.Lock()
	entry, found := c.orphans.byMAC[key]
	c.orphans.mu.Unlock()
	if !found {
		return 0, nil
	}
	if wait := entry.stoppedBy.Sub(c.now()); wait > 0 {
		return wait, nil
	}
	stopped, err := c.nodeStopped(ctx, entry.node, entry.stoppedBy)
	if err != nil {
		return 0, fmt.Errorf("asking whether node %s stopped Pod %s/%s: %w", entry.node, namespace, entry.pod, err)
	}
	if !stopped {
		klog.V(2).InfoS("Keeping a deleted lease: its Pod was removed while its node may still run it",
			"namespace", namespace, "mac", address, "pod", entry.pod, "node", entry.node)
		return orphanRecheck, nil
	}
	c.orphans.mu.Lock()
	if current, ok := c.orphans.byMAC[key]; ok && current == entry {
		delete(c.orphans.byMAC, key)
	}
	c.orphans.mu.Unlock()
	return 0, nil
}

// nodeStopped tells whether node has surely stopped the Pods removed from
// the API before since: the Node object is gone, its kubelet reported it
// Ready after since (it had heard of the removals then, and stops such a
// Pod within its grace period), or an administrator marked it out of
// service while it is not Ready.
func (c *Controller) nodeStopped(ctx context.Context, node string, since time.Time) (bool, error) {
	object, err := c.config.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, condition := range object.Status.Conditions {
		if condition.Type != corev1.NodeReady {
			continue
		}
		if condition.Status == corev1.ConditionTrue {
			return condition.LastHeartbeatTime.After(since), nil
		}
		return outOfService(object), nil
	}
	return outOfService(object), nil
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
