package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// MacLease records that one MAC address is taken in the cluster. The name is
// the address in dash form (02-00-00-00-00-0a); a MAC can be leased in only
// one namespace at a time, so creating a lease for an address that another
// namespace holds fails with AlreadyExists.
type MacLease struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which address is leased, from which pool, and to whom.
	// +optional
	Spec MacLeaseSpec `json:"spec,omitempty"`
	// Status is written by the lease controller.
	// +optional
	Status MacLeaseStatus `json:"status,omitempty"`
}

// MacLeaseSpec says which address is leased, from which pool, and to whom.
type MacLeaseSpec struct {
	// MACAddress is the leased address in colon form, for example
	// 02:00:00:00:00:0a. Either separator and any case are accepted and stored
	// lower-case with colons. It must be the same address as metadata.name,
	// and it is defaulted from the name when left empty. Immutable.
	// +optional
	MACAddress string `json:"macAddress,omitempty"`
	// Pool is the MacPool the address was allocated from. Empty for a static
	// reservation of an address outside every pool.
	// +optional
	Pool string `json:"pool,omitempty"`
	// Owner is the object that carries this address. A lease without owner is
	// a static reservation: it keeps the address out of every pool, for
	// example because a physical host on the same L2 network uses it.
	// +optional
	Owner *LeaseOwner `json:"owner,omitempty"`
	// Interface is the VirtualMachine interface name or the multus network
	// (namespace/name) the address is used on.
	// +optional
	Interface string `json:"interface,omitempty"`
}

// LeaseOwner names the object that carries a leased address.
type LeaseOwner struct {
	// APIVersion of the owner, for example v1 or kubevirt.io/v1.
	APIVersion string `json:"apiVersion"`
	// Kind of the owner, for example Pod or VirtualMachine.
	Kind string `json:"kind"`
	// Name of the owner, or its generateName prefix while the owner has no
	// name yet (at admission of a Pod created with generateName).
	Name string `json:"name"`
}

// MacLeasePhase is where a lease is in its life.
// +enum
type MacLeasePhase string

const (
	// MacLeasePhaseReserved is a lease created at admission whose owner has
	// not been seen yet; it is released at status.expiresAt unless its owner
	// appears.
	MacLeasePhaseReserved MacLeasePhase = "Reserved"
	// MacLeasePhaseBound is a lease whose owner was seen carrying the address.
	MacLeasePhaseBound MacLeasePhase = "Bound"
	// MacLeasePhaseRetained is a lease whose owner was deleted while the
	// pool's retention policy applied to it. The address is handed to nobody
	// else until status.expiresAt: an object of the same kind, namespace and
	// name created before then gets it back on the same interface or network.
	MacLeasePhaseRetained MacLeasePhase = "Retained"
)

// MacLeaseStatus is written by the lease controller.
type MacLeaseStatus struct {
	// Phase is Reserved until the owner is seen carrying the address, then
	// Bound; Retained after the owner's deletion under a retention policy.
	// +optional
	Phase MacLeasePhase `json:"phase,omitempty"`
	// ExpiresAt is when a Reserved lease is released if its owner never
	// appears, or a Retained lease if no object of its owner's kind and name
	// is created again in its namespace.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// MacLeaseList is a list of MacLeases.
type MacLeaseList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []MacLease `json:"items"`
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// MacPool is a set of MAC address ranges that the allocator hands out from.
// The pool named "default" serves every namespace that no other pool selects.
type MacPool struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the configuration of the pool.
	// +optional
	Spec MacPoolSpec `json:"spec,omitempty"`
	// Status is reported by the allocator.
	// +optional
	Status MacPoolStatus `json:"status,omitempty"`
}

// ConflictPolicy says what happens when a workload requests an address that
// another object holds.
// +enum
type ConflictPolicy string

const (
	// ConflictPolicyWarn admits the workload with an admission warning and
	// leaves the conflict to collision detection, so that migrations between
	// namespaces keep working.
	ConflictPolicyWarn ConflictPolicy = "Warn"
	// ConflictPolicyReject denies the workload.
	ConflictPolicyReject ConflictPolicy = "Reject"
	// ConflictPolicyReassign replaces the requested address with a free
	// address of the pool, and says so in an admission warning and an event
	// in the workload's namespace. Meant for cloned and restored
	// VirtualMachines that carry the MACs of their source.
	ConflictPolicyReassign ConflictPolicy = "Reassign"
)

// MacPoolSpec is the configuration of a pool.
type MacPoolSpec struct {
	// Ranges of unicast addresses, inclusive at both ends, that must not
	// overlap each other. Edits apply to new allocations at once; leases of
	// addresses outside the new ranges stay valid.
	// +listType=atomic
	// +optional
	Ranges []MACRange `json:"ranges,omitempty"`
	// NamespaceSelector picks the namespaces that allocate from this pool.
	// Namespaces that no pool selects use the pool named "default".
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// ConflictPolicy is Warn (the default: admit with a warning and report
	// the collision), Reject (deny) or Reassign (replace it with a free
	// address of the pool) for a requested address that another object
	// holds.
	// +optional
	ConflictPolicy ConflictPolicy `json:"conflictPolicy,omitempty"`
	// Exclude lists ranges, inclusive at both ends, that this pool never
	// hands out, for example the MACs of physical hosts on the same L2
	// network. A workload that asks for an excluded address is denied,
	// unless a static reservation in its namespace holds it. Excluded
	// ranges may lie partly or wholly outside spec.ranges (where they
	// change nothing) and may overlap each other. Status capacity does not
	// count excluded addresses.
	// +listType=atomic
	// +optional
	Exclude []MACRange `json:"exclude,omitempty"`
	// Retention keeps the addresses of deleted Pods and VirtualMachines of
	// this pool (sticky MACs): a lease whose owner is deleted becomes
	// Retained instead of being released, and an object of the same kind,
	// namespace and name created within the duration gets the same address
	// on the same interface or network. Absent or zero: released at once.
	// +optional
	Retention *RetentionPolicy `json:"retention,omitempty"`
	// NetworkSelector makes this a pool of multus networks: it serves only
	// the Pod and VirtualMachine interfaces on the networks it selects, and
	// it serves them ahead of any namespace-selected pool or the default
	// pool. With namespaceSelector set too, it serves those interfaces only
	// in the namespaces that selector picks. Two pools that select the same
	// interface's network are a configuration error: its admission is
	// denied with both pool names.
	// +optional
	NetworkSelector *NetworkSelector `json:"networkSelector,omitempty"`
}

// RetentionPolicy says how long a pool keeps the addresses of deleted objects.
type RetentionPolicy struct {
	// Duration is how long the leases of a deleted object stay Retained,
	// for example 24h; at most 8760h (a year). Zero releases them at once.
	// Objects whose name the API server generated (generateName) are not
	// retained, and an object annotated
	// macpool.kubemacpool.io/mac-retention: "false" opts out ("true" opts a
	// generated name in).
	// +optional
	Duration metav1.Duration `json:"duration,omitempty"`
}

// NetworkSelector picks multus networks (NetworkAttachmentDefinitions of
// k8s.cni.cncf.io) by reference, by label, or both: a network matches when
// it is listed in networks or its labels match labelSelector. At least one
// of the two must be set.
type NetworkSelector struct {
	// Networks lists NetworkAttachmentDefinitions by namespace and name.
	// They need not exist (yet): a reference matches by name alone.
	// +listType=atomic
	// +optional
	Networks []NetworkReference `json:"networks,omitempty"`
	// LabelSelector matches the labels of NetworkAttachmentDefinitions that
	// exist. It matches nothing while the cluster does not serve
	// NetworkAttachmentDefinitions; references still match then.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
}

// NetworkReference names one NetworkAttachmentDefinition.
type NetworkReference struct {
	// Namespace of the NetworkAttachmentDefinition.
	Namespace string `json:"namespace"`
	// Name of the NetworkAttachmentDefinition.
	Name string `json:"name"`
}

// MACRange is an inclusive range of unicast MAC addresses.
type MACRange struct {
	// Start is the first address of the range, for example 02:00:00:00:00:00.
	Start string `json:"start"`
	// End is the last address of the range, for example 02:ff:ff:ff:ff:ff.
	End string `json:"end"`
}

// MacPoolStatus is reported by the allocator.
type MacPoolStatus struct {
	// Capacity is the number of addresses in the ranges, less the excluded ones.
	// +optional
	Capacity int64 `json:"capacity,omitempty"`
	// Allocated is the number of leased addresses inside the ranges.
	// +optional
	Allocated int64 `json:"allocated,omitempty"`
	// Free is Capacity minus Allocated.
	// +optional
	Free int64 `json:"free,omitempty"`
	// Retained is the number of the pool's Retained leases: addresses kept
	// for deleted objects (spec.retention). Allocated includes them.
	// +optional
	Retained int64 `json:"retained,omitempty"`
	// Conditions of the pool.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// MacPoolList is a list of MacPools.
type MacPoolList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []MacPool `json:"items"`
}
