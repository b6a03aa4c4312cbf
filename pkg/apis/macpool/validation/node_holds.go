package validation

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// validateNodeHolds checks the node holds a lease records: the lease
// controller reads them to decide when the MAC may go, and one it could
// not read would keep the lease for good; so would one whose stoppedBy is
// far ahead (macpool.MaxNodeHoldAhead). The bound moves with the present:
// a hold valid when written stays valid on every later update.
func validateNodeHolds(lease *macpool.MacLease) field.ErrorList {
	value, found := lease.Annotations[macpool.NodeHoldsAnnotation]
	if !found {
		return nil
	}
	path := field.NewPath("metadata", "annotations").Key(macpool.NodeHoldsAnnotation)
	holds, err := macpool.ParseNodeHolds(value)
	if err != nil {
		return field.ErrorList{field.Invalid(path, value, err.Error())}
	}
	latest := time.Now().Add(macpool.MaxNodeHoldAhead)
	for i, hold := range holds {
		if hold.StoppedBy.After(latest) {
			return field.ErrorList{field.Invalid(path, value, fmt.Sprintf("[%d].stoppedBy %s: more than %v from now; the lease controller writes at most a removal's grace period (bounded to an hour) and a margin",
				i, hold.StoppedBy.UTC().Format(time.RFC3339), macpool.MaxNodeHoldAhead))}
		}
	}
	return nil
}
