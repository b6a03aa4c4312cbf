package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/util/retry"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
)

// scopeRetryTimeout bounds how long a lease refused by MacLeaseReservationScope
// is retried after this restore created pools: the server's pool cache sees
// a new pool a moment after its create answered.
var scopeRetryTimeout = 30 * time.Second

// RestoreOptions are the inputs of `kubectl macpool restore`.
type RestoreOptions struct {
	genericiooptions.IOStreams
	clients Clients

	// Filename is the backup to read; "-" is standard input.
	Filename string
	// OverwritePools replaces the spec of a pool that exists with a
	// different one; without it such a pool is a conflict, left as is.
	OverwritePools bool
}

// restoreCounts are what happened to the objects of one kind.
type restoreCounts struct {
	created, unchanged, updated, conflicting, failed int
}

func (c restoreCounts) String() string {
	return fmt.Sprintf("%d created, %d updated, %d unchanged, %d conflicting, %d failed",
		c.created, c.updated, c.unchanged, c.conflicting, c.failed)
}

func newRestoreCommand(streams genericiooptions.IOStreams, clients Clients) *cobra.Command {
	o := &RestoreOptions{IOStreams: streams, clients: clients}
	cmd := &cobra.Command{
		Use:   "restore -f FILE",
		Short: "Recreate the MacPools and MacLeases of a backup, with their owners and phases",
		Long: `Recreate the MacPools and MacLeases of a file written by "kubectl macpool
backup": pools first, then every lease with its address, pool, owner, owner
references, labels, annotations and status (phase and expiresAt), which the
server keeps on create.

Each object is created as you, through your RBAC rights and the server's
admission (MacLeaseReservationScope, quotas): a restore can create nothing
you could not create by hand.

Running it again is safe: an object that exists as in the backup counts as
unchanged. An existing lease of the same address, owner and phase (say one
the controller adopted for a running Pod) gets the backup's pool, interface,
labels and annotations. The node holds annotation (nodes that may still run a
removed Pod with the MAC) is restored on a lease created if you may write it
(update on macleases/finalizers), and left out otherwise, with a warning; an
existing lease keeps its own. A backup has no lease being deleted, and so
not the holds of one. A
lease with another owner or phase, or whose
address another namespace holds, is a conflict and is left as it is; so is
an existing pool that differs, unless --overwrite-pools. Reserved leases whose expiresAt has
passed expire as they would have.

Prints a summary. Exit status: 0 when every object was created or already
there, 1 otherwise (each conflict and failure is named on standard error).`,
		Example: `  kubectl macpool restore -f macpool-backup.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Filename == "" {
				return fmt.Errorf(`--filename is required: a file written by "kubectl macpool backup", or "-" for standard input`)
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Filename, "filename", "f", "", `backup to restore ("-" for standard input)`)
	cmd.Flags().BoolVar(&o.OverwritePools, "overwrite-pools", false, "replace the spec of existing MacPools that differ from the backup (e.g. the default pool of a fresh install)")
	return cmd
}

// Run restores the backup.
func (o *RestoreOptions) Run(ctx context.Context) error {
	backup, err := o.read()
	if err != nil {
		return err
	}
	pools, leases, err := decodeItems(backup, o.Filename)
	if err != nil {
		return err
	}
	clientset, err := o.clients.Clientset()
	if err != nil {
		return err
	}

	var poolCounts, leaseCounts restoreCounts
	for _, pool := range pools {
		o.restorePool(ctx, clientset, pool, &poolCounts)
	}
	retryScope := poolCounts.created+poolCounts.updated > 0
	for _, lease := range leases {
		o.restoreLease(ctx, clientset, lease, retryScope, &leaseCounts)
	}
	fmt.Fprintf(o.Out, "MacPools:  %s\nMacLeases: %s\n", poolCounts, leaseCounts)
	if problems := poolCounts.conflicting + poolCounts.failed + leaseCounts.conflicting + leaseCounts.failed; problems > 0 {
		return fmt.Errorf("%d of %d objects were not restored; see the messages above", problems, len(pools)+len(leases))
	}
	return nil
}

func (o *RestoreOptions) read() (*Backup, error) {
	if o.Filename == "-" {
		return readBackup(o.In, "standard input")
	}
	file, err := os.Open(o.Filename)
	if err != nil {
		return nil, fmt.Errorf("opening the backup: %w", err)
	}
	defer file.Close()
	return readBackup(file, o.Filename)
}

// decodeItems checks every item before anything is written, so that a
// damaged file restores nothing rather than half.
func decodeItems(backup *Backup, name string) ([]*v1alpha1.MacPool, []*v1alpha1.MacLease, error) {
	var pools []*v1alpha1.MacPool
	var leases []*v1alpha1.MacLease
	group := v1alpha1.SchemeGroupVersion.String()
	for i, item := range backup.Items {
		where := fmt.Sprintf("%s: items[%d]", name, i)
		if item.APIVersion != group {
			return nil, nil, fmt.Errorf("%s: apiVersion %q is not supported: want %s", where, item.APIVersion, group)
		}
		if item.Name == "" {
			return nil, nil, fmt.Errorf("%s: metadata.name is empty", where)
		}
		switch item.Kind {
		case "MacPool":
			pool := &v1alpha1.MacPool{ObjectMeta: item.ObjectMeta}
			if item.Namespace != "" {
				return nil, nil, fmt.Errorf("%s: MacPool %s has a namespace; MacPools are cluster-scoped", where, item.Name)
			}
			if err := strictDecode(item.Spec, &pool.Spec); err != nil {
				return nil, nil, fmt.Errorf("%s: spec of MacPool %s: %w", where, item.Name, err)
			}
			pools = append(pools, pool)
		case "MacLease":
			lease := &v1alpha1.MacLease{ObjectMeta: item.ObjectMeta}
			if item.Namespace == "" {
				return nil, nil, fmt.Errorf("%s: MacLease %s has no metadata.namespace", where, item.Name)
			}
			if err := strictDecode(item.Spec, &lease.Spec); err != nil {
				return nil, nil, fmt.Errorf("%s: spec of MacLease %s/%s: %w", where, item.Namespace, item.Name, err)
			}
			if err := strictDecode(item.Status, &lease.Status); err != nil {
				return nil, nil, fmt.Errorf("%s: status of MacLease %s/%s: %w", where, item.Namespace, item.Name, err)
			}
			leases = append(leases, lease)
		default:
			return nil, nil, fmt.Errorf("%s: kind %q is not supported: want MacPool or MacLease", where, item.Kind)
		}
	}
	return pools, leases, nil
}

// strictDecode refuses fields the API does not know: they would be lost
// without a word.
func strictDecode(data json.RawMessage, into any) error {
	if len(data) == 0 {
		return nil
	}
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.DisallowUnknownFields()
	return decoder.Decode(into)
}

func (o *RestoreOptions) restorePool(ctx context.Context, clientset versioned.Interface, pool *v1alpha1.MacPool, counts *restoreCounts) {
	pools := clientset.MacpoolV1alpha1().MacPools()
	_, err := pools.Create(ctx, pool, metav1.CreateOptions{})
	if err == nil {
		counts.created++
		return
	}
	createErr := err
	if !apierrors.IsAlreadyExists(createErr) && !apierrors.IsForbidden(createErr) {
		counts.failed++
		fmt.Fprintf(o.ErrOut, "MacPool %s: %v\n", pool.Name, apiError(createErr, "create", poolsResource, scope{}))
		return
	}
	// Every authenticated user may read pools, so a tenant who may not
	// create them still learns that the pool is there as backed up.
	existing, err := pools.Get(ctx, pool.Name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsForbidden(createErr) {
			err = createErr
		}
		counts.failed++
		fmt.Fprintf(o.ErrOut, "MacPool %s: %v\n", pool.Name, apiError(err, "create", poolsResource, scope{}))
		return
	}
	if reflect.DeepEqual(existing.Spec, pool.Spec) {
		counts.unchanged++
		return
	}
	if !o.OverwritePools {
		counts.conflicting++
		fmt.Fprintf(o.ErrOut, "MacPool %s: exists with another spec; left as is (use --overwrite-pools to replace it)\n", pool.Name)
		return
	}
	existing.Spec = pool.Spec
	if _, err := pools.Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
		counts.failed++
		fmt.Fprintf(o.ErrOut, "MacPool %s: %v\n", pool.Name, apiError(err, "update", poolsResource, scope{}))
		return
	}
	counts.updated++
}

func (o *RestoreOptions) restoreLease(ctx context.Context, clientset versioned.Interface, lease *v1alpha1.MacLease, retryScope bool, counts *restoreCounts) {
	leases := clientset.MacpoolV1alpha1().MacLeases(lease.Namespace)
	where := scope{namespace: lease.Namespace}
	name := lease.Namespace + "/" + lease.Name

	// Node holds keep the MAC while a node may still run a removed Pod
	// with it: a restore after the server's storage was lost brings them
	// back, and the controller drops each once its node proves it stopped
	// the Pod (for a node this cluster does not have, once the hold's
	// stoppedBy passed). A backup has no lease being deleted: the holds of
	// a Terminating lease are not in it.
	// MacLeaseProtection refuses them to whoever may not remove the
	// protection finalizer, every tenant: their lease is restored without.
	err := createLease(ctx, leases.Create, lease, retryScope)
	holds := lease.Annotations[macpool.NodeHoldsAnnotation]
	// An existing lease keeps its own holds, whatever the backup's.
	lease = withoutNodeHolds(lease)
	if refusedNodeHolds(err) {
		if err = createLease(ctx, leases.Create, lease, retryScope); err == nil {
			fmt.Fprintf(o.ErrOut, "MacLease %s: restored without its node holds %s, which take update permission on macleases/finalizers: "+
				"the MAC may be leased again while one of those nodes still runs the removed Pod\n", name, holds)
		}
	}
	if err == nil {
		counts.created++
		return
	}
	if refusedByScope(err) {
		counts.failed++
		fmt.Fprintf(o.ErrOut, "MacLease %s: no MacPool serves namespace %s at this address (restore the pools first, or check their namespaceSelector): %v\n",
			name, lease.Namespace, err)
		return
	}
	if refusedAsExcluded(err) {
		// Not apiError's advice: "can-i create macleases" says yes.
		counts.failed++
		fmt.Fprintf(o.ErrOut, "MacLease %s: %v\n", name, err)
		return
	}
	if !apierrors.IsAlreadyExists(err) {
		counts.failed++
		fmt.Fprintf(o.ErrOut, "MacLease %s: %v\n", name, apiError(err, "create", leasesResource, where))
		return
	}
	// A conflict means the server (the controller binding or adopting)
	// changed the lease between the read and the update: read it again.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		existing, err := leases.Get(ctx, lease.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			// The key is taken, but not in this namespace: the
			// namespace guard hides the holder.
			counts.conflicting++
			fmt.Fprintf(o.ErrOut, "MacLease %s: the address %s is leased in another namespace; not restored\n", name, lease.Spec.MACAddress)
		case err != nil:
			counts.failed++
			fmt.Fprintf(o.ErrOut, "MacLease %s: %v\n", name, apiError(err, "get", leasesResource, where))
		case !sameHolder(existing, lease):
			counts.conflicting++
			fmt.Fprintf(o.ErrOut, "MacLease %s: exists with another owner or phase (%s, phase %q); left as is\n", name, ownerString(existing.Spec.Owner), existing.Status.Phase)
		case sameDetails(existing, lease):
			counts.unchanged++
		default:
			// The same holder: typically a lease the controller
			// adopted for a running Pod or VM before the restore got
			// to it, which has no pool and only the owner's
			// reference. Complete it from the backup; the status is
			// left to the server.
			existing.Spec.Pool, existing.Spec.Interface = lease.Spec.Pool, lease.Spec.Interface
			existing.Labels, existing.Annotations = lease.Labels, withNodeHoldsOf(existing, lease.Annotations)
			if _, err := leases.Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
				return err
			}
			counts.updated++
		}
		return nil
	})
	switch {
	case err == nil:
	case refusedByScope(err), refusedAsExcluded(err):
		// MacLeaseReservationScope checks an update that gives a lease a
		// pool or a retention end as the create of a reservation: the
		// caller lacks no RBAC right, the address is not its namespace's
		// to keep (or excluded).
		counts.failed++
		fmt.Fprintf(o.ErrOut, "MacLease %s: the server refuses to give the lease the backup's pool and annotations; left as it is: %v\n", name, err)
	default:
		counts.failed++
		fmt.Fprintf(o.ErrOut, "MacLease %s: %v\n", name, apiError(err, "update", leasesResource, where))
	}
}

// createLease creates the lease. MacLeaseReservationScope refuses a lease
// inside a pool it has not seen yet; when this restore created pools, such a
// refusal is retried until the server's pool cache catches up.
func createLease(ctx context.Context, create func(context.Context, *v1alpha1.MacLease, metav1.CreateOptions) (*v1alpha1.MacLease, error),
	lease *v1alpha1.MacLease, retryScope bool) error {
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, scopeRetryTimeout, true, func(ctx context.Context) (bool, error) {
		_, lastErr = create(ctx, lease, metav1.CreateOptions{})
		if retryScope && refusedByScope(lastErr) {
			return false, nil
		}
		return true, nil
	})
	if err != nil && lastErr == nil {
		return err
	}
	return lastErr
}

// refusedByScope tells MacLeaseReservationScope's 403 for a pool it has
// not seen, which names the field, from an RBAC 403, which no retry
// changes. Its refusal of an excluded address names the field too, but
// takes a permission that no retry gives either (macleases/exclude, spelled
// out here: the plugin binary does not link the admission plugin).
func refusedByScope(err error) bool {
	return apierrors.IsForbidden(err) && strings.Contains(err.Error(), "spec.macAddress") && !refusedAsExcluded(err)
}

// refusedNodeHolds tells MacLeaseProtection's 403 for node holds written by
// a caller who may not update macleases/finalizers, by its wording (the
// plugin binary does not link the admission plugin). Not any 403 that names
// the annotation: one of a policy or webhook of the cluster's refuses a
// caller who may write holds, and the lease, created without them, would
// let the MAC go while a node may still run the removed Pod.
func refusedNodeHolds(err error) bool {
	return apierrors.IsForbidden(err) &&
		strings.Contains(err.Error(), "metadata.annotations["+macpool.NodeHoldsAnnotation+"]: setting, changing or removing it takes update permission on macleases/finalizers")
}

// refusedAsExcluded tells MacLeaseReservationScope's 403 for an address in
// a pool's spec.exclude, whose message says which permission it takes.
func refusedAsExcluded(err error) bool {
	return apierrors.IsForbidden(err) && strings.Contains(err.Error(), "macleases/exclude")
}

// sameHolder tells an existing lease that is the one in the backup: the same
// address held by the same owner (or none) in the same phase.
func sameHolder(existing, backup *v1alpha1.MacLease) bool {
	return existing.Spec.MACAddress == backup.Spec.MACAddress &&
		reflect.DeepEqual(existing.Spec.Owner, backup.Spec.Owner) &&
		existing.Status.Phase == backup.Status.Phase
}

// sameDetails tells whether the rest the backup carries matches too.
func sameDetails(existing, backup *v1alpha1.MacLease) bool {
	return existing.Spec.Pool == backup.Spec.Pool && existing.Spec.Interface == backup.Spec.Interface &&
		equalMaps(existing.Labels, backup.Labels) && equalMaps(withoutNodeHolds(existing).Annotations, backup.Annotations)
}

// withoutNodeHolds is lease without the node holds annotation.
func withoutNodeHolds(lease *v1alpha1.MacLease) *v1alpha1.MacLease {
	if _, found := lease.Annotations[macpool.NodeHoldsAnnotation]; !found {
		return lease
	}
	without := lease.DeepCopy()
	delete(without.Annotations, macpool.NodeHoldsAnnotation)
	return without
}

// withNodeHoldsOf is annotations with the node holds existing carries, if
// any: a restore neither removes nor replaces the holds the controller
// recorded, which keep the MAC while a node may still run a removed Pod.
func withNodeHoldsOf(existing *v1alpha1.MacLease, annotations map[string]string) map[string]string {
	holds, found := existing.Annotations[macpool.NodeHoldsAnnotation]
	if !found {
		return annotations
	}
	with := make(map[string]string, len(annotations)+1)
	for key, value := range annotations {
		with[key] = value
	}
	with[macpool.NodeHoldsAnnotation] = holds
	return with
}

// equalMaps treats nil and empty alike, as the API does.
func equalMaps(a, b map[string]string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func ownerString(owner *v1alpha1.LeaseOwner) string {
	if owner == nil {
		return "no owner"
	}
	return "owner " + owner.Kind + "/" + owner.Name
}
