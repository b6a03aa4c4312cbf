package macpool

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// MacLease records that one MAC address is taken. Its name is the address in
// dash form and its storage key is the address alone, so no two namespaces
// can ever lease the same MAC.
type MacLease struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   MacLeaseSpec
	Status MacLeaseStatus
}

// MacLeaseSpec says which address is leased, from which pool, to whom.
type MacLeaseSpec struct {
	// MACAddress in colon form; must be the same address as the name.
	MACAddress string
	// Pool the address was allocated from; empty for reservations outside any pool.
	Pool string
	// Owner is the object that carries the address. Nil makes the lease a
	// static reservation.
	Owner *LeaseOwner
	// Interface is the VM interface name or the multus network the address is on.
	Interface string
}

// LeaseOwner names the object that carries a leased address.
type LeaseOwner struct {
	APIVersion string
	Kind       string
	// Name of the owner, or its generateName prefix while it has no name yet.
	Name string
}

// MacLeasePhase is where a lease is in its life.
type MacLeasePhase string

const (
	// MacLeasePhaseReserved is a lease created at admission whose owner has
	// not been seen yet; it expires at status.expiresAt.
	MacLeasePhaseReserved MacLeasePhase = "Reserved"
	// MacLeasePhaseBound is a lease whose owner was seen carrying the address.
	MacLeasePhaseBound MacLeasePhase = "Bound"
	// MacLeasePhaseRetained is a lease whose owner was deleted under a
	// retention policy: the address waits until status.expiresAt for an
	// object of the same kind, namespace and name.
	MacLeasePhaseRetained MacLeasePhase = "Retained"
)

// MacLeaseStatus is written by the lease controller.
type MacLeaseStatus struct {
	Phase MacLeasePhase
	// ExpiresAt is when a Reserved lease is released if its owner never
	// appears, or a Retained lease if its owner is not created again.
	ExpiresAt *metav1.Time
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// MacLeaseList is a list of MacLeases.
type MacLeaseList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []MacLease
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// MacPool is a set of address ranges that the allocator hands out from.
type MacPool struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   MacPoolSpec
	Status MacPoolStatus
}

// ConflictPolicy says what happens when a workload requests an address that
// another object holds.
type ConflictPolicy string

const (
	// ConflictPolicyWarn admits the workload with an admission warning and
	// leaves the conflict to collision detection, so migrations keep working.
	ConflictPolicyWarn ConflictPolicy = "Warn"
	// ConflictPolicyReject denies the workload.
	ConflictPolicyReject ConflictPolicy = "Reject"
	// ConflictPolicyReassign replaces the requested address with a free one
	// of the pool and says so in a warning and an event (cloned and restored
	// VMs that carry their source's MACs).
	ConflictPolicyReassign ConflictPolicy = "Reassign"
)

// MacPoolSpec is the configuration of a pool.
type MacPoolSpec struct {
	Ranges []MACRange
	// NamespaceSelector picks the namespaces that use this pool; namespaces no
	// pool selects use the pool named "default".
	NamespaceSelector *metav1.LabelSelector
	ConflictPolicy    ConflictPolicy
	// Exclude are ranges that are never handed out, nor leased on request.
	Exclude []MACRange
	// Retention keeps the addresses of deleted objects for an object of the
	// same kind, namespace and name; nil releases them at once.
	Retention *RetentionPolicy
	// NetworkSelector restricts the pool to interfaces on the multus
	// networks it selects; see NetworkSelector.
	NetworkSelector *NetworkSelector
}

// RetentionPolicy says how long a pool keeps the addresses of deleted
// objects (sticky MACs).
type RetentionPolicy struct {
	// Duration is how long a deleted object's leases stay Retained; zero
	// releases them at once.
	Duration metav1.Duration
}

// NetworkSelector picks multus networks (NetworkAttachmentDefinitions) by
// reference or by label. A network matches when it is in Networks or its
// labels match LabelSelector.
type NetworkSelector struct {
	Networks      []NetworkReference
	LabelSelector *metav1.LabelSelector
}

// NetworkReference names one NetworkAttachmentDefinition.
type NetworkReference struct {
	Namespace string
	Name      string
}

// MACRange is an inclusive range of unicast addresses.
type MACRange struct {
	Start string
	End   string
}

// MacPoolStatus is reported by the allocator.
type MacPoolStatus struct {
	Capacity  int64
	Allocated int64
	Free      int64
	// Retained counts the pool's Retained leases, which Allocated includes.
	Retained   int64
	Conditions []metav1.Condition
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// MacPoolList is a list of MacPools.
type MacPoolList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []MacPool
}

// DefaultPoolName is the MacPool that serves every namespace no other pool
// selects; the server creates it at start when it does not exist.
const DefaultPoolName = "default"
