// Package hashedindex indexes informer objects by a value that is unique,
// or nearly so, to each object (a MacLease's name, its owner), at a
// fraction of the memory of a plain client-go index.
//
// A client-go index keeps a set of object keys for every distinct value: a
// map of its own, about 290 bytes, for a value that one object has. With
// 100,000 leases, the lease controller's index by name and the allocator's
// index by owner held 50 MB of such sets. Here the index value is one of a
// fixed number of buckets of the value's hash, so each set holds many keys;
// a lookup reads the bucket and keeps the objects whose own value is the
// one asked for. The result is the same as a plain index's, from the same
// store under the same lock. The hash has a random seed per process, so a
// tenant who picks names cannot aim them all at one bucket.
package hashedindex
