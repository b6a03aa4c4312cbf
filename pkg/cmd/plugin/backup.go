package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// Backup is the file `backup` writes and `restore` reads: a v1 List, which
// kubectl reads too, of the pools first and then the leases.
type Backup struct {
	metav1.TypeMeta `json:",inline"`
	Items           []BackupItem `json:"items"`
}

// BackupItem is one object of a backup: a MacPool or a MacLease, told apart
// by its kind.
type BackupItem struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	// Spec and Status are the object's own; a pool's status is left out,
	// the server recomputes it.
	Spec   json.RawMessage `json:"spec,omitempty"`
	Status json.RawMessage `json:"status,omitempty"`
}

// BackupOptions are the inputs of `kubectl macpool backup`.
type BackupOptions struct {
	genericiooptions.IOStreams
	clients Clients

	// Filename is where the backup goes; "-" is standard output.
	Filename string
	// Output is "yaml" or "json".
	Output string
	// Namespaces limits the leases to these namespaces; empty means every
	// namespace, which needs a cluster-wide list right.
	Namespaces []string
}

func newBackupCommand(streams genericiooptions.IOStreams, clients Clients) *cobra.Command {
	o := &BackupOptions{IOStreams: streams, clients: clients, Output: "yaml"}
	cmd := &cobra.Command{
		Use:   "backup -f FILE",
		Short: "Export every MacPool and MacLease you may list to a file that restore reads",
		Long: `Export MacPools and MacLeases through the API, with their spec, labels,
annotations, owner references and lease status (phase, expiresAt), to a v1
List that "kubectl macpool restore" reads back into a fresh install.

Server-set fields (uid, resourceVersion, creationTimestamp, managedFields)
and pool status are left out: the server sets them again. Leases that are
being deleted are left out too.

What you get is what your RBAC rights let you list: every namespace needs
list on macleases cluster-wide; with --namespace, list in those namespaces.
Exit status: 0, or 1 on error (nothing is written then).`,
		Example: `  kubectl macpool backup -f macpool-backup.yaml
  kubectl macpool backup -f - -o json --namespace team-a > team-a.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Filename, "filename", "f", "", `file to write the backup to ("-" for standard output)`)
	cmd.Flags().StringVarP(&o.Output, "output", "o", o.Output, "format of the backup: yaml or json")
	cmd.Flags().StringSliceVar(&o.Namespaces, "namespace", nil, "back up the leases of these namespaces only (repeat or comma-separate; default every namespace)")
	return cmd
}

// Validate checks the flags.
func (o *BackupOptions) Validate() error {
	if o.Filename == "" {
		return fmt.Errorf(`--filename is required: a file, or "-" for standard output`)
	}
	switch o.Output {
	case "yaml", "json":
		return nil
	}
	return fmt.Errorf("unknown output format %q for --output: use yaml or json", o.Output)
}

// Run reads every pool and lease and writes the backup. The file is written
// only once everything was read, so a failed backup never leaves a partial
// file that looks complete.
func (o *BackupOptions) Run(ctx context.Context) error {
	backup, err := o.collect(ctx)
	if err != nil {
		return err
	}
	var data []byte
	if o.Output == "json" {
		data, err = json.MarshalIndent(backup, "", "  ")
		data = append(data, '\n')
	} else {
		data, err = yaml.Marshal(backup)
	}
	if err != nil {
		return fmt.Errorf("encoding the backup: %w", err)
	}
	if err := o.write(data); err != nil {
		return err
	}
	pools, leases := backup.count()
	fmt.Fprintf(o.ErrOut, "Backed up %d MacPools and %d MacLeases%s.\n", pools, leases, o.where())
	return nil
}

func (o *BackupOptions) where() string {
	if len(o.Namespaces) == 0 {
		return " (leases of every namespace)"
	}
	return fmt.Sprintf(" (leases of namespaces %v)", o.Namespaces)
}

// write puts data in the file through a temporary file and a rename, so that
// an existing backup is replaced whole or not at all. The temporary file is
// a new one with an unpredictable name, readable by its owner only: a fixed
// name that another user created first (in a shared directory) would keep
// that user's mode, and the backup names every lease's owner.
func (o *BackupOptions) write(data []byte) error {
	if o.Filename == "-" {
		_, err := o.Out.Write(data)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(o.Filename), "."+filepath.Base(o.Filename)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing the backup: %w", err)
	}
	_, err = tmp.Write(data)
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), o.Filename)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing the backup: %w", err)
	}
	return nil
}

func (o *BackupOptions) collect(ctx context.Context) (*Backup, error) {
	clientset, err := o.clients.Clientset()
	if err != nil {
		return nil, err
	}
	backup := &Backup{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}, Items: []BackupItem{}}

	var pools []v1alpha1.MacPool
	options := metav1.ListOptions{Limit: listPageSize}
	for {
		list, err := clientset.MacpoolV1alpha1().MacPools().List(ctx, options)
		if err != nil {
			return nil, apiError(err, "list", poolsResource, scope{})
		}
		pools = append(pools, list.Items...)
		if options.Continue = list.Continue; options.Continue == "" {
			break
		}
	}
	sort.Slice(pools, func(i, j int) bool { return pools[i].Name < pools[j].Name })
	for i := range pools {
		item, err := poolItem(&pools[i])
		if err != nil {
			return nil, err
		}
		backup.Items = append(backup.Items, item)
	}

	namespaces := o.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	var leases []v1alpha1.MacLease
	for _, namespace := range namespaces {
		where := scope{namespace: namespace, allNamespaces: namespace == metav1.NamespaceAll}
		options := metav1.ListOptions{Limit: listPageSize}
		for {
			list, err := clientset.MacpoolV1alpha1().MacLeases(namespace).List(ctx, options)
			if err != nil {
				return nil, apiError(err, "list", leasesResource, where)
			}
			leases = append(leases, list.Items...)
			if options.Continue = list.Continue; options.Continue == "" {
				break
			}
		}
	}
	sort.Slice(leases, func(i, j int) bool {
		if leases[i].Namespace != leases[j].Namespace {
			return leases[i].Namespace < leases[j].Namespace
		}
		return leases[i].Name < leases[j].Name
	})
	for i := range leases {
		if leases[i].DeletionTimestamp != nil {
			continue
		}
		item, err := leaseItem(&leases[i])
		if err != nil {
			return nil, err
		}
		backup.Items = append(backup.Items, item)
	}
	return backup, nil
}

// count returns how many pools and leases the backup holds.
func (b *Backup) count() (pools, leases int) {
	for _, item := range b.Items {
		switch item.Kind {
		case "MacPool":
			pools++
		case "MacLease":
			leases++
		}
	}
	return pools, leases
}

// portableMeta keeps what a restore can and should write back: the name,
// namespace, labels, annotations, owner references and finalizers. The
// rest is the server's to set.
func portableMeta(meta *metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            meta.Name,
		Namespace:       meta.Namespace,
		Labels:          meta.Labels,
		Annotations:     meta.Annotations,
		OwnerReferences: meta.OwnerReferences,
		Finalizers:      meta.Finalizers,
	}
}

func poolItem(pool *v1alpha1.MacPool) (BackupItem, error) {
	spec, err := json.Marshal(pool.Spec)
	if err != nil {
		return BackupItem{}, fmt.Errorf("encoding MacPool %s: %w", pool.Name, err)
	}
	return BackupItem{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "MacPool"},
		ObjectMeta: portableMeta(&pool.ObjectMeta),
		Spec:       spec,
	}, nil
}

func leaseItem(lease *v1alpha1.MacLease) (BackupItem, error) {
	spec, err := json.Marshal(lease.Spec)
	if err != nil {
		return BackupItem{}, fmt.Errorf("encoding MacLease %s/%s: %w", lease.Namespace, lease.Name, err)
	}
	status, err := json.Marshal(lease.Status)
	if err != nil {
		return BackupItem{}, fmt.Errorf("encoding MacLease %s/%s: %w", lease.Namespace, lease.Name, err)
	}
	return BackupItem{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "MacLease"},
		ObjectMeta: portableMeta(&lease.ObjectMeta),
		Spec:       spec,
		Status:     status,
	}, nil
}

// readBackup decodes a backup in YAML or JSON.
func readBackup(in io.Reader, name string) (*Backup, error) {
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	var backup Backup
	if err := yaml.Unmarshal(data, &backup); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", name, err)
	}
	if backup.APIVersion != "v1" || backup.Kind != "List" {
		return nil, fmt.Errorf("%s is not a backup of kubectl macpool: want apiVersion v1, kind List, got %q, %q", name, backup.APIVersion, backup.Kind)
	}
	return &backup, nil
}
