// Package allocation hands out MAC addresses by creating MacLeases through the
// server's own API. It keeps, per MacPool, the allocator state of
// pkg/macindex, fed by informers on MacLeases and MacPools, and picks the
// pool of a namespace by the pools' namespace selectors.
//
// The create of a lease is the only thing that makes an address someone's:
// the in-memory index is a fast guess, and a guess that another replica beat
// us to ends in AlreadyExists and a retry with the next candidate.
package allocation
