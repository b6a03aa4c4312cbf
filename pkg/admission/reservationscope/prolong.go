package reservationscope

import (
	"slices"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/retention"
)

// prolongs tells an update that can keep a lease longer than the object it
// was made for: the webhooks lease a requested MAC of any pool's range (and
// an address excluded after it was leased) to the object that asks, and
// the lease controller frees it once that object is gone. A namespace admin
// who could change what the controller decides by would keep such an
// address for good, without any object, as with a static reservation it
// may not create:
//
//   - removing spec.owner makes the lease a static reservation, which the
//     controller never frees;
//   - another spec.owner names an object that never comes: a VirtualMachine
//     lease waits for good where KubeVirt is not installed, a Reserved lease
//     reclaimed from retention goes Retained at its expiry;
//   - another spec.pool takes that pool's retention (up to a year, renewed
//     by each create of an object of the owner's name);
//   - another retained-until annotation on a Reserved lease is how long it
//     stays Retained at its expiry, with no bound;
//   - node holds set or changed keep a deleted lease until the nodes they
//     name report Ready (or for good while one stays NotReady);
//   - a finalizer added keeps the released lease, and its key, in storage
//     until whoever added it removes it.
//
// Such an update is held to the rules of the create of a static
// reservation. Removing a finalizer is not: it only lets a lease go
// (MacLeaseProtection guards the server's own). Nor is any update of a
// static reservation, which stays until someone deletes it anyway.
func prolongs(old, lease *macpool.MacLease) bool {
	switch {
	case old.Spec.Owner == nil:
		return false
	case lease.Spec.Owner == nil, *old.Spec.Owner != *lease.Spec.Owner, old.Spec.Pool != lease.Spec.Pool:
		return true
	}
	before, hadUntil := old.Annotations[retention.RetainedUntilAnnotation]
	after, hasUntil := lease.Annotations[retention.RetainedUntilAnnotation]
	if hasUntil && (!hadUntil || before != after) {
		return true
	}
	before, hadHolds := old.Annotations[macpool.NodeHoldsAnnotation]
	after, hasHolds := lease.Annotations[macpool.NodeHoldsAnnotation]
	if hasHolds && (!hadHolds || before != after) {
		return true
	}
	for _, finalizer := range lease.Finalizers {
		if !slices.Contains(old.Finalizers, finalizer) {
			return true
		}
	}
	return false
}
