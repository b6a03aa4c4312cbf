package allocation

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/macindex"
)

// ClaimOutcome is what happened to an address a workload asked for.
type ClaimOutcome int

const (
	// Leased: the address was free and is now leased to the owner.
	Leased ClaimOutcome = iota
	// AlreadyOwned: the namespace already leases the address to this
	// object and interface (an UPDATE; or the interface that carried it
	// before it moved to another network, Transaction.RequestMoved), or to
	// this very admission (a call kube-apiserver retried).
	AlreadyOwned
	// StaticReservation: a lease without owner in the same namespace keeps
	// the address for workloads there that ask for it.
	StaticReservation
	// HeldElsewhere: another object or namespace holds the address. The
	// pool's conflict policy says whether that is a warning, a denial or a
	// reassignment.
	HeldElsewhere
	// Excluded: the address is in spec.exclude of the interface's pool and
	// no static reservation of the namespace holds it; nothing was leased.
	Excluded
	// Reclaimed: the namespace retains the address for this object and
	// interface (spec.retention of its pool); it is reserved for it again.
	Reclaimed
)

// Claim is the answer to a requested address.
type Claim struct {
	Outcome        ClaimOutcome
	ConflictPolicy v1alpha1.ConflictPolicy
	// Pool is the name of the pool that serves the interface, or, for an
	// Excluded outcome, of the pool whose spec.exclude holds the address.
	Pool string
	// reclaimed is the lease a Reclaimed outcome took back.
	reclaimed *reclaimedLease
	// created is the lease a Leased outcome created, or an AlreadyOwned
	// one took over from an earlier call of the request: the version a
	// failed admission may release.
	created *v1alpha1.MacLease
}

// Claim leases a requested address to owner if nobody holds it. A dry-run
// claim reports what would happen and leases nothing.
func (s *Service) Claim(ctx context.Context, namespace string, owner Owner, iface string, network Network, address mac.Address, dryRun bool) (Claim, error) {
	return s.claim(ctx, namespace, owner, iface, "", network, address, dryRun)
}

// claim is Claim; from, when not empty, is the interface on which owner
// carried address before this update (Transaction.RequestMoved), whose
// lease is owner's own too.
func (s *Service) claim(ctx context.Context, namespace string, owner Owner, iface, from string, network Network, address mac.Address, dryRun bool) (Claim, error) {
	if !s.HasSynced() {
		return Claim{}, errLoading
	}
	selected, err := s.poolFor(ctx, namespace, network)
	if err != nil {
		return Claim{}, err
	}
	owner = owner.withAttempt()
	claim := Claim{ConflictPolicy: selected.conflictPolicy, Pool: selected.state.Name()}
	if excluding := s.excludingPool(address, selected); excluding != "" {
		claim.Pool = excluding
		return s.claimExcluded(ctx, namespace, owner, iface, from, address, claim, dryRun)
	}
	poolName := ""
	for _, r := range selected.ranges {
		if r.Contains(address) {
			poolName = selected.state.Name()
		}
	}
	// limited is set when the namespace may reserve no more: the address may
	// still need no new lease (the object's own, a static reservation, a
	// retained lease to reclaim), which the read below tells.
	var limited *ReservationLimitError
	if !dryRun {
		created, err := s.createLeaseReliably(ctx, namespace, address, poolName, owner, iface)
		switch {
		case err == nil:
			s.taken.Add(address)
			claim.Outcome, claim.created = Leased, created
			return claim, nil
		case errors.As(err, &limited):
		case !apierrors.IsAlreadyExists(err):
			return Claim{}, fmt.Errorf("leasing the requested MAC %s: %w", address, err)
		}
	}
	// Through the namespace, a lease of another namespace is NotFound: that
	// is all this namespace may learn about it.
	existing, err := s.leases.Get(ctx, namespace, address.Name())
	switch {
	case apierrors.IsNotFound(err) && limited != nil:
		return Claim{}, fmt.Errorf("leasing the requested MAC %s: %w", address, limited)
	case apierrors.IsNotFound(err):
		if dryRun && !s.taken.Contains(address) {
			claim.Outcome = Leased
		} else {
			claim.Outcome = HeldElsewhere
		}
	case err != nil:
		return Claim{}, fmt.Errorf("reading the lease of the requested MAC %s: %w", address, err)
	case existing.Spec.Owner == nil:
		claim.Outcome = StaticReservation
	case ownedBy(existing, owner, iface, false) || from != "" && ownedBy(existing, owner, from, true):
		taken, err := s.keepOwned(ctx, existing, owner, dryRun)
		if err != nil {
			return Claim{}, fmt.Errorf("leasing the requested MAC %s: %w", address, err)
		}
		claim.Outcome, claim.created = AlreadyOwned, taken
	default:
		claim.Outcome = HeldElsewhere
		reclaimed, ok, err := s.claimRetained(ctx, existing, owner, iface, dryRun)
		if err != nil {
			return Claim{}, fmt.Errorf("leasing the requested MAC %s: %w", address, err)
		}
		if ok {
			claim.Outcome, claim.reclaimed = Reclaimed, reclaimed
		}
	}
	return claim, nil
}

// excludingPool names a pool whose spec.exclude holds address: the pool
// that serves the interface first, else any other, by name. An exclusion
// names an address already on the network (a host's, a gateway's), which no
// workload may take whichever pool serves it: the pool of a network is
// chosen by the interface's network, and a tenant who may create
// NetworkAttachmentDefinitions can put its interfaces on a pool that does
// not exclude the address. MacLeaseReservationScope holds static
// reservations to the same rule.
func (s *Service) excludingPool(address mac.Address, selected *pool) string {
	if macindex.Excluded(address, selected.exclude) {
		return selected.state.Name()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	excluding := ""
	for name, candidate := range s.pools {
		if (excluding == "" || name < excluding) && macindex.Excluded(address, candidate.exclude) {
			excluding = name
		}
	}
	return excluding
}

// claimExcluded answers a request for an address in the pool's
// spec.exclude. It leases nothing: an excluded address is the
// administrator's to give, through a static reservation in the namespace
// (or a lease the object already holds, when it is updated and keeps the
// address on its network; moved to another network, from not empty, its own
// lease does not make the exclusion there any less).
func (s *Service) claimExcluded(ctx context.Context, namespace string, owner Owner, iface, from string, address mac.Address, claim Claim, dryRun bool) (Claim, error) {
	existing, err := s.leases.Get(ctx, namespace, address.Name())
	switch {
	case apierrors.IsNotFound(err):
		claim.Outcome = Excluded
	case err != nil:
		return Claim{}, fmt.Errorf("reading the lease of the requested MAC %s: %w", address, err)
	case existing.Spec.Owner == nil:
		claim.Outcome = StaticReservation
	case from == "" && ownedBy(existing, owner, iface, false):
		taken, err := s.keepOwned(ctx, existing, owner, dryRun)
		if err != nil {
			return Claim{}, fmt.Errorf("keeping the requested MAC %s: %w", address, err)
		}
		claim.Outcome, claim.created = AlreadyOwned, taken
	default:
		claim.Outcome = Excluded
	}
	return claim, nil
}

// ownedBy reports whether lease is already the owner's own. Kind and name
// are not enough: the replicas of a ReplicaSet share a generateName prefix,
// and each one asking for a fixed MAC must count as another object, or
// conflictPolicy Reject admits them all. carried tells that the stored
// object (an update's) carries the lease's MAC on iface.
func ownedBy(lease *v1alpha1.MacLease, owner Owner, iface string, carried bool) bool {
	held := lease.Spec.Owner
	if held.Kind != owner.Kind || lease.Spec.Interface != iface {
		return false
	}
	if ownAttempt(lease, string(owner.Request), iface) {
		return true
	}
	if owner.UID == "" {
		return false
	}
	for _, reference := range lease.OwnerReferences {
		if reference.UID == owner.UID {
			return true
		}
	}
	if len(lease.OwnerReferences) != 0 || held.Name != owner.Name {
		return false
	}
	// A lease of this name without owner references. A reservation not
	// bound yet can only have been made by the create of this object, since
	// it exists (it is being updated) and names are unique in a namespace.
	// A MAC the stored object carries already (moved to another network)
	// stays its own, as before: it was admitted with the object, and the
	// controller binds a lease to the object of that exact name that
	// carries its MAC.
	if carried {
		return true
	}
	switch lease.Status.Phase {
	case v1alpha1.MacLeasePhaseRetained:
		// Kept for the next object of the name after an earlier one's
		// deletion: the reclaim's (claimRetained), which respects its
		// node holds, never a reason to skip the conflictPolicy.
		return false
	case v1alpha1.MacLeasePhaseBound:
		// Under retention no lease has owner references. Bound to the
		// name, the lease is this object's for the lease controller, which
		// keeps it while the object's VMI or launcher still reports the
		// MAC (a running VM that dropped it in an earlier update), and
		// binds it to the object of the name that carries it: taking it
		// back is no conflict. Node holds say a node may still run an
		// earlier object of the name with the MAC: those go to the pool's
		// policy, as for the create.
		_, held := lease.Annotations[macpool.NodeHoldsAnnotation]
		return !held
	}
	return true
}

// keepOwned makes sure that existing, a lease ownedBy owner, stays while
// this call answers with its MAC: one made by an earlier call of the same
// admission request, which may still fail and release it, is taken over
// first. A dry run answers nothing that is admitted, and writes nothing.
// It returns the version a takeover wrote, nil without one: that version
// is this call's to release if it fails in turn, as if it had created it.
// Neither call would release the lease otherwise (the earlier call's
// version is gone), and the request's next attempt would find its MAC held
// by "another object" until the reservation expired.
func (s *Service) keepOwned(ctx context.Context, existing *v1alpha1.MacLease, owner Owner, dryRun bool) (*v1alpha1.MacLease, error) {
	if dryRun || !earlierCall(existing, owner) {
		return nil, nil
	}
	return s.takeOver(ctx, existing, owner)
}

// createdLease is a lease one admission call created, as it was stored:
// the only version of it that call may release.
type createdLease struct {
	address         mac.Address
	uid             types.UID
	resourceVersion string
}

func createdVersion(address mac.Address, lease *v1alpha1.MacLease) createdLease {
	return createdLease{address: address, uid: lease.UID, resourceVersion: lease.ResourceVersion}
}

// release deletes leases this admission created before it failed, so that a
// denied request leaves nothing behind. Reservations the controller would
// expire anyway: this only makes the address free at once. Each delete is
// conditional on the version the admission created: a lease changed since
// (a retried call of the same request took it over and may have admitted
// its object with the MAC, or the lease controller wrote it) is not this
// call's to free without proof that nothing carries the MAC. It stays, and
// the lease controller releases it when its reservation expires, with that
// proof.
func (s *Service) release(ctx context.Context, namespace string, leases []createdLease) error {
	var failed []error
	for _, lease := range leases {
		uid, version := lease.uid, lease.resourceVersion
		err := s.leases.Delete(ctx, namespace, lease.address.Name(), metav1.Preconditions{UID: &uid, ResourceVersion: &version})
		switch {
		case err == nil:
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
			klog.V(2).InfoS("Keeping a lease of a denied admission that changed since it was created, or is gone",
				"lease", klog.KRef(namespace, lease.address.Name()), "err", err)
		default:
			failed = append(failed, fmt.Errorf("releasing %s: %w", lease.address, err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("releasing leases of a denied request: %w", errors.Join(failed...))
	}
	return nil
}
