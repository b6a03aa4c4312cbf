package plugin

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// WhoHasOptions are the inputs of `kubectl macpool who-has`.
type WhoHasOptions struct {
	genericiooptions.IOStreams
	clients Clients

	// Namespace is where to look when the user may not list leases in
	// every namespace; empty means the current context's.
	Namespace string
	address   mac.Address
}

func newWhoHasCommand(streams genericiooptions.IOStreams, clients Clients) *cobra.Command {
	o := &WhoHasOptions{IOStreams: streams, clients: clients}
	cmd := &cobra.Command{
		Use:   "who-has MAC",
		Short: "Show which MacLease holds a MAC address, and its owner",
		Long: `Show which MacLease holds a MAC address: its namespace, owner (kind, name and UID),
phase, pool and interface. The address may be written with ':' or '-', in any case.

If you may list MacLeases in every namespace, every namespace is searched.
Otherwise only one namespace is (-n, or the current context's), and the command
says so: a lease of a namespace you cannot read is never shown, nor hinted at.

Exit status: 0 when a lease holds the address, 1 when none does (in what could be
searched) or on error.`,
		Example: `  # Who holds this address, in any namespace I may read?
  kubectl macpool who-has 02:00:00:00:00:0a

  # Dash form and upper case work too; look in namespace lab
  kubectl macpool who-has 02-00-00-00-00-0A -n lab`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Namespace, "namespace", "n", "", "namespace to search when you may not list MacLeases in every namespace (default: the current context's)")
	return cmd
}

// Complete parses the address.
func (o *WhoHasOptions) Complete(args []string) error {
	address, err := mac.Parse(args[0])
	if err != nil {
		return err
	}
	o.address = address
	return nil
}

// Run finds the lease and prints it.
func (o *WhoHasOptions) Run(ctx context.Context) error {
	clientset, err := o.clients.Clientset()
	if err != nil {
		return err
	}
	leases := clientset.MacpoolV1alpha1()
	name := o.address.Name()

	// A lease's name is its address, and the address is unique across
	// namespaces, so a cluster-wide list selected by name finds at most one.
	list, err := leases.MacLeases(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(),
	})
	switch {
	case err == nil:
		for i := range list.Items {
			// The selector is the server's job; checking again costs nothing.
			if list.Items[i].Name == name {
				o.print(&list.Items[i])
				return nil
			}
		}
		return fmt.Errorf("no MacLease holds %s in any namespace", o.address)
	case !apierrors.IsForbidden(err):
		return apiError(err, "list", leasesResource, scope{allNamespaces: true})
	}

	// Not allowed cluster-wide: one namespace, and say so.
	namespace := o.Namespace
	if namespace == "" {
		if namespace, err = o.clients.Namespace(); err != nil {
			return err
		}
	}
	fmt.Fprintf(o.ErrOut, "You may not list MacLeases in every namespace: searching namespace %s only.\n", namespace)
	lease, err := leases.MacLeases(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// The server answers NotFound for a lease of another namespace as
		// for an absent one, so this says nothing about other namespaces.
		return fmt.Errorf("no MacLease holds %s in namespace %s (other namespaces were not searched)", o.address, namespace)
	case err != nil:
		return apiError(err, "get", leasesResource, scope{namespace: namespace})
	}
	o.print(lease)
	return nil
}

func (o *WhoHasOptions) print(lease *v1alpha1.MacLease) {
	w := tabwriter.NewWriter(o.Out, 0, 8, 2, ' ', 0)
	defer w.Flush()
	fmt.Fprintf(w, "MAC:\t%s\n", o.address)
	fmt.Fprintf(w, "Lease:\t%s\n", lease.Name)
	fmt.Fprintf(w, "Namespace:\t%s\n", lease.Namespace)
	fmt.Fprintf(w, "Owner:\t%s\n", describeOwner(lease))
	fmt.Fprintf(w, "Phase:\t%s\n", orNone(string(lease.Status.Phase)))
	fmt.Fprintf(w, "Pool:\t%s\n", orNone(lease.Spec.Pool))
	fmt.Fprintf(w, "Interface:\t%s\n", orNone(lease.Spec.Interface))
}

// describeOwner is kind/name and the owner's UID. The UID is on the owner
// reference that the lease controller writes when it binds the lease, so a
// Reserved lease has none yet.
func describeOwner(lease *v1alpha1.MacLease) string {
	owner := lease.Spec.Owner
	if owner == nil {
		return "<none> (static reservation)"
	}
	uid := "<none until the lease is bound>"
	for _, reference := range lease.OwnerReferences {
		if reference.Kind == owner.Kind && reference.Name == owner.Name {
			uid = string(reference.UID)
			break
		}
	}
	return fmt.Sprintf("%s/%s (apiVersion %s, UID %s)", owner.Kind, owner.Name, owner.APIVersion, uid)
}

func orNone(value string) string {
	if value == "" {
		return "<none>"
	}
	return value
}
