// Package maclease is the REST storage of MacLeases.
//
// A MacLease is namespaced, yet its storage key is its name (the MAC) alone:
// the atomic create of that key is what makes an address unique across the
// whole cluster, also between several server replicas. Namespace isolation,
// which the generic registry normally gets from the key prefix, is enforced
// by namespaceGuard on every storage call instead.
package maclease
