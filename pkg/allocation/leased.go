package allocation

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// LeasedTo tells whether the lease of address in namespace is the object's
// (kind, name, uid): bound to it (an owner reference of its kind with its
// UID), made for its name, or reserved for the generateName prefix its name
// starts with while not bound yet. A static reservation of the namespace
// counts too: a webhook admits its MAC for any object of the namespace. A
// lease of another namespace reads as NotFound through the namespace guard:
// not the object's. An error is the lease storage's, temporary.
//
// The Pod webhook asks it for the MACs of a virt-launcher pod: they are its
// VirtualMachine's only if that VM's webhook leased them.
func (s *Service) LeasedTo(ctx context.Context, namespace string, address mac.Address, kind, name string, uid types.UID) (bool, error) {
	lease, err := s.leases.Get(ctx, namespace, address.Name())
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, &NotReadyError{Reason: fmt.Sprintf("reading the lease of %s: %v", address, err)}
	}
	return leasedTo(lease, kind, name, uid), nil
}

func leasedTo(lease *v1alpha1.MacLease, kind, name string, uid types.UID) bool {
	owner := lease.Spec.Owner
	if owner == nil {
		return true
	}
	if owner.Kind != kind {
		return false
	}
	if lease.Status.Phase == v1alpha1.MacLeasePhaseRetained {
		// Kept for the next object of the name, which is not this one yet:
		// it gets it back by the reclaim (never while a node may still run
		// the earlier object with it), not by carrying it. Retained leases
		// have no owner references, so the name below would match.
		return false
	}
	for _, reference := range lease.OwnerReferences {
		if reference.Kind == kind {
			return reference.UID == uid
		}
	}
	// Not bound with an owner reference: a reservation, or a lease of a
	// pool with retention, bound by name alone.
	return owner.Name == name ||
		lease.Status.Phase == v1alpha1.MacLeasePhaseReserved && strings.HasPrefix(name, owner.Name)
}

// LeasedTo is Service.LeasedTo for a MAC this webhook call answers with
// without leasing it (a launcher's MAC its VM or launcher holds). A lease
// made or taken by an earlier call of the same admission request (the
// launcher webhook's own Request, which kube-apiserver retried) reads as
// leased to the object too; that call may still fail and release the
// version it wrote, so this call takes the lease over first (keepOwned),
// as a Request of the MAC would, before it answers.
func (t *Transaction) LeasedTo(ctx context.Context, address mac.Address, kind, name string, uid types.UID) (bool, error) {
	lease, err := t.service.leases.Get(ctx, t.namespace, address.Name())
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, &NotReadyError{Reason: fmt.Sprintf("reading the lease of %s: %v", address, err)}
	case !leasedTo(lease, kind, name, uid):
		return false, nil
	}
	taken, err := t.service.keepOwned(ctx, lease, t.owner, t.dryRun)
	if err != nil {
		return false, fmt.Errorf("keeping the MAC %s: %w", address, err)
	}
	if taken != nil {
		t.created = append(t.created, createdVersion(address, taken))
	}
	return true, nil
}
