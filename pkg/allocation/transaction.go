package allocation

import (
	"context"
	"fmt"
	"time"

	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// ConflictError is a requested address that another object holds, under a
// pool whose conflict policy is Reject.
type ConflictError struct {
	Address   mac.Address
	Interface string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("MAC address %s requested for %s is already in use by another object, and the MAC pool's conflictPolicy is Reject", e.Address, e.Interface)
}

// ExcludedError is a requested address inside spec.exclude of the
// interface's pool (its network's, else its namespace's), which no
// workload gets unless a static reservation in its namespace holds it.
type ExcludedError struct {
	Address   mac.Address
	Interface string
	Pool      string
}

func (e *ExcludedError) Error() string {
	return fmt.Sprintf("MAC address %s requested for %s is in spec.exclude of MacPool %q: excluded addresses are never leased to workloads, unless a static reservation (a MacLease without owner) in this namespace holds the address", e.Address, e.Interface, e.Pool)
}

// Reassignment is a requested address that another object holds, replaced
// under conflictPolicy Reassign.
type Reassignment struct {
	Interface string
	Requested mac.Address
	Assigned  mac.Address
}

// Message says what happened without naming the holder: the requester may
// learn that the address is taken, never by whom (another namespace).
func (r Reassignment) Message() string {
	return fmt.Sprintf("MAC address %s requested for %s is already in use by another object; conflictPolicy Reassign replaced it with %s", r.Requested, r.Interface, r.Assigned)
}

// Transaction is the addresses one admission request assigns. If the
// request fails half-way, Abort releases the leases it created, so a denied
// object leaves no lease behind.
type Transaction struct {
	service   *Service
	namespace string
	owner     Owner
	dryRun    bool
	// created are the leases this call created, at the version it stored:
	// Abort releases those versions and no other.
	created []createdLease
	// reclaimed are the leases taken back from retention; Abort restores
	// them.
	reclaimed []*reclaimedLease
	warnings  []string
	// reassigned are the requested addresses replaced under Reassign.
	reassigned []Reassignment
}

// Begin starts the assignments of one admission request, in one webhook
// call: kube-apiserver may call again for the same request, and each call
// gets a token of its own (see AttemptAnnotation).
func (s *Service) Begin(namespace string, owner Owner, dryRun bool) *Transaction {
	return &Transaction{service: s, namespace: namespace, owner: owner.withAttempt(), dryRun: dryRun}
}

// Allocate leases a free address for iface, on network (zero for an
// interface on no multus network), from the pool that serves it.
func (t *Transaction) Allocate(ctx context.Context, iface string, network Network) (mac.Address, error) {
	// An object created again under a name whose addresses its namespace
	// retains gets them back on the same interface or network.
	address, reclaimed, found, err := t.service.reclaim(ctx, t.namespace, t.owner, iface, t.dryRun)
	if err != nil {
		return 0, fmt.Errorf("allocating a MAC address for %s: %w", iface, err)
	}
	if found {
		if reclaimed != nil {
			t.reclaimed = append(t.reclaimed, reclaimed)
		}
		return address, nil
	}
	address, created, err := t.service.allocate(ctx, t.namespace, t.owner, iface, network, t.dryRun)
	if err != nil {
		return 0, fmt.Errorf("allocating a MAC address for %s: %w", iface, err)
	}
	if created != nil {
		t.created = append(t.created, createdVersion(address, created))
	}
	return address, nil
}

// Request leases the address the workload asked for on iface and returns
// the address iface ends with. An address held by another object is, as
// the pool says, admitted with a warning (the collision detector reports it
// if both run), refused with a ConflictError, or replaced by a fresh address
// of the pool (Reassign, with a warning; see Reassigned). An address in the
// pool's spec.exclude is refused with an ExcludedError unless a static
// reservation in the namespace holds it.
func (t *Transaction) Request(ctx context.Context, iface string, network Network, address mac.Address) (mac.Address, error) {
	return t.request(ctx, iface, "", network, address)
}

// RequestMoved is Request for an address the object carried before this
// update on its interface from, and now carries on iface, on another
// network: that network's pool decides about it as about any requested
// address, since it never did. A lease the object holds for from is its
// own all the same (AlreadyOwned), not another object's: moving its own
// MAC is no conflict.
func (t *Transaction) RequestMoved(ctx context.Context, iface, from string, network Network, address mac.Address) (mac.Address, error) {
	return t.request(ctx, iface, from, network, address)
}

func (t *Transaction) request(ctx context.Context, iface, from string, network Network, address mac.Address) (mac.Address, error) {
	claim, err := t.service.claim(ctx, t.namespace, t.owner, iface, from, network, address, t.dryRun)
	if err != nil {
		return 0, err
	}
	switch claim.Outcome {
	case Leased, AlreadyOwned:
		if claim.created != nil {
			t.created = append(t.created, createdVersion(address, claim.created))
		}
	case Reclaimed:
		if claim.reclaimed != nil {
			t.reclaimed = append(t.reclaimed, claim.reclaimed)
		}
	case Excluded:
		return 0, &ExcludedError{Address: address, Interface: iface, Pool: claim.Pool}
	case HeldElsewhere:
		switch claim.ConflictPolicy {
		case v1alpha1.ConflictPolicyReject:
			return 0, &ConflictError{Address: address, Interface: iface}
		case v1alpha1.ConflictPolicyReassign:
			assigned, err := t.Allocate(ctx, iface, network)
			if err != nil {
				return 0, fmt.Errorf("replacing the MAC address %s requested for %s, which another object holds: %w", address, iface, err)
			}
			reassignment := Reassignment{Interface: iface, Requested: address, Assigned: assigned}
			t.reassigned = append(t.reassigned, reassignment)
			t.warnings = append(t.warnings, reassignment.Message())
			return assigned, nil
		}
		t.warnings = append(t.warnings, fmt.Sprintf(
			"MAC address %s requested for %s is already leased to another object; if both run on the same L2 network they collide", address, iface))
	}
	return address, nil
}

// Reassigned are the requested addresses that conflictPolicy Reassign
// replaced, for the events the webhook emits once the object is admitted.
func (t *Transaction) Reassigned() []Reassignment { return t.reassigned }

// Warnings are the admission warnings collected so far.
func (t *Transaction) Warnings() []string { return t.warnings }

// abortTimeout bounds the cleanup of a failed admission. The cleanup does
// not share the request's deadline: a request that failed because it was
// cancelled or timed out must still delete what it created.
const abortTimeout = 10 * time.Second

// Abort releases the leases the transaction created, in the versions it
// created them, and restores those it reclaimed. It runs on its own
// deadline, detached from ctx's cancellation: kube-apiserver cancels the
// request context when it gives up on the webhook, which is exactly when
// the leases must go.
func (t *Transaction) Abort(ctx context.Context) {
	if len(t.created) == 0 && len(t.reclaimed) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	if err := t.service.restore(ctx, t.reclaimed); err != nil {
		// The controller makes them Retained again when they expire.
		klog.ErrorS(err, "Restoring the retained leases of a denied admission", "namespace", t.namespace, "owner", t.owner.Name)
	}
	t.reclaimed = nil
	if len(t.created) == 0 {
		return
	}
	if err := t.service.release(ctx, t.namespace, t.created); err != nil {
		// The reservations expire on their own; this only delays reuse.
		klog.ErrorS(err, "Releasing the leases of a denied admission", "namespace", t.namespace, "owner", t.owner.Name)
	}
	t.created = nil
}
