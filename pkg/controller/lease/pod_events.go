package lease

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// PodEvents follows every Pod for as long as the server runs, on every
// replica, whether it leads or not, and hands each event to the lease
// controller of the term this replica leads, if any.
//
// A Pod removed while its node may still run it (kubectl delete --force on
// a partitioned node) must keep its MACs leased, and only its removal event
// tells so: the next list no longer has it. A replica that started watching
// Pods only once it led would miss every removal between the end of the last
// term and the start of its own (a rolling upgrade, a crashed leader), and
// release those MACs. Following the Pods all along, a replica that takes
// over knows the removals it saw while another led, or none did, and its
// controller writes their holds onto the leases at once. A removal while no
// replica at all watched (a single replica restarting) is learnt from the
// Pod watch replayed from the last leader's checkpoint (pod_replay.go).
//
// One handler observes the removals and then calls the term's handler, in
// the order of the events: a lease is never looked at before the removal of
// a Pod that carried its MAC is noted.
type PodEvents struct {
	informer     cache.SharedIndexInformer
	registration cache.ResourceEventHandlerRegistration
	leases       cache.Store
	leasesSynced cache.InformerSynced
	onNodes      *podsOnNodes
	now          func() time.Time

	// replay, if set, is how this process learns of the removals made
	// while no replica followed the Pods, and how its terms save how far
	// the removals are written (pod_replay.go); replayed tells that it has.
	replay   *Replay
	replayed atomic.Bool
	// handled is the largest resourceVersion of the Pod events handled so
	// far (events come in order after the first list).
	handled atomic.Uint64

	// mu orders the term's handler: events, and the replay of every Pod
	// when a term starts, reach it one at a time.
	mu   sync.Mutex
	term func(old, obj interface{}, before, after *holder)
	// terms counts the calls of follow: a stop clears term only while it
	// is still its own, as terms may overlap (below).
	terms uint64
}

// FollowPods follows pods (slimmed by SlimPod), knowing the leases of
// leases, both run by the caller for as long as the server runs. With
// replay, the caller runs Replay too, and the Pod events have synced only
// once it has returned.
func FollowPods(pods, leases cache.SharedIndexInformer, replay *Replay) (*PodEvents, error) {
	if err := indexPods(pods); err != nil {
		return nil, err
	}
	e := &PodEvents{informer: pods, leases: leases.GetStore(), leasesSynced: leases.HasSynced, onNodes: &podsOnNodes{}, now: time.Now, replay: replay}
	e.replayed.Store(replay == nil)
	registration, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { e.dispatch(nil, obj) },
		UpdateFunc: func(old, obj interface{}) { e.dispatch(old, obj) },
		DeleteFunc: func(obj interface{}) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			e.dispatch(obj, nil)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("following Pods: %w", err)
	}
	e.registration = registration
	// A removal a lease records is in storage, for every later leader:
	// this replica need not keep it, nor write it again when it takes
	// over, by then perhaps onto a lease whose hold the leader dropped
	// since (its node proved it stopped the Pod).
	// A lease that is gone needs no hold either. The leader forgets its
	// removals as it syncs the lease's key (forgetRemovedPods); a replica
	// that does not lead forgets them here, for once it leads nothing
	// queues the key of a lease that is gone, and a removal kept for good
	// would hold the checkpoint before it for the whole term
	// (PodEvents.progress).
	if _, err := leases.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    e.recorded,
		UpdateFunc: func(_, obj interface{}) { e.recorded(obj) },
		DeleteFunc: e.gone,
	}); err != nil {
		return nil, fmt.Errorf("following the holds that MacLeases record: %w", err)
	}
	return e, nil
}

// recorded forgets the removals noted under a lease's MAC that it records
// the hold of: one on the same node that lasts as long, or longer.
func (e *PodEvents) recorded(obj interface{}) {
	lease, ok := obj.(*macpool.MacLease)
	if !ok {
		return
	}
	value, found := lease.Annotations[macpool.NodeHoldsAnnotation]
	if !found {
		return
	}
	holds, err := macpool.ParseNodeHolds(value)
	if err != nil {
		return
	}
	e.onNodes.forgetRecorded(indexKey(lease.Namespace, lease.Spec.MACAddress), holds)
}

// gone forgets, while no term runs here, the removals noted under the MAC
// of a lease that is gone. A term's own sync of the key does (its lease
// handler queued it), after any lease of the same name created since
// records them.
func (e *PodEvents) gone(obj interface{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.term != nil {
		return
	}
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	lease, ok := obj.(*macpool.MacLease)
	if !ok {
		return
	}
	key := indexKey(lease.Namespace, lease.Spec.MACAddress)
	removed, _ := e.onNodes.of(key)
	e.onNodes.forget(key, removed)
}

// indexPods indexes Pods by the MACs they carry and report.
func indexPods(pods cache.SharedIndexInformer) error {
	indexers := pods.GetIndexer().GetIndexers()
	if _, indexed := indexers[macIndex]; indexed {
		return nil
	}
	if err := pods.AddIndexers(cache.Indexers{
		macIndex: func(obj interface{}) ([]string, error) {
			return indexHolder(podHolder(podMetadata(obj.(*corev1.Pod)))), nil
		},
		reportedIndex: func(obj interface{}) ([]string, error) {
			return indexReported(obj), nil
		},
	}); err != nil {
		return fmt.Errorf("indexing Pods: %w", err)
	}
	return nil
}

// HasSynced tells whether the handler has had every Pod of the first list,
// and the removals replayed from the last checkpoint are noted.
func (e *PodEvents) HasSynced() bool { return e.registration.HasSynced() && e.replayed.Load() }

func (e *PodEvents) dispatch(old, obj interface{}) {
	var before, after *holder
	last, _ := old.(*corev1.Pod)
	pod, _ := obj.(*corev1.Pod)
	if last != nil {
		before = podHolder(podMetadata(last))
	}
	if pod != nil {
		after = podHolder(podMetadata(pod))
	}
	now := e.now()
	e.onNodes.observe(last, pod, before, after, e.leased, now)
	e.advance(last, pod)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.term != nil {
		e.term(old, obj, before, after)
		return
	}
	// No term writes the removals seen here: they are forgotten by the
	// clock. A term forgets them as their leases record them instead (a
	// hold it could not write yet is nowhere else).
	e.onNodes.sweep(now)
}

// leased tells whether a lease of address exists in namespace.
func (e *PodEvents) leased(namespace, address string) bool {
	parsed, err := mac.Parse(address)
	if err != nil {
		return false
	}
	_, exists, err := e.leases.GetByKey(namespace + "/" + parsed.Name())
	return err == nil && exists
}

// follow hands every Pod, then every event, to handle until the returned
// stop is called: a term's controller sees the Pods that exist as added,
// as its own informer's handler would.
//
// Terms may overlap: leader election runs a term's controller in a
// goroutine of its own and may start the next term in this process before
// the last one's Run has returned. The next follow takes over, and the
// last term's stop then leaves the new term's handler alone.
func (e *PodEvents) follow(handle func(old, obj interface{}, before, after *holder)) (stop func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.terms++
	term := e.terms
	e.term = handle
	for _, obj := range e.informer.GetStore().List() {
		if pod, ok := obj.(*corev1.Pod); ok {
			handle(nil, pod, nil, podHolder(podMetadata(pod)))
		}
	}
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.terms == term {
			e.term = nil
		}
	}
}
