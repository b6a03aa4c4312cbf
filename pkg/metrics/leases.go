package metrics

import (
	"sync"
	"time"

	k8smetrics "k8s.io/component-base/metrics"
)

// Values of the phase label of kmp_leases. Reserved and Bound are the
// MacLease phases; Pending is a lease with an owner and no phase yet (made by
// hand), Static one without an owner (a static reservation).
const (
	LeasePhaseReserved = "Reserved"
	LeasePhaseBound    = "Bound"
	LeasePhaseRetained = "Retained"
	LeasePhasePending  = "Pending"
	LeasePhaseStatic   = "Static"
)

// leasePhases are always exported while leases are tracked, zeros included,
// so that a dashboard and an alert see every phase from the first scrape.
var leasePhases = []string{LeasePhaseReserved, LeasePhaseBound, LeasePhaseRetained, LeasePhasePending, LeasePhaseStatic}

// LeaseState is what the lease gauges need to know of one MacLease.
type LeaseState struct {
	// Phase is one of the LeasePhase values.
	Phase string
	// ExpiresAt is status.expiresAt; zero when the lease has none.
	ExpiresAt time.Time
}

// LeaseTracker counts MacLeases by phase and remembers when each Reserved
// lease expires, from the add, update and delete events of one informer. Each
// event costs a map operation; a scrape walks only the Reserved leases, which
// the controller binds or expires within the reservation TTL. Nothing is ever
// listed from the API for a scrape.
type LeaseTracker struct {
	owner *Metrics

	mu     sync.Mutex
	phases map[string]int
	// expiries maps the key of each Reserved lease that has an expiresAt
	// to it.
	expiries map[string]time.Time
}

// TrackLeases starts a fresh count of the leases and makes it the one
// kmp_leases and kmp_lease_reservation_oldest_expiry_timestamp_seconds
// report. The lease controller calls it at the start of each term, before
// its informer delivers the first event, and stops the tracker when the term
// ends: only the replica that leads the controller watches every lease, so
// only it exports the series.
func (m *Metrics) TrackLeases() *LeaseTracker {
	tracker := &LeaseTracker{owner: m, phases: map[string]int{}, expiries: map[string]time.Time{}}
	m.leasesMu.Lock()
	defer m.leasesMu.Unlock()
	m.leases = tracker
	return tracker
}

// Stop withdraws the tracker's series, unless a newer tracker has already
// replaced it. Events that arrive later change nothing anyone sees.
func (t *LeaseTracker) Stop() {
	t.owner.leasesMu.Lock()
	defer t.owner.leasesMu.Unlock()
	if t.owner.leases == t {
		t.owner.leases = nil
	}
}

// Update applies one informer event of the lease with key: before is nil for
// an addition, after is nil for a deletion.
func (t *LeaseTracker) Update(key string, before, after *LeaseState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if before != nil {
		if t.phases[before.Phase]--; t.phases[before.Phase] <= 0 {
			// Never below zero, should events ever arrive unpaired.
			delete(t.phases, before.Phase)
		}
		delete(t.expiries, key)
	}
	if after != nil {
		t.phases[after.Phase]++
		if after.Phase == LeasePhaseReserved && !after.ExpiresAt.IsZero() {
			t.expiries[key] = after.ExpiresAt
		}
	}
}

// snapshot returns the counts by phase and the earliest expiry of a
// Reserved lease (ok is false when there is none).
func (t *LeaseTracker) snapshot() (phases map[string]int, oldest time.Time, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	phases = make(map[string]int, len(t.phases))
	for phase, count := range t.phases {
		phases[phase] = count
	}
	for _, expiresAt := range t.expiries {
		if !ok || expiresAt.Before(oldest) {
			oldest, ok = expiresAt, true
		}
	}
	return phases, oldest, ok
}

// leaseCollector exports the current tracker's counts at each scrape.
type leaseCollector struct {
	k8smetrics.BaseStableCollector
	metrics *Metrics
	leases  *k8smetrics.Desc
	oldest  *k8smetrics.Desc
}

func newLeaseCollector(m *Metrics) *leaseCollector {
	return &leaseCollector{
		metrics: m,
		leases:  k8smetrics.NewDesc(docLeases.Name, docLeases.Help, docLeases.Labels, nil, docLeases.Stability(), ""),
		oldest:  k8smetrics.NewDesc(docOldestReservationExpiry.Name, docOldestReservationExpiry.Help, nil, nil, docOldestReservationExpiry.Stability(), ""),
	}
}

func (c *leaseCollector) DescribeWithStability(descs chan<- *k8smetrics.Desc) {
	descs <- c.leases
	descs <- c.oldest
}

func (c *leaseCollector) CollectWithStability(metrics chan<- k8smetrics.Metric) {
	c.metrics.leasesMu.Lock()
	tracker := c.metrics.leases
	c.metrics.leasesMu.Unlock()
	if tracker == nil {
		return
	}
	phases, oldest, ok := tracker.snapshot()
	for _, phase := range leasePhases {
		metrics <- k8smetrics.NewLazyConstMetric(c.leases, k8smetrics.GaugeValue, float64(phases[phase]), phase)
	}
	if ok {
		metrics <- k8smetrics.NewLazyConstMetric(c.oldest, k8smetrics.GaugeValue, float64(oldest.Unix()))
	}
}
