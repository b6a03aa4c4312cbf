// Package retention holds the rules of sticky MACs that the webhooks and the
// lease controller share: which objects a pool's retention policy applies
// to, how an object opts out or in (its macpool.kubemacpool.io/mac-retention
// annotation), and the annotations a lease carries while it is Retained or
// reclaimed from retention.
package retention
