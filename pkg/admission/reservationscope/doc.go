// Package reservationscope is an admission plugin of kubemacpool-apiserver
// that keeps a namespace's MacLeases out of other tenants' pools. A lease
// created by anyone but the server itself may hold an address only inside a
// MacPool that serves the lease's namespace (the pool whose namespaceSelector
// matches it, or "default" when none does) or outside every pool. Without
// it, a namespace admin could reserve the addresses of a pool dedicated to
// another namespace and exhaust it.
//
// A lease of an address in any pool's spec.exclude further takes create
// permission on the virtual subresource macleases/exclude of its namespace,
// which cluster administrators have and the aggregated namespace roles do
// not: the webhooks hand the address of a lease without owner to the
// namespace's workloads as the administrator's choice, so a namespace admin
// who could make one would lift the exclusion for itself.
//
// Updates that can keep a lease past the object it was made for (see
// prolongs) are held to the same rules: the webhooks lease a requested MAC
// of any pool's range, and its namespace admin must not turn that lease
// into one that outlives its object.
//
// Leases the server creates itself (the admission webhooks and the lease
// controller, through the loopback client) are not checked: they follow the
// allocation rules of pkg/allocation.
package reservationscope
