package maclease

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/registry/table"
)

// tableConvertor prints leases for `kubectl get`. The MAC column shows the
// colon form people search for; the dash-form name is the same address.
var tableConvertor = table.Convertor[*macpool.MacLease, *macpool.MacLeaseList]{
	Columns: []metav1.TableColumnDefinition{
		table.NameColumn("The MAC address in dash form.", 1),
		{Name: "MAC", Type: "string", Description: "The leased MAC address."},
		{Name: "Owner", Type: "string", Description: "Kind/name of the object that carries the address; <none> for a static reservation."},
		{Name: "Interface", Type: "string", Description: "VirtualMachine interface or multus network the address is on."},
		{Name: "Pool", Type: "string", Description: "MacPool the address came from."},
		{Name: "Phase", Type: "string", Description: "Reserved until the owner is seen, then Bound; Retained after the owner's deletion under the pool's retention policy."},
		{Name: "Expires", Type: "string", Priority: 1, Description: "When a Reserved or Retained lease is released; <none> for the others."},
		table.AgeColumn,
	},
	Cells: func(lease *macpool.MacLease) []interface{} {
		owner := "<none>"
		if lease.Spec.Owner != nil {
			owner = lease.Spec.Owner.Kind + "/" + lease.Spec.Owner.Name
		}
		return []interface{}{
			lease.Name,
			lease.Spec.MACAddress,
			owner,
			table.OrNone(lease.Spec.Interface),
			table.OrNone(lease.Spec.Pool),
			table.OrNone(string(lease.Status.Phase)),
			expires(lease.Status.ExpiresAt),
			table.Age(lease.CreationTimestamp),
		}
	},
}

// expires prints when a lease ends, in RFC 3339 (UTC) like a timestamp in
// YAML output.
func expires(at *metav1.Time) string {
	if at == nil {
		return "<none>"
	}
	return at.UTC().Format(time.RFC3339)
}
