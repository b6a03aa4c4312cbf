package macpool

import (
	"context"
	"fmt"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// PoolLister lists the stored pools, for the overlap warnings. NewStorage
// gives the strategy one that reads the watch cache.
type PoolLister func(ctx context.Context) ([]macpool.MacPool, error)

// rangeWarnings are the risks of a pool that validation accepts: ranges
// that hold universally administered addresses, and ranges that overlap
// another pool's. Neither is an error: an operator may have a reason, and
// existing pools must stay editable. others may be nil (no overlap check).
func rangeWarnings(ctx context.Context, pool *macpool.MacPool, others PoolLister) []string {
	var warnings []string
	ranges := parsedRanges(pool.Spec.Ranges)
	for i, r := range ranges {
		if r == nil || locallyAdministered(*r) {
			continue
		}
		warnings = append(warnings, fmt.Sprintf(
			"spec.ranges[%d] (%s) holds universally administered addresses (bit 0x02 of the first octet is clear): "+
				"they belong to network hardware vendors, so a physical NIC on the same L2 network may already use one; "+
				"prefer a locally administered range such as 02:xx:xx:00:00:00-02:xx:xx:ff:ff:ff", i, r))
	}
	if others == nil {
		return warnings
	}
	pools, err := others(ctx)
	if err != nil {
		return append(warnings, fmt.Sprintf("could not check spec.ranges for overlaps with other MacPools: %v", err))
	}
	for _, other := range pools {
		if other.Name == pool.Name {
			continue
		}
		for j, theirs := range parsedRanges(other.Spec.Ranges) {
			for i, ours := range ranges {
				if ours != nil && theirs != nil && ours.Overlaps(*theirs) {
					warnings = append(warnings, fmt.Sprintf(
						"spec.ranges[%d] (%s) overlaps spec.ranges[%d] (%s) of MacPool %q: an address is still leased only once, "+
							"but the two pools compete for the same addresses, so one can exhaust the other, and both count them in their status",
						i, ours, j, theirs, other.Name))
				}
			}
		}
	}
	return warnings
}

// parsedRanges parses ranges, leaving nil where validation will refuse one.
func parsedRanges(ranges []macpool.MACRange) []*mac.Range {
	parsed := make([]*mac.Range, len(ranges))
	for i, r := range ranges {
		if addressRange, err := mac.ParseRange(r.Start, r.End); err == nil {
			parsed[i] = &addressRange
		}
	}
	return parsed
}

// locallyAdministered reports whether every unicast address of r is
// locally administered: every unicast first octet from the start's to the
// end's has bit 0x02 set. Multicast first octets are skipped by the
// allocator and do not count.
func locallyAdministered(r mac.Range) bool {
	for octet := int(r.Start.Octet(0)); octet <= int(r.End.Octet(0)); octet++ {
		if octet&0x01 == 0 && octet&0x02 == 0 {
			return false
		}
	}
	return true
}
