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

// Transaction is the addresses one admission request assigns. If the
// request fails half-way, Abort releases the leases it created, so a denied
// object leaves no lease behind.
type Transaction struct {
	service   *Service
	namespace string
	owner     Owner
	dryRun    bool
	created   []mac.Address
	warnings  []string
}

// Begin starts the assignments of one admission request.
func (s *Service) Begin(namespace string, owner Owner, dryRun bool) *Transaction {
	return &Transaction{service: s, namespace: namespace, owner: owner, dryRun: dryRun}
}

// Allocate leases a free address for iface.
func (t *Transaction) Allocate(ctx context.Context, iface string) (mac.Address, error) {
	address, err := t.service.Allocate(ctx, t.namespace, t.owner, iface, t.dryRun)
	if err != nil {
		return 0, fmt.Errorf("allocating a MAC address for %s: %w", iface, err)
	}
	if !t.dryRun {
		t.created = append(t.created, address)
	}
	return address, nil
}

// Request leases the address the workload asked for on iface. An address
// held by another object is admitted with a warning (the collision detector
// reports it if both run) or refused with a ConflictError, as the pool says.
func (t *Transaction) Request(ctx context.Context, iface string, address mac.Address) error {
	claim, err := t.service.Claim(ctx, t.namespace, t.owner, iface, address, t.dryRun)
	if err != nil {
		return err
	}
	switch claim.Outcome {
	case Leased:
		if !t.dryRun {
			t.created = append(t.created, address)
		}
	case HeldElsewhere:
		if claim.ConflictPolicy == v1alpha1.ConflictPolicyReject {
			return &ConflictError{Address: address, Interface: iface}
		}
		t.warnings = append(t.warnings, fmt.Sprintf(
			"MAC address %s requested for %s is already leased to another object; if both run on the same L2 network they collide", address, iface))
	}
	return nil
}

// Warnings are the admission warnings collected so far.
func (t *Transaction) Warnings() []string { return t.warnings }

// abortTimeout bounds the cleanup of a failed admission. The cleanup does
// not share the request's deadline: a request that failed because it was
// cancelled or timed out must still delete what it created.
const abortTimeout = 10 * time.Second

// Abort releases the leases the transaction created. It runs on its own
// deadline, detached from ctx's cancellation: kube-apiserver cancels the
// request context when it gives up on the webhook, which is exactly when
// the leases must go.
func (t *Transaction) Abort(ctx context.Context) {
	if len(t.created) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	if err := t.service.Release(ctx, t.namespace, t.created); err != nil {
		// The reservations expire on their own; this only delays reuse.
		klog.ErrorS(err, "Releasing the leases of a denied admission", "namespace", t.namespace, "owner", t.owner.Name)
	}
	t.created = nil
}
