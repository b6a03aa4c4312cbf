package validation

import (
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// validateNodeHolds checks the node holds a lease records: the lease
// controller reads them to decide when the MAC may go, and one it could
// not read would keep the lease for good; so would one whose stoppedBy is
// far ahead (macpool.MaxNodeHoldAhead). The bound moves with the present,
// and on an update (old not nil) it applies only to a hold that old does
// not already record as late or later: a stored hold past it (written
// before the bound existed, or by a replica whose clock ran ahead) refuses
// no update that leaves it be, the controller's own writes among them.
func validateNodeHolds(lease, old *macpool.MacLease) field.ErrorList {
	value, found := lease.Annotations[macpool.NodeHoldsAnnotation]
	if !found {
		return nil
	}
	path := field.NewPath("metadata", "annotations").Key(macpool.NodeHoldsAnnotation)
	holds, err := macpool.ParseNodeHolds(value)
	if err != nil {
		return field.ErrorList{field.Invalid(path, value, err.Error())}
	}
	var stored []macpool.NodeHold
	if old != nil {
		// An old value that does not parse bounds nothing: the new one is
		// checked in full.
		stored, _ = macpool.ParseNodeHolds(old.Annotations[macpool.NodeHoldsAnnotation])
	}
	latest := time.Now().Add(macpool.MaxNodeHoldAhead)
	for i, hold := range holds {
		if !hold.StoppedBy.After(latest) {
			continue
		}
		if slices.ContainsFunc(stored, func(s macpool.NodeHold) bool {
			return s.Node == hold.Node && !s.StoppedBy.Before(&hold.StoppedBy)
		}) {
			continue
		}
		return field.ErrorList{field.Invalid(path, value, fmt.Sprintf("[%d].stoppedBy %s: more than %v from now; the lease controller writes at most a removal's grace period (bounded to an hour) and a margin",
			i, hold.StoppedBy.UTC().Format(time.RFC3339), macpool.MaxNodeHoldAhead))}
	}
	return nil
}
