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
		table.AgeColumn,
	},
	Cells: func(pool *macpool.MacPool) []interface{} {
		ranges := make([]string, len(pool.Spec.Ranges))
		for i, r := range pool.Spec.Ranges {
			ranges[i] = r.Start + "-" + r.End
		}
		return []interface{}{
			pool.Name,
			table.OrNone(strings.Join(ranges, ",")),
			pool.Status.Capacity,
			pool.Status.Allocated,
			pool.Status.Free,
			string(pool.Spec.ConflictPolicy),
			table.Age(pool.CreationTimestamp),
		}
	},
}
