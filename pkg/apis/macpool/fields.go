package macpool

import (
	"maps"
	"slices"
)

// MacLeaseFields returns the fields of lease that clients may select
// MacLeases by, beyond metadata.name and metadata.namespace, with their
// values. It is the one list: the storage filters on it and the scheme of
// every version accepts its names as field selectors.
func MacLeaseFields(lease *MacLease) map[string]string {
	var ownerKind, ownerName string
	if lease.Spec.Owner != nil {
		ownerKind, ownerName = lease.Spec.Owner.Kind, lease.Spec.Owner.Name
	}
	return map[string]string{
		"spec.macAddress": lease.Spec.MACAddress,
		"spec.owner.kind": ownerKind,
		"spec.owner.name": ownerName,
		"spec.pool":       lease.Spec.Pool,
		"status.phase":    string(lease.Status.Phase),
	}
}

// MacLeaseFieldNames are the names MacLeaseFields returns, sorted.
var MacLeaseFieldNames = slices.Sorted(maps.Keys(MacLeaseFields(&MacLease{})))
