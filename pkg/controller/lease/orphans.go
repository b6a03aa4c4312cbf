package lease

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/mac"
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
//
// The leader that sees such a Pod go writes the hold onto the lease
// (macpool.NodeHoldsAnnotation), so that the next leader, after a rolling
// upgrade or a crash, keeps it too. Until the write, the hold is in memory
// (podsOnNodes), on every replica: each follows the Pods (PodEvents), so the
// next leader also writes the removals made between two terms. A Pod
// removed while no replica watched (a single replica restarting) is learnt
// from the Pod watch, replayed from the last leader's checkpoint
// (pod_replay.go).

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

// handlerLag is how soon a deleted lease is looked at again when the Pod
// cache no longer has a Pod that the Pod handlers have not yet seen go:
// client-go removes an object from the cache before it hands the deletion
// to the handlers, and only they know whether the node may still run it.
const handlerLag = time.Second

// podOnNode is a Pod that a kubelet took, carrying a MAC, as the Pod
// handlers last saw it.
type podOnNode struct {
	uid  types.UID
	pod  string
	node string
	// stoppedBy is zero while the Pod is in the API. Once it left while its
	// node may still run it, it is when the kubelet, had it heard of the
	// removal, would have stopped it.
	stoppedBy time.Time
	// removedAt is the resourceVersion of the removal (0 if unknown): the
	// checkpoint a term saves stays before it until the hold is on the
	// lease (PodEvents.progress).
	removedAt uint64
}

// podsOnNodes are the Pods that kubelets took, by namespace/MAC: those in
// the API, as the handlers know them, and those removed while their nodes
// may still run them, until their holds are written to the leases (then
// the leases carry them, for every later leader). Pods no kubelet took
// (every Pod of a cluster without nodes) cost nothing here.
type podsOnNodes struct {
	mu    sync.Mutex
	byMAC map[string][]podOnNode
	// swept is when removals past removalMemory were last dropped.
	swept time.Time
}

// removalMemory is how long a replica that does not lead keeps a removal
// past its hold, for a term it may start later: by then the leader has long
// written it onto the lease (whose event makes this replica forget it
// sooner), or no leader was there to. A leader keeps each removal until its
// lease records it or is gone.
const removalMemory = time.Hour

// observe follows one Pod event: pod is the Pod after it (nil once
// removed), last the Pod before it, and before and after their holders.
// leased tells whether a lease of namespace/MAC exists: a hold only
// matters to a lease, and the lease's sync is what takes it from here.
func (p *podsOnNodes) observe(last, pod *corev1.Pod, before, after *holder, leased func(namespace, address string) bool, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if last != nil && pod != nil && last.UID != pod.UID {
		// A relist after a missed watch hands the handlers a Pod deleted
		// and created again under its name as one update: the old Pod was
		// removed (its node may still run it), and the new one is another.
		// Taken as an update, the old Pod's entry would stay "in the API"
		// for good, holding every deleted lease of its MACs (handlerLag),
		// and its removal would hold nothing.
		p.observeLocked(last, nil, before, nil, leased, now)
		p.observeLocked(nil, pod, nil, after, leased, now)
		return
	}
	p.observeLocked(last, pod, before, after, leased, now)
}

func (p *podsOnNodes) observeLocked(last, pod *corev1.Pod, before, after *holder, leased func(namespace, address string) bool, now time.Time) {
	if before != nil {
		for address := range before.interfaces {
			if after == nil || after.interfaces[address] == "" {
				p.drop(indexKey(before.namespace, address), last.UID, false)
			}
		}
	}
	switch {
	case pod != nil && after != nil && mayStillRun(pod):
		for address := range after.interfaces {
			p.put(indexKey(after.namespace, address), podOnNode{uid: pod.UID, pod: pod.Name, node: pod.Spec.NodeName})
		}
	case pod != nil && after != nil:
		// Finished, or every container stopped: nothing left to hold.
		for address := range after.interfaces {
			p.drop(indexKey(after.namespace, address), pod.UID, false)
		}
	case pod == nil && before != nil && mayStillRun(last):
		entry := podOnNode{uid: last.UID, pod: last.Name, node: last.Spec.NodeName, stoppedBy: now.Add(removalGrace(last) + orphanMargin),
			removedAt: resourceVersion(last)}
		for address := range before.interfaces {
			if leased(before.namespace, address) {
				p.put(indexKey(before.namespace, address), entry)
			}
		}
		klog.InfoS("Keeping the MACs of a Pod removed while its node may still run it, until the node shows it stopped it",
			"pod", klog.KObj(last), "node", last.Spec.NodeName, "macs", len(before.interfaces))
	}
}

// sweep drops, at most once a minute, the removals whose holds ran out
// removalMemory ago. Only for a replica that does not lead (PodEvents): a
// term's controller forgets each removal once its lease records the hold or
// is gone, and until then the hold is in its memory only.
func (p *podsOnNodes) sweep(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(p.swept) < time.Minute {
		return
	}
	p.swept = now
	for key, entries := range p.byMAC {
		entries = slices.DeleteFunc(entries, func(e podOnNode) bool {
			return !e.stoppedBy.IsZero() && now.Sub(e.stoppedBy) > removalMemory
		})
		if len(entries) == 0 {
			delete(p.byMAC, key)
		} else {
			p.byMAC[key] = entries
		}
	}
}

// oldestUnrecorded returns the earliest removal whose hold no lease
// records yet (its removedAt is 0 if its version is unknown), the
// namespace/MAC it is noted under, and whether there is one.
func (p *podsOnNodes) oldestUnrecorded() (podOnNode, string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var oldest podOnNode
	var key string
	found := false
	for mac, entries := range p.byMAC {
		for _, entry := range entries {
			if entry.stoppedBy.IsZero() {
				continue
			}
			if !found || entry.removedAt < oldest.removedAt {
				oldest, key = entry, mac
			}
			found = true
		}
	}
	return oldest, key, found
}

// removalGrace is how long the kubelet may take to stop a removed Pod once
// it hears of the removal: its grace period, at most orphanMaxGrace.
func removalGrace(pod *corev1.Pod) time.Duration {
	seconds := pod.Spec.TerminationGracePeriodSeconds
	if seconds == nil {
		return defaultGracePeriod
	}
	// Compared in seconds: a large value times time.Second would overflow
	// to a negative (no) hold.
	if *seconds >= int64(orphanMaxGrace/time.Second) {
		return orphanMaxGrace
	}
	return time.Duration(*seconds) * time.Second
}

// put records entry for key, in place of what was known of the same Pod.
func (p *podsOnNodes) put(key string, entry podOnNode) {
	if p.byMAC == nil {
		p.byMAC = map[string][]podOnNode{}
	}
	entries := p.byMAC[key]
	for i := range entries {
		if entries[i].uid == entry.uid {
			entries[i] = entry
			return
		}
	}
	p.byMAC[key] = append(entries, entry)
}

// drop forgets the Pod uid under key; only once removed, if removed.
func (p *podsOnNodes) drop(key string, uid types.UID, removed bool) {
	entries := slices.DeleteFunc(p.byMAC[key], func(e podOnNode) bool {
		return e.uid == uid && (!removed || !e.stoppedBy.IsZero())
	})
	if len(entries) == 0 {
		delete(p.byMAC, key)
		return
	}
	p.byMAC[key] = entries
}

// of returns the holds of the Pods removed with namespace/MAC that no lease
// records yet, and whether a Pod the handlers still know in the API carries
// it.
func (p *podsOnNodes) of(key string) (removed []podOnNode, inAPI bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, entry := range p.byMAC[key] {
		if entry.stoppedBy.IsZero() {
			inAPI = true
		} else {
			removed = append(removed, entry)
		}
	}
	return removed, inAPI
}

// unrecorded tells whether, under key, the handlers know a removed Pod whose
// hold no lease records yet, or still know in the API a Pod that the Pod
// cache no longer has (inCache): its removal, handed to the handlers after
// the cache dropped it, is still on its way, and only they know whether its
// node may still run it.
func (p *podsOnNodes) unrecorded(key string, inCache func(podOnNode) bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, entry := range p.byMAC[key] {
		if !entry.stoppedBy.IsZero() || !inCache(entry) {
			return true
		}
	}
	return false
}

// podCached tells whether the Pod cache has, in namespace, the Pod an entry
// names, as the same Pod (its UID).
func (c *Controller) podCached(namespace string) func(podOnNode) bool {
	return func(entry podOnNode) bool {
		obj, exists, err := c.pods.GetByKey(namespace + "/" + entry.pod)
		if err != nil || !exists {
			return false
		}
		pod, ok := obj.(*corev1.Pod)
		return ok && pod.UID == entry.uid
	}
}

// forget drops the removed Pods of entries under key: their holds are on
// the lease now, or the lease is gone.
func (p *podsOnNodes) forget(key string, entries []podOnNode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, entry := range entries {
		p.drop(key, entry.uid, true)
	}
}

// forgetRecorded drops the removed Pods under key whose holds holds cover:
// a hold on the same node until as late, or later (a node that proves it
// stopped the later removal's Pod proves the earlier one's too).
func (p *podsOnNodes) forgetRecorded(key string, holds []macpool.NodeHold) {
	p.mu.Lock()
	defer p.mu.Unlock()
	entries, found := p.byMAC[key]
	if !found {
		return
	}
	entries = slices.DeleteFunc(entries, func(e podOnNode) bool {
		return !e.stoppedBy.IsZero() && slices.ContainsFunc(holds, func(hold macpool.NodeHold) bool {
			return hold.Node == e.node && !hold.StoppedBy.Time.Before(e.stoppedBy)
		})
	})
	if len(entries) == 0 {
		delete(p.byMAC, key)
	} else {
		p.byMAC[key] = entries
	}
}

// recordHolds writes to lease the holds of the Pods removed with its MAC
// that it does not record yet; true if it wrote (the write's event queues
// the lease again). Written as soon as the lease is looked at, whatever
// its state, so that a new leader finds them.
func (c *Controller) recordHolds(ctx context.Context, lease *macpool.MacLease) (bool, error) {
	key := indexKey(lease.Namespace, lease.Spec.MACAddress)
	removed, _ := c.podsOnNodes.of(key)
	if len(removed) == 0 {
		return false, nil
	}
	recorded, err := nodeHolds(lease)
	if err != nil {
		return false, err
	}
	holds := make([]macpool.NodeHold, 0, len(removed))
	for _, entry := range removed {
		holds = append(holds, macpool.NodeHold{Node: entry.node, Pod: entry.pod, StoppedBy: metav1.NewTime(entry.stoppedBy)})
	}
	merged := macpool.MergeNodeHolds(recorded, holds)
	if value := macpool.FormatNodeHolds(merged); value != lease.Annotations[macpool.NodeHoldsAnnotation] {
		held := lease.DeepCopy()
		if held.Annotations == nil {
			held.Annotations = map[string]string{}
		}
		held.Annotations[macpool.NodeHoldsAnnotation] = value
		if err := c.config.Binder.Bind(ctx, held); err != nil {
			return false, ignoreConflict(fmt.Errorf("recording on lease %s/%s the nodes that may still run a removed Pod with its MAC: %w",
				lease.Namespace, lease.Name, err))
		}
		klog.V(2).InfoS("Recorded the nodes that may still run a removed Pod with a lease's MAC", "lease", klog.KObj(lease), "holds", value)
		c.podsOnNodes.forget(key, removed)
		return true, nil
	}
	c.podsOnNodes.forget(key, removed)
	return false, nil
}

// nodeHolds reads the node holds a lease records.
func nodeHolds(lease *macpool.MacLease) ([]macpool.NodeHold, error) {
	value, found := lease.Annotations[macpool.NodeHoldsAnnotation]
	if !found {
		return nil, nil
	}
	holds, err := macpool.ParseNodeHolds(value)
	if err != nil {
		// Validation refuses such a value: only a lease stored by hand in
		// etcd has one. It stays until someone mends it.
		return nil, fmt.Errorf("lease %s/%s: annotation %s: %w", lease.Namespace, lease.Name, macpool.NodeHoldsAnnotation, err)
	}
	return holds, nil
}

// hold tells how long to keep a deleted lease, that nothing in the Pod cache
// carries, before asking again whether a removed Pod may still run with its
// MAC; 0 once none may.
func (c *Controller) hold(ctx context.Context, lease *macpool.MacLease) (time.Duration, error) {
	if removed, inAPI := c.podsOnNodes.of(indexKey(lease.Namespace, lease.Spec.MACAddress)); inAPI || len(removed) > 0 {
		// Gone from the cache, its removal not yet seen by the handlers;
		// or seen after this sync's recordHolds, its hold not on the lease
		// yet: the handlers queued the lease, whose next sync writes it.
		return handlerLag, nil
	}
	holds, err := nodeHolds(lease)
	if err != nil {
		return 0, err
	}
	_, wait, err := c.pendingHolds(ctx, lease, holds)
	return wait, err
}

// pendingHolds returns the holds whose nodes have not proved yet that they
// stopped the removed Pod, and how soon to ask again (0 when none is).
func (c *Controller) pendingHolds(ctx context.Context, lease *macpool.MacLease, holds []macpool.NodeHold) ([]macpool.NodeHold, time.Duration, error) {
	var pending []macpool.NodeHold
	var wait time.Duration
	for _, hold := range holds {
		if until := hold.StoppedBy.Sub(c.now()); until > 0 {
			pending = append(pending, hold)
			wait = shorter(wait, until)
			continue
		}
		stopped, err := c.nodeStopped(ctx, hold.Node, hold.StoppedBy.Time)
		if err != nil {
			return nil, 0, fmt.Errorf("asking whether node %s stopped Pod %s/%s: %w", hold.Node, lease.Namespace, hold.Pod, err)
		}
		if !stopped {
			klog.V(2).InfoS("Keeping a lease: a Pod with its MAC was removed while its node may still run it",
				"lease", klog.KObj(lease), "pod", hold.Pod, "node", hold.Node)
			pending = append(pending, hold)
			wait = shorter(wait, orphanRecheck)
		}
	}
	return pending, wait, nil
}

// dropStoppedHolds removes from a lease that is not deleted (bound again,
// Retained) the holds whose nodes proved they stopped the removed Pod, and
// looks at the others again when they may have; true if it wrote. Left on
// it, a hold would come back when the lease is deleted, on a node that has
// gone NotReady since, and keeps a Retained lease from being reclaimed
// (pkg/allocation) for good.
func (c *Controller) dropStoppedHolds(ctx context.Context, key string, lease *macpool.MacLease) (bool, error) {
	if _, found := lease.Annotations[macpool.NodeHoldsAnnotation]; !found || lease.DeletionTimestamp != nil {
		return false, nil
	}
	holds, err := nodeHolds(lease)
	if err != nil {
		return false, err
	}
	pending, wait, err := c.pendingHolds(ctx, lease, holds)
	if err != nil {
		return false, err
	}
	if len(pending) == len(holds) {
		c.leaseQueue.AddAfter(key, wait)
		return false, nil
	}
	dropped := lease.DeepCopy()
	if len(pending) == 0 {
		delete(dropped.Annotations, macpool.NodeHoldsAnnotation)
		if len(dropped.Annotations) == 0 {
			dropped.Annotations = nil
		}
	} else {
		dropped.Annotations[macpool.NodeHoldsAnnotation] = macpool.FormatNodeHolds(pending)
	}
	if err := c.config.Binder.Bind(ctx, dropped); err != nil {
		return false, ignoreConflict(fmt.Errorf("dropping from lease %s the holds of nodes that stopped their removed Pods: %w", key, err))
	}
	klog.V(2).InfoS("Dropped the holds of nodes that stopped their removed Pods", "lease", klog.KObj(lease), "left", len(pending))
	return true, nil
}

// shorter is the shorter of two waits, 0 meaning none yet.
func shorter(wait, other time.Duration) time.Duration {
	if wait == 0 || other < wait {
		return other
	}
	return wait
}

// forgetRemovedPods drops the removed Pods noted for the lease key
// (namespace/name), which is gone: no lease is left to hold.
func (c *Controller) forgetRemovedPods(key string) {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return
	}
	address, err := mac.Parse(name)
	if err != nil {
		return
	}
	indexed := indexKey(namespace, address.String())
	removed, _ := c.podsOnNodes.of(indexed)
	c.podsOnNodes.forget(indexed, removed)
}
