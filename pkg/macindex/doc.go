// Package macindex is the in-memory core of MAC allocation: which addresses
// are leased, and which address a pool should try next.
//
// The source of truth is the lease objects in our own storage; creating a
// lease is what actually claims a MAC, and storage refuses a second lease for
// the same address (AlreadyExists). This package only keeps a cheap local
// index so that a replica rarely proposes an address that is already leased:
//
//   - TakenSet is the index, fed by a watch of the leases. It stores merged,
//     disjoint intervals, in short sorted chunks indexed by a B-tree, so
//     memory grows with the number of leases (at worst one interval per
//     lease) and never with the width of a range, which can be 2^40
//     addresses. Finding the next free address skips a taken run or a whole
//     multicast block in one step, so it does not slow down as a pool fills.
//   - Pool is one pool's ranges plus a cursor. The cursor starts at a random
//     offset, so that replicas and restarts do not all race for the same
//     first address, and only moves forward, so that a just-freed MAC is not
//     handed straight back while ARP and DHCP caches may still remember it.
//   - Allocate ties the two to the storage: propose a candidate, create its
//     lease, and on AlreadyExists (another replica won) move on.
//
// All pools share one TakenSet because a MAC must be unique cluster-wide, not
// per pool. Everything here is safe for concurrent use and has no dependency
// on the API server, so the watch and the lease creation are wired in by the
// caller.
package macindex
