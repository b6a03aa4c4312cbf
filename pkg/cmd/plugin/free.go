package plugin

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/macindex"
)

// listPageSize bounds one page of the lease list, so that a store of a
// million leases is read in pieces rather than in one response.
const listPageSize = 5000

// FreeOptions are the inputs of `kubectl macpool free`.
type FreeOptions struct {
	genericiooptions.IOStreams
	clients Clients

	Pool  string
	Count int
}

func newFreeCommand(streams genericiooptions.IOStreams, clients Clients) *cobra.Command {
	o := &FreeOptions{IOStreams: streams, clients: clients, Count: 1}
	cmd := &cobra.Command{
		Use:   "free POOL [-n COUNT]",
		Short: "List free addresses of a MacPool, without leasing any",
		Long: `List the lowest COUNT free addresses of a MacPool, one a line, in the order of
its ranges. Nothing is leased or reserved: another client may take an address
between this answer and your use of it, and the webhooks pick addresses from a
random point of the pool, so these are free addresses, not the ones the next
Pod or VirtualMachine will get. Multicast addresses are never listed.

An address is free when no MacLease of any namespace holds it, so this command
reads every lease: it needs "list" on macleases.macpool.kubemacpool.io in every
namespace (cluster-wide, as cluster administrators have). A user without that
right gets an error that names it, and no addresses.

Exit status: 0 when at least one free address was printed (fewer than COUNT are
printed, with a note, when the pool has no more), 1 on error or when the pool is
full.`,
		Example: `  # One free address of the default pool
  kubectl macpool free default

  # The first five free addresses of pool lab
  kubectl macpool free lab -n 5`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Pool = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().IntVarP(&o.Count, "count", "n", o.Count, "how many free addresses to list (1 to 100000)")
	return cmd
}

// maxCount keeps one answer to a size a terminal or a script can take.
const maxCount = 100000

// Validate checks the count.
func (o *FreeOptions) Validate() error {
	if o.Count < 1 || o.Count > maxCount {
		return fmt.Errorf("invalid --count %d: must be between 1 and %d", o.Count, maxCount)
	}
	return nil
}

// Run reads the pool and every lease, and prints the free addresses.
func (o *FreeOptions) Run(ctx context.Context) error {
	clientset, err := o.clients.Clientset()
	if err != nil {
		return err
	}
	api := clientset.MacpoolV1alpha1()
	pool, err := api.MacPools().Get(ctx, o.Pool, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("MacPool %q not found (`kubectl macpool usage` lists the pools)", o.Pool)
	}
	if err != nil {
		return apiError(err, "get", poolsResource, scope{})
	}
	ranges := make([]mac.Range, 0, len(pool.Spec.Ranges))
	for i, r := range pool.Spec.Ranges {
		parsed, err := mac.ParseRange(r.Start, r.End)
		if err != nil {
			return fmt.Errorf("MacPool %q: spec.ranges[%d]: %w", o.Pool, i, err)
		}
		ranges = append(ranges, parsed)
	}

	// Every lease counts, whatever its pool: a static reservation or a
	// lease of another pool may hold an address in these ranges.
	taken := macindex.NewTakenSet()
	options := metav1.ListOptions{Limit: listPageSize}
	for {
		page, err := api.MacLeases(metav1.NamespaceAll).List(ctx, options)
		if err != nil {
			return apiError(err, "list", leasesResource, scope{allNamespaces: true})
		}
		for _, lease := range page.Items {
			address, err := mac.Parse(lease.Spec.MACAddress)
			if err != nil {
				// The name is the same address in dash form.
				if address, err = mac.Parse(lease.Name); err != nil {
					continue
				}
			}
			taken.Add(address)
		}
		if page.Continue == "" {
			break
		}
		options.Continue = page.Continue
	}

	found := 0
	for _, r := range ranges {
		for from := r.Start; found < o.Count; {
			address, ok := taken.NextFree(from, r)
			if !ok {
				break
			}
			fmt.Fprintln(o.Out, address)
			found++
			if address >= r.End {
				break
			}
			from = address + 1
		}
	}
	switch {
	case found == 0:
		return fmt.Errorf("MacPool %q has no free address: every unicast address of its ranges is leased", o.Pool)
	case found < o.Count:
		fmt.Fprintf(o.ErrOut, "MacPool %q has only %d free addresses.\n", o.Pool, found)
	}
	return nil
}
