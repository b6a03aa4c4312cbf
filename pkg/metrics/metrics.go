package metrics

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/version"
)

// AllocationResult is the result label of kmp_allocation_duration_seconds.
type AllocationResult string

const (
	AllocationSuccess   AllocationResult = "success"
	AllocationExhausted AllocationResult = "exhausted" // no free MAC left in the pool
	AllocationConflict  AllocationResult = "conflict"  // the requested MAC is leased by another owner
	AllocationError     AllocationResult = "error"     // anything else, e.g. etcd unavailable
)

// AdmissionResource is the resource label of kmp_admission_requests_total.
type AdmissionResource string

const (
	ResourcePods            AdmissionResource = "pods"
	ResourceVirtualMachines AdmissionResource = "virtualmachines"
)

// AdmissionResult is the result label of kmp_admission_requests_total.
type AdmissionResult string

const (
	AdmissionAllowed AdmissionResult = "allowed" // admitted unchanged
	AdmissionMutated AdmissionResult = "mutated" // admitted with a patch assigning MACs
	AdmissionDenied  AdmissionResult = "denied"
	AdmissionError   AdmissionResult = "error" // the webhook failed to decide
)

// LeaseOperation is the operation label of kmp_lease_operations_total.
type LeaseOperation string

const (
	LeaseBind    LeaseOperation = "bind"
	LeaseExpire  LeaseOperation = "expire"
	LeaseRelease LeaseOperation = "release"
	LeaseAdopt   LeaseOperation = "adopt"
	// LeaseRetain is a lease kept Retained after its owner's deletion.
	LeaseRetain LeaseOperation = "retain"
)

// leaseOperations are initialised to zero so that rate() and increase()
// see the series from the first scrape instead of missing the first event.
var knownLeaseOperations = []LeaseOperation{LeaseBind, LeaseExpire, LeaseRelease, LeaseAdopt, LeaseRetain}

// Metrics holds Kubemacpool's collectors and the registry that exposes them.
// All methods are safe for concurrent use.
type Metrics struct {
	registry *prometheus.Registry

	collisions         *prometheus.GaugeVec
	duplicateMACs      prometheus.Gauge
	poolCapacity       *prometheus.GaugeVec
	poolAllocated      *prometheus.GaugeVec
	allocationDuration *prometheus.HistogramVec
	admissionRequests  *prometheus.CounterVec
	admissionDuration  *prometheus.HistogramVec
	leaseOperations    *prometheus.CounterVec
	certificateExpiry  *prometheus.GaugeVec
	certificateWrites  *prometheus.CounterVec
	// webhookAuthorizationDisabled is kmp_webhook_caller_authorization_disabled.
	webhookAuthorizationDisabled prometheus.Gauge
	// buildInfo is kmp_build_info.
	buildInfo *prometheus.GaugeVec

	// collisionMu serialises changes to the collision series so that the
	// per-MAC gauge and the deprecated total always agree.
	collisionMu sync.Mutex
	// colliding maps each MAC with a kmp_mac_collisions series to its value.
	colliding map[string]int

	// leasesMu guards leases, the tracker of the current lease controller
	// term; nil while this replica does not lead.
	leasesMu sync.Mutex
	leases   *LeaseTracker
}

// New creates the collectors and registers them, together with the standard
// Go runtime and process collectors, in a fresh registry.
func New() *Metrics {
	m := &Metrics{
		registry:      prometheus.NewRegistry(),
		collisions:    prometheus.NewGaugeVec(gaugeOpts(docMACCollisions), docMACCollisions.Labels),
		duplicateMACs: prometheus.NewGauge(gaugeOpts(docDuplicateMACs)),
		poolCapacity:  prometheus.NewGaugeVec(gaugeOpts(docPoolCapacity), docPoolCapacity.Labels),
		poolAllocated: prometheus.NewGaugeVec(gaugeOpts(docPoolAllocated), docPoolAllocated.Labels),
		allocationDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    docAllocationDuration.Name,
			Help:    docAllocationDuration.Help,
			Buckets: allocationBuckets,
		}, docAllocationDuration.Labels),
		admissionRequests: prometheus.NewCounterVec(counterOpts(docAdmissionRequests), docAdmissionRequests.Labels),
		admissionDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    docAdmissionDuration.Name,
			Help:    docAdmissionDuration.Help,
			Buckets: admissionBuckets,
		}, docAdmissionDuration.Labels),
		leaseOperations:   prometheus.NewCounterVec(counterOpts(docLeaseOperations), docLeaseOperations.Labels),
		certificateExpiry: prometheus.NewGaugeVec(gaugeOpts(docCertificateExpiry), docCertificateExpiry.Labels),
		certificateWrites: prometheus.NewCounterVec(counterOpts(docCertificateWrites), docCertificateWrites.Labels),
		colliding:         map[string]int{},

		webhookAuthorizationDisabled: prometheus.NewGauge(gaugeOpts(docWebhookCallerAuthorizationDisabled)),
		buildInfo:                    prometheus.NewGaugeVec(gaugeOpts(docBuildInfo), docBuildInfo.Labels),
	}
	// MustRegister only fails on duplicate or inconsistent descriptors, a
	// programming error that every test run would catch.
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.collisions,
		m.duplicateMACs,
		m.poolCapacity,
		m.poolAllocated,
		m.allocationDuration,
		m.admissionRequests,
		m.admissionDuration,
		m.leaseOperations,
		newLeaseCollector(m),
		m.certificateExpiry,
		m.certificateWrites,
		m.webhookAuthorizationDisabled,
		m.buildInfo,
	)
	build := version.Get()
	m.buildInfo.WithLabelValues(build.GitVersion, build.GitCommit, build.GoVersion).Set(1)
	for _, operation := range knownLeaseOperations {
		m.leaseOperations.WithLabelValues(string(operation))
	}
	return m
}

func gaugeOpts(doc MetricDoc) prometheus.GaugeOpts {
	return prometheus.GaugeOpts{Name: doc.Name, Help: doc.Help}
}

func counterOpts(doc MetricDoc) prometheus.CounterOpts {
	return prometheus.CounterOpts{Name: doc.Name, Help: doc.Help}
}

// SetWebhookCallerAuthorizationDisabled records whether the webhook paths
// are served without authorization (--webhook-authorization=Disabled).
func (m *Metrics) SetWebhookCallerAuthorizationDisabled(disabled bool) {
	value := 0.0
	if disabled {
		value = 1
	}
	m.webhookAuthorizationDisabled.Set(value)
}

// Registry returns the registry, for tests and for callers that want to add
// their own collectors to the same endpoint.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// SetCollisions replaces all collision series with counts, which maps each
// MAC to the number of running objects holding it (for example
// collision.Index.Counts). MACs with a count below 2 are not collisions and
// get no series, so a MAC missing from counts, or resolved, disappears.
func (m *Metrics) SetCollisions(counts map[string]int) {
	m.collisionMu.Lock()
	defer m.collisionMu.Unlock()
	next := make(map[string]int, len(counts))
	for address, count := range counts {
		if count >= 2 {
			next[normaliseMAC(address)] = count
		}
	}
	for address := range m.colliding {
		if _, ok := next[address]; !ok {
			m.collisions.DeleteLabelValues(address)
		}
	}
	for address, count := range next {
		m.collisions.WithLabelValues(address).Set(float64(count))
	}
	m.colliding = next
	m.duplicateMACs.Set(float64(len(next)))
}

// SetCollision updates the series of a single MAC, for callers that apply
// collision changes incrementally. A count below 2 deletes the series.
func (m *Metrics) SetCollision(address string, count int) {
	m.collisionMu.Lock()
	defer m.collisionMu.Unlock()
	address = normaliseMAC(address)
	if count >= 2 {
		m.colliding[address] = count
		m.collisions.WithLabelValues(address).Set(float64(count))
	} else {
		delete(m.colliding, address)
		m.collisions.DeleteLabelValues(address)
	}
	m.duplicateMACs.Set(float64(len(m.colliding)))
}

// normaliseMAC turns any spelling mac.Parse accepts into the canonical
// colon form, so one MAC never has two series. Text that is not a MAC is
// kept (lower-cased) rather than dropped: a collision must stay visible even
// if the caller passed something odd.
func normaliseMAC(text string) string {
	if canonical, err := mac.Canonical(text); err == nil {
		return canonical
	}
	return strings.ToLower(text)
}

// SetPoolCapacity sets kmp_pool_capacity for pool. Pools span at most 2^48
// addresses, which a float64 represents exactly.
func (m *Metrics) SetPoolCapacity(pool string, capacity uint64) {
	m.poolCapacity.WithLabelValues(pool).Set(float64(capacity))
}

// SetPoolAllocated sets kmp_pool_allocated for pool.
func (m *Metrics) SetPoolAllocated(pool string, allocated uint64) {
	m.poolAllocated.WithLabelValues(pool).Set(float64(allocated))
}

// DeletePool removes every series labelled with pool (capacity, allocated
// and allocation durations), so a deleted MacPool stops being reported
// instead of freezing at its last values.
func (m *Metrics) DeletePool(pool string) {
	m.poolCapacity.DeleteLabelValues(pool)
	m.poolAllocated.DeleteLabelValues(pool)
	m.allocationDuration.DeletePartialMatch(prometheus.Labels{LabelPool: pool})
}

// ObserveAllocation records how long an allocation from pool took.
func (m *Metrics) ObserveAllocation(pool string, result AllocationResult, duration time.Duration) {
	m.allocationDuration.WithLabelValues(pool, string(result)).Observe(duration.Seconds())
}

// CountAdmission counts one admission request. operation is the admission
// operation (CREATE, UPDATE, ...); it is lower-cased to match the other
// label values.
func (m *Metrics) CountAdmission(resource AdmissionResource, operation string, result AdmissionResult) {
	m.admissionRequests.WithLabelValues(string(resource), strings.ToLower(operation), string(result)).Inc()
}

// ObserveAdmission records how long the webhook took to answer one
// admission request; operation is lower-cased as in CountAdmission.
func (m *Metrics) ObserveAdmission(resource AdmissionResource, operation string, duration time.Duration) {
	m.admissionDuration.WithLabelValues(string(resource), strings.ToLower(operation)).Observe(duration.Seconds())
}

// CountLeaseOperation counts one action of the lease controller.
func (m *Metrics) CountLeaseOperation(operation LeaseOperation) {
	m.leaseOperations.WithLabelValues(string(operation)).Inc()
}

// SetCertificateExpiry records when certificate (ca or serving) expires.
func (m *Metrics) SetCertificateExpiry(certificate string, notAfter time.Time) {
	m.certificateExpiry.WithLabelValues(certificate).Set(float64(notAfter.Unix()))
}

// CountCertificateWrite counts one change of the certificate Secret.
func (m *Metrics) CountCertificateWrite(action string) {
	m.certificateWrites.WithLabelValues(action).Inc()
}
