package metrics

import (
	"cmp"
	"slices"

	k8smetrics "k8s.io/component-base/metrics"
)

// Wire names. kmp_mac_collisions and kubevirt_kmp_duplicate_macs keep the
// names of the original Kubemacpool because existing alerts (for example
// KubemacpoolMACCollisionDetected) and dashboards select on them; they are
// the two STABLE metrics. Every other metric is ALPHA: new with this server,
// its name and labels may still change.
const (
	NameMACCollisions      = "kmp_mac_collisions"
	NameDuplicateMACs      = "kubevirt_kmp_duplicate_macs"
	NamePoolCapacity       = "kmp_pool_capacity"
	NamePoolAllocated      = "kmp_pool_allocated"
	NameAllocationDuration = "kmp_allocation_duration_seconds"
	NameAdmissionRequests  = "kmp_admission_requests_total"
	NameAdmissionDuration  = "kmp_admission_duration_seconds"
	NameLeaseOperations    = "kmp_lease_operations_total"
	NameLeases             = "kmp_leases"
	// NameOldestReservationExpiry is the earliest status.expiresAt of the
	// Reserved leases: a value long past means reservations are stuck.
	NameOldestReservationExpiry = "kmp_lease_reservation_oldest_expiry_timestamp_seconds"
	NameCertificateExpiry       = "kmp_certificate_expiry_timestamp_seconds"
	NameCertificateWrites       = "kmp_certificate_writes_total"
	// NameWebhookCallerAuthorizationDisabled is 1 while anyone who reaches
	// the secure port may call the admission webhooks.
	NameWebhookCallerAuthorizationDisabled = "kmp_webhook_caller_authorization_disabled"
	// NameBuildInfo is 1, labelled with the build the replica runs.
	NameBuildInfo = "kmp_build_info"
	// NamePodRemovalReplay is when the replica, at its start, learnt of
	// the Pods removed while no replica ran, by result.
	NamePodRemovalReplay = "kmp_pod_removal_replay_timestamp_seconds"
)

// Label names.
const (
	LabelMAC         = "mac"
	LabelPool        = "pool"
	LabelResult      = "result"
	LabelResource    = "resource"
	LabelOperation   = "operation"
	LabelCertificate = "certificate"
	LabelAction      = "action"
	LabelPhase       = "phase"
	LabelVersion     = "version"
	LabelGitCommit   = "git_commit"
	LabelGoVersion   = "go_version"
)

// Metric types as written in the documentation; they match the lower-case
// names of the exposition format's TYPE line.
const (
	TypeCounter   = "counter"
	TypeGauge     = "gauge"
	TypeHistogram = "histogram"
)

// MetricDoc describes one exported metric. It is the single source of truth
// from which New builds the collectors and WriteMarkdown the docs.
type MetricDoc struct {
	Name   string
	Type   string
	Help   string
	Labels []string
	// StabilityLevel is component-base's: ALPHA unless said otherwise. The
	// exposed help text starts with it in brackets, "[ALPHA] ...", as every
	// Kubernetes metric's does.
	StabilityLevel k8smetrics.StabilityLevel
}

// Stability returns the metric's stability level, ALPHA when none is set.
func (d MetricDoc) Stability() k8smetrics.StabilityLevel {
	if d.StabilityLevel == "" {
		return k8smetrics.ALPHA
	}
	return d.StabilityLevel
}

// ExposedHelp is the help text as /metrics shows it: the documented help
// after the stability level.
func (d MetricDoc) ExposedHelp() string {
	return "[" + string(d.Stability()) + "] " + d.Help
}

var (
	docMACCollisions = MetricDoc{
		Name:   NameMACCollisions,
		Type:   TypeGauge,
		Help:   "Number of running objects (Pods and VirtualMachineInstances) sharing the MAC address in label mac. A series exists only while the MAC is in collision (value >= 2) and is removed once the collision is resolved.",
		Labels: []string{LabelMAC},
		// The original's, alerted on by KubemacpoolMACCollisionDetected.
		StabilityLevel: k8smetrics.STABLE,
	}
	docDuplicateMACs = MetricDoc{
		Name: NameDuplicateMACs,
		Type: TypeGauge,
		Help: "[DEPRECATED] Number of MAC addresses currently in collision. Use kmp_mac_collisions instead, which also tells which MACs collide.",
		// The original's, alerted on by cluster-network-addons-operator's
		// rules; stable until it is removed.
		StabilityLevel: k8smetrics.STABLE,
	}
	docPoolCapacity = MetricDoc{
		Name:   NamePoolCapacity,
		Type:   TypeGauge,
		Help:   "Number of MAC addresses in the ranges of the MacPool in label pool.",
		Labels: []string{LabelPool},
	}
	docPoolAllocated = MetricDoc{
		Name:   NamePoolAllocated,
		Type:   TypeGauge,
		Help:   "Number of MAC addresses of the MacPool in label pool that are currently leased.",
		Labels: []string{LabelPool},
	}
	docAllocationDuration = MetricDoc{
		Name:   NameAllocationDuration,
		Type:   TypeHistogram,
		Help:   "Time taken to allocate a MAC address from the MacPool in label pool, by result (success, exhausted, conflict, error).",
		Labels: []string{LabelPool, LabelResult},
	}
	docAdmissionRequests = MetricDoc{
		Name:   NameAdmissionRequests,
		Type:   TypeCounter,
		Help:   "Admission requests handled by the MAC webhook, by resource (pods, virtualmachines), lower-case operation and result (allowed, mutated, denied, error).",
		Labels: []string{LabelResource, LabelOperation, LabelResult},
	}
	docAdmissionDuration = MetricDoc{
		Name:   NameAdmissionDuration,
		Type:   TypeHistogram,
		Help:   "Time the MAC webhook took to answer an admission request, from reading the review to the decision, by resource (pods, virtualmachines) and lower-case operation. kube-apiserver gives up after the webhook's timeoutSeconds (10).",
		Labels: []string{LabelResource, LabelOperation},
	}
	docLeaseOperations = MetricDoc{
		Name:   NameLeaseOperations,
		Type:   TypeCounter,
		Help:   "MacLease changes made by the lease controller, by operation (bind, expire, release, adopt, retain).",
		Labels: []string{LabelOperation},
	}
)

var (
	docLeases = MetricDoc{
		Name:   NameLeases,
		Type:   TypeGauge,
		Help:   "Number of MacLeases by phase: Reserved (waiting for its owner), Bound, Retained (kept for a deleted owner), Pending (an owner but no phase yet, made by hand) and Static (no owner: a static reservation). Exported by the replica that leads the lease controller only.",
		Labels: []string{LabelPhase},
	}
	docOldestReservationExpiry = MetricDoc{
		Name: NameOldestReservationExpiry,
		Type: TypeGauge,
		Help: "The earliest status.expiresAt among Reserved leases, as a Unix time; absent while no Reserved lease has one. The lease controller binds or expires a reservation by then, so a time long past means leases are stuck un-bound. Exported by the replica that leads the lease controller only.",
	}
)

var (
	docCertificateExpiry = MetricDoc{
		Name:   NameCertificateExpiry,
		Type:   TypeGauge,
		Help:   "When the certificate in label certificate expires, as a Unix time: ca is the newest CA of the bundle, serving the certificate this replica presents. Rotation keeps both at least one overlap interval away; alert if one comes closer.",
		Labels: []string{LabelCertificate},
	}
	docCertificateWrites = MetricDoc{
		Name:   NameCertificateWrites,
		Type:   TypeCounter,
		Help:   "Changes this replica made to the certificate Secret, by action (regenerate, rotate-ca, renew-serving, prune-cas). regenerate after the start means the Secret was deleted or broken.",
		Labels: []string{LabelAction},
	}
)

var docWebhookCallerAuthorizationDisabled = MetricDoc{
	Name: NameWebhookCallerAuthorizationDisabled,
	Type: TypeGauge,
	Help: "1 when the server runs with --webhook-authorization=Disabled: any client that reaches the secure port may POST AdmissionReviews and make the server lease MACs in any namespace. 0 when only an authorized caller (kube-apiserver) may. Alert on 1 unless the control plane cannot authenticate to webhooks.",
}

var docPodRemovalReplay = MetricDoc{
	Name:   NamePodRemovalReplay,
	Type:   TypeGauge,
	Help:   "When this replica, as it started, learnt of the Pods removed while no replica ran, as a Unix time, by result: watched (kube-apiserver's Pod watch replayed from the last checkpoint), listed (the Pods at the checkpoint compared with the first list: the watch's events were gone), none (no checkpoint saved yet: a first start) and failed (not known: a Pod removed with --force in that gap, on a node that may still run it, holds no MAC). One series, of the start's result.",
	Labels: []string{LabelResult},
}

var docBuildInfo = MetricDoc{
	Name:   NameBuildInfo,
	Type:   TypeGauge,
	Help:   "Always 1, labelled with the build this replica runs: version (git describe), git_commit and go_version, as kubemacpool-apiserver --version prints them. Tells which replicas a rollout has reached, and which image a replica came from (its org.opencontainers.image.revision label).",
	Labels: []string{LabelVersion, LabelGitCommit, LabelGoVersion},
}

// Describe returns the documentation of every Kubemacpool metric, sorted by
// name. The Go runtime (go_*) and process (process_*) metrics that the
// endpoint also serves are standard and not listed.
func Describe() []MetricDoc {
	docs := []MetricDoc{
		docMACCollisions,
		docDuplicateMACs,
		docPoolCapacity,
		docPoolAllocated,
		docAllocationDuration,
		docAdmissionRequests,
		docAdmissionDuration,
		docLeaseOperations,
		docLeases,
		docOldestReservationExpiry,
		docCertificateExpiry,
		docCertificateWrites,
		docPodRemovalReplay,
		docWebhookCallerAuthorizationDisabled,
		docBuildInfo,
	}
	for i := range docs {
		// Copy the label slices so callers cannot alter the definitions
		// New builds collectors from.
		docs[i].Labels = slices.Clone(docs[i].Labels)
	}
	slices.SortFunc(docs, func(a, b MetricDoc) int { return cmp.Compare(a.Name, b.Name) })
	return docs
}

// allocationBuckets covers allocations from an in-memory hit (~100µs) to a
// contended create against etcd with retries (seconds); anything slower
// than 5s has already endangered the admission webhook's timeout, so finer
// resolution above it would not change what an operator does.
var allocationBuckets = []float64{
	0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05,
	0.1, 0.25, 0.5,
	1, 2.5, 5,
}

// admissionBuckets reach the webhook's 10s timeout: a review slower than
// that has already failed in kube-apiserver (failurePolicy Fail).
var admissionBuckets = []float64{
	0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5,
	1, 2.5, 5, 10,
}
