// Package leaseprotection is an admission plugin of kubemacpool-apiserver
// that keeps the finalizer macpool.kubemacpool.io/mac-protection on a
// MacLease until the lease controller removes it.
//
// The finalizer keeps a deleted lease, and its MAC out of the allocator's
// reach, while an object of its namespace still carries or reports the MAC.
// A namespace admin may update and delete the leases of the namespace; if
// they could also drop the finalizer, they could free a MAC that is still on
// the network and let the allocator hand it to another tenant's Pod on the
// same L2 network. Removing it therefore takes the permission to update
// macleases/finalizers, which cluster administrators have and the aggregated
// namespace roles do not, as kube-apiserver asks for the same subresource
// before an owner reference may block its owner's deletion.
package leaseprotection
