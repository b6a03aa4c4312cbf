package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"
)

// barWidth is the number of cells of the usage bar.
const barWidth = 20

// UsageOptions are the inputs of `kubectl macpool usage`.
type UsageOptions struct {
	genericiooptions.IOStreams
	clients Clients

	// Output is "" (a table), "json" or "yaml".
	Output string
}

// PoolUsage is one pool's line of `usage`, and its JSON/YAML form.
type PoolUsage struct {
	Name      string `json:"name"`
	Capacity  int64  `json:"capacity"`
	Allocated int64  `json:"allocated"`
	Free      int64  `json:"free"`
	// Retained are the addresses kept for deleted objects (spec.retention),
	// included in Allocated.
	Retained int64 `json:"retained"`
	// Percent is Allocated of Capacity, 0 for an empty pool.
	Percent float64 `json:"percent"`
}

// UsageReport is the JSON/YAML output of `usage`.
type UsageReport struct {
	Pools []PoolUsage `json:"pools"`
}

func newUsageCommand(streams genericiooptions.IOStreams, clients Clients) *cobra.Command {
	o := &UsageOptions{IOStreams: streams, clients: clients}
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show each MacPool's capacity, allocated and free addresses, with a bar",
		Long: `Show each MacPool's capacity (unicast addresses in its ranges), allocated
(leased addresses inside them) and free addresses, and a bar of how full it is.
The figures are the pools' status, which the server keeps current. RETAINED
counts the addresses kept for deleted objects under the pool's
spec.retention (sticky MACs); ALLOCATED includes them.

Every authenticated user may read pools. Exit status: 0, or 1 on error.`,
		Example: `  kubectl macpool usage
  kubectl macpool usage -o json | jq '.pools[] | select(.percent > 90)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "output format: json or yaml (default: a table)")
	return cmd
}

// Validate checks the output format.
func (o *UsageOptions) Validate() error {
	switch o.Output {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("unknown output format %q for --output: use json or yaml, or leave it out for a table", o.Output)
}

// Run reads the pools and prints their usage.
func (o *UsageOptions) Run(ctx context.Context) error {
	clientset, err := o.clients.Clientset()
	if err != nil {
		return err
	}
	pools, err := clientset.MacpoolV1alpha1().MacPools().List(ctx, metav1.ListOptions{})
	if err != nil {
		return apiError(err, "list", poolsResource, scope{})
	}
	report := UsageReport{Pools: []PoolUsage{}}
	for _, pool := range pools.Items {
		usage := PoolUsage{
			Name:      pool.Name,
			Capacity:  pool.Status.Capacity,
			Allocated: pool.Status.Allocated,
			Free:      pool.Status.Free,
			Retained:  pool.Status.Retained,
		}
		if usage.Capacity > 0 {
			usage.Percent = 100 * float64(usage.Allocated) / float64(usage.Capacity)
		}
		report.Pools = append(report.Pools, usage)
	}
	sort.Slice(report.Pools, func(i, j int) bool { return report.Pools[i].Name < report.Pools[j].Name })

	switch o.Output {
	case "json":
		encoder := json.NewEncoder(o.Out)
		encoder.SetIndent("", "  ")
		return encoder.Encode(report)
	case "yaml":
		data, err := yaml.Marshal(report)
		if err != nil {
			return fmt.Errorf("encoding the usage as YAML: %w", err)
		}
		_, err = o.Out.Write(data)
		return err
	}
	if len(report.Pools) == 0 {
		fmt.Fprintln(o.ErrOut, "No MacPools found.")
		return nil
	}
	w := tabwriter.NewWriter(o.Out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "POOL\tCAPACITY\tALLOCATED\tRETAINED\tFREE\tUSAGE")
	for _, usage := range report.Pools {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%s %s\n", usage.Name, usage.Capacity, usage.Allocated, usage.Retained, usage.Free, bar(usage), percent(usage))
	}
	return w.Flush()
}

// bar draws Allocated of Capacity in barWidth cells. A pool with any
// allocation shows at least one cell, and only a full pool shows all of
// them, so that neither "nearly empty" nor "nearly full" is rounded away.
func bar(usage PoolUsage) string {
	filled := 0
	if usage.Capacity > 0 && usage.Allocated > 0 {
		filled = int(float64(barWidth) * float64(usage.Allocated) / float64(usage.Capacity))
		filled = max(filled, 1)
		if usage.Allocated < usage.Capacity {
			filled = min(filled, barWidth-1)
		}
		filled = min(filled, barWidth)
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", barWidth-filled) + "]"
}

// percent prints small shares of a huge pool (the default pool has 2^40
// addresses) without rounding them to 0%, and a nearly full pool not as 100%.
func percent(usage PoolUsage) string {
	switch {
	case usage.Allocated == 0:
		return "0%"
	case usage.Percent < 0.01:
		return "<0.01%"
	case usage.Percent < 10, usage.Allocated < usage.Capacity && usage.Percent > 99:
		return fmt.Sprintf("%.2f%%", usage.Percent)
	}
	return fmt.Sprintf("%.0f%%", usage.Percent)
}
