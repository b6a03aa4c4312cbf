package macpool

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/registry/table"
)

// tableConvertor prints pools for `kubectl get`.
var tableConvertor = table.Convertor[*macpool.MacPool, *macpool.MacPoolList]{
	Columns: []metav1.TableColumnDefinition{
		table.NameColumn("Name of the pool; \"default\" serves namespaces no other pool selects.", 0),
		{Name: "Ranges", Type: "string", Description: "Address ranges of the pool."},
		{Name: "Capacity", Type: "integer", Description: "Addresses in the ranges."},
		{Name: "Allocated", Type: "integer", Description: "Leased addresses inside the ranges."},
		{Name: "Free", Type: "integer", Description: "Addresses left to allocate."},
		{Name: "Conflict-Policy", Type: "string", Priority: 1, Description: "What happens to a requested address that another object holds."},
		{Name: "Exclude", Type: "string", Priority: 1, Description: "Address ranges the pool never hands out."},
		{Name: "Networks", Type: "string", Priority: 1, Description: "The multus networks the pool serves: NetworkAttachmentDefinitions by namespace/name, and labels:<selector>."},
		{Name: "Retention", Type: "string", Priority: 1, Description: "How long the addresses of deleted objects are kept for an object of the same name; <none>: released at once."},
		{Name: "Retained", Type: "integer", Priority: 1, Description: "Addresses kept for deleted objects (Retained leases), included in Allocated."},
		table.AgeColumn,
	},
	Cells: func(pool *macpool.MacPool) []interface{} {
		return []interface{}{
			pool.Name,
			table.OrNone(joinRanges(pool.Spec.Ranges)),
			pool.Status.Capacity,
			pool.Status.Allocated,
			pool.Status.Free,
			string(pool.Spec.ConflictPolicy),
			table.OrNone(joinRanges(pool.Spec.Exclude)),
			table.OrNone(networksCell(pool.Spec.NetworkSelector)),
			retention(pool.Spec.Retention),
			pool.Status.Retained,
			table.Age(pool.CreationTimestamp),
		}
	},
}

func joinRanges(ranges []macpool.MACRange) string {
	texts := make([]string, len(ranges))
	for i, r := range ranges {
		texts[i] = r.Start + "-" + r.End
	}
	return strings.Join(texts, ",")
}

// retention prints a pool's retention duration, <none> when there is none.
func retention(policy *macpool.RetentionPolicy) string {
	if policy == nil || policy.Duration.Duration <= 0 {
		return "<none>"
	}
	return policy.Duration.Duration.String()
}
