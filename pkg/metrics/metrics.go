package metrics

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	k8smetrics "k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"

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
	registry registry
	// collectors and leaseCollector are everything New registers, for
	// Describe.
	collectors     []k8smetrics.Registerable
	leaseCollector *leaseCollector

	collisions         *k8smetrics.GaugeVec
	duplicateMACs      *k8smetrics.Gauge
	poolCapacity       *k8smetrics.GaugeVec
	poolAllocated      *k8smetrics.GaugeVec
	allocationDuration *k8smetrics.HistogramVec
	admissionRequests  *k8smetrics.CounterVec
	admissionDuration  *k8smetrics.HistogramVec
	leaseOperations    *k8smetrics.CounterVec
	certificateExpiry  *k8smetrics.GaugeVec
	certificateWrites  *k8smetrics.CounterVec
	// webhookAuthorizationDisabled is kmp_webhook_caller_authorization_disabled.
	webhookAuthorizationDisabled *k8smetrics.Gauge
	// buildInfo is kmp_build_info.
	buildInfo *k8smetrics.GaugeVec
	// podRemovalReplay is kmp_pod_removal_replay_timestamp_seconds.
	podRemovalReplay *k8smetrics.GaugeVec

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

// registry is what Metrics needs of a component-base registry: a
// KubeRegistry, or the process-wide legacy registry through legacy.
type registry interface {
	MustRegister(...k8smetrics.Registerable)
	CustomMustRegister(...k8smetrics.StableCollector)
	k8smetrics.Gatherer
}

// legacy is component-base's legacy registry, which k8s.io/apiserver serves
// at /metrics on the secure port.
type legacy struct{}

func (legacy) MustRegister(metrics ...k8smetrics.Registerable) {
	legacyregistry.MustRegister(metrics...)
}
func (legacy) CustomMustRegister(collectors ...k8smetrics.StableCollector) {
	legacyregistry.CustomMustRegister(collectors...)
}
func (legacy) Gather() ([]*dto.MetricFamily, error) { return legacyregistry.DefaultGatherer.Gather() }

var (
	defaultOnce    sync.Once
	defaultMetrics *Metrics
)

// Default returns the server's metrics, registered in component-base's
// legacy registry next to those of k8s.io/apiserver and client-go: the
// secure port's /metrics and the --metric-addr endpoint serve that one
// gatherer. A registry holds a metric name once, so every call returns the
// same Metrics.
func Default() *Metrics {
	defaultOnce.Do(func() { defaultMetrics = newMetrics(legacy{}) })
	return defaultMetrics
}

// New creates the collectors and registers them, together with the standard
// Go runtime and process collectors, in a fresh registry of their own: for
// tests, which need a count that no other test touches.
func New() *Metrics {
	fresh := k8smetrics.NewKubeRegistry()
	// The legacy registry has them too; both are plain Prometheus
	// collectors, outside the stability framework.
	fresh.RawMustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return newMetrics(fresh)
}

func newMetrics(r registry) *Metrics {
	m := &Metrics{
		registry:      r,
		collisions:    k8smetrics.NewGaugeVec(gaugeOpts(docMACCollisions), docMACCollisions.Labels),
		duplicateMACs: k8smetrics.NewGauge(gaugeOpts(docDuplicateMACs)),
		poolCapacity:  k8smetrics.NewGaugeVec(gaugeOpts(docPoolCapacity), docPoolCapacity.Labels),
		poolAllocated: k8smetrics.NewGaugeVec(gaugeOpts(docPoolAllocated), docPoolAllocated.Labels),
		allocationDuration: k8smetrics.NewHistogramVec(&k8smetrics.HistogramOpts{
			Name:           docAllocationDuration.Name,
			Help:           docAllocationDuration.Help,
			Buckets:        allocationBuckets,
			StabilityLevel: docAllocationDuration.Stability(),
		}, docAllocationDuration.Labels),
		admissionRequests: k8smetrics.NewCounterVec(counterOpts(docAdmissionRequests), docAdmissionRequests.Labels),
		admissionDuration: k8smetrics.NewHistogramVec(&k8smetrics.HistogramOpts{
			Name:           docAdmissionDuration.Name,
			Help:           docAdmissionDuration.Help,
			Buckets:        admissionBuckets,
			StabilityLevel: docAdmissionDuration.Stability(),
		}, docAdmissionDuration.Labels),
		leaseOperations:   k8smetrics.NewCounterVec(counterOpts(docLeaseOperations), docLeaseOperations.Labels),
		certificateExpiry: k8smetrics.NewGaugeVec(gaugeOpts(docCertificateExpiry), docCertificateExpiry.Labels),
		certificateWrites: k8smetrics.NewCounterVec(counterOpts(docCertificateWrites), docCertificateWrites.Labels),
		colliding:         map[string]int{},

		webhookAuthorizationDisabled: k8smetrics.NewGauge(gaugeOpts(docWebhookCallerAuthorizationDisabled)),
		buildInfo:                    k8smetrics.NewGaugeVec(gaugeOpts(docBuildInfo), docBuildInfo.Labels),
		podRemovalReplay:             k8smetrics.NewGaugeVec(gaugeOpts(docPodRemovalReplay), docPodRemovalReplay.Labels),
	}
	// MustRegister only fails on duplicate or inconsistent descriptors, a
	// programming error that every test run would catch. A metric of
	// component-base records nothing until it is registered.
	m.collectors = []k8smetrics.Registerable{
		m.collisions,
		m.duplicateMACs,
		m.poolCapacity,
		m.poolAllocated,
		m.allocationDuration,
		m.admissionRequests,
		m.admissionDuration,
		m.leaseOperations,
		m.certificateExpiry,
		m.certificateWrites,
		m.webhookAuthorizationDisabled,
		m.buildInfo,
		m.podRemovalReplay,
	}
	r.MustRegister(m.collectors...)
	m.leaseCollector = newLeaseCollector(m)
	r.CustomMustRegister(m.leaseCollector)
	build := version.Get()
	m.buildInfo.WithLabelValues(build.GitVersion, build.GitCommit, build.GoVersion).Set(1)
	for _, operation := range knownLeaseOperations {
		m.leaseOperations.WithLabelValues(string(operation))
	}
	return m
}

func gaugeOpts(doc MetricDoc) *k8smetrics.GaugeOpts {
	return &k8smetrics.GaugeOpts{Name: doc.Name, Help: doc.Help, StabilityLevel: doc.Stability()}
}

func counterOpts(doc MetricDoc) *k8smetrics.CounterOpts {
	return &k8smetrics.CounterOpts{Name: doc.Name, Help: doc.Help, StabilityLevel: doc.Stability()}
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

// Describe sends the descriptions of every Kubemacpool metric (not the Go
// and process ones), series or not.
func (m *Metrics) Describe(descs chan<- *prometheus.Desc) {
	for _, c := range m.collectors {
		c.Describe(descs)
	}
	m.leaseCollector.Describe(descs)
}

// Registry returns the gatherer of the registry the metrics are in, for
// tests.
func (m *Metrics) Registry() k8smetrics.Gatherer { return m.registry }

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
	// Registered in newMetrics, so the Prometheus vector exists.
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

// SetPodRemovalReplay records the result of the start's replay of the Pod
// removals, at now.
func (m *Metrics) SetPodRemovalReplay(result string, now time.Time) {
	m.podRemovalReplay.WithLabelValues(result).Set(float64(now.Unix()))
}

// CountCertificateWrite counts one change of the certificate Secret.
func (m *Metrics) CountCertificateWrite(action string) {
	m.certificateWrites.WithLabelValues(action).Inc()
}
