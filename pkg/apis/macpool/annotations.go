package macpool

import "slices"

// AllocationAttemptAnnotation marks the lease an allocation created with a
// token of that allocation (the admission request's UID, a slash and a
// random part of the webhook call's own), so that a create
// repeated after an unknown outcome, or a call kube-apiserver repeats, can
// tell its own lease from another object's (see pkg/allocation). It means
// nothing once the lease is bound to its owner, and the bind removes it.
const AllocationAttemptAnnotation = "macpool.kubemacpool.io/allocation-attempt"

// MACProtectionFinalizer keeps a bound lease, once deleted, until nothing
// in its namespace carries or reports its MAC any more, as
// kubernetes.io/pvc-protection keeps a volume claim a Pod uses. Without it
// a lease deleted while its Pod or VMI still runs (by hand, or by the
// namespace controller of a cluster that deletes a namespace's content
// without waiting for its Pods) would free a MAC that is still on the
// network. The webhooks create leases with it, adoption and the bind add it
// to a lease without it, and the lease controller (or the webhooks' cleanup
// of an admission they denied) removes it.
const MACProtectionFinalizer = "macpool.kubemacpool.io/mac-protection"

// WithoutMACProtection returns finalizers without MACProtectionFinalizer,
// in place: the write that lets a lease go.
func WithoutMACProtection(finalizers []string) []string {
	return slices.DeleteFunc(finalizers, func(f string) bool { return f == MACProtectionFinalizer })
}
