package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// validateNodeHolds checks the node holds a lease records: the lease
// controller reads them to decide when the MAC may go, and one it could
// not read would keep the lease for good.
func validateNodeHolds(lease *macpool.MacLease) field.ErrorList {
	value, found := lease.Annotations[macpool.NodeHoldsAnnotation]
	if !found {
		return nil
	}
	if _, err := macpool.ParseNodeHolds(value); err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("metadata", "annotations").Key(macpool.NodeHoldsAnnotation), value, err.Error())}
	}
	return nil
}
