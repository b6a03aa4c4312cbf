package server

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"kubemacpool.io/kubemacpool/pkg/embeddedetcd"
)

// SnapshotSaveOptions are the flags of `kubemacpool-apiserver snapshot save`.
type SnapshotSaveOptions struct {
	// Endpoint is the client URL of the embedded etcd.
	Endpoint string
	// File is where the snapshot goes; "-" is standard output.
	File string
}

// AddFlags registers the flags.
func (o *SnapshotSaveOptions) AddFlags(flags *pflag.FlagSet) {
	flags.StringVar(&o.Endpoint, "endpoint", o.Endpoint,
		"Client URL of the embedded etcd to snapshot (the server's --embedded-etcd-client-url).")
	flags.StringVar(&o.File, "file", o.File, `File to write the snapshot to; "-" for standard output.`)
}

// Validate checks the flags.
func (o *SnapshotSaveOptions) Validate() error {
	if o.File == "" {
		return fmt.Errorf(`--file is required: a path, or "-" for standard output`)
	}
	if o.Endpoint == "" {
		return fmt.Errorf("--endpoint is required")
	}
	return nil
}

// SnapshotRestoreOptions are the flags of `kubemacpool-apiserver snapshot restore`.
type SnapshotRestoreOptions struct {
	// File is the snapshot to restore; "-" is standard input.
	File string
	// Etcd is the new member: its data directory and the loopback URLs it
	// listens on while the keys are loaded.
	Etcd *embeddedetcd.Options
}

// AddFlags registers the flags.
func (o *SnapshotRestoreOptions) AddFlags(flags *pflag.FlagSet) {
	flags.StringVar(&o.File, "file", o.File, `Snapshot written by "snapshot save"; "-" for standard input.`)
	o.Etcd.AddFlags(flags)
}

// Validate checks the flags.
func (o *SnapshotRestoreOptions) Validate() error {
	if o.File == "" {
		return fmt.Errorf(`--file is required: a path, or "-" for standard input`)
	}
	if errs := o.Etcd.Validate(); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// newSnapshotCommand returns `kubemacpool-apiserver snapshot` with save and
// restore. stdout carries a snapshot written to "-", so messages go to
// stderr.
func newSnapshotCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	snapshot := &cobra.Command{
		Use:   "snapshot",
		Short: "Save an online snapshot of the embedded etcd, or restore one into a new data directory",
		Long: `Back up and restore the embedded etcd (installs without --etcd-servers).
An install on an external etcd backs it up with that etcd's own tools.
See docs/deployment.md, "Backup and restore".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}

	save := &SnapshotSaveOptions{Endpoint: embeddedetcd.NewOptions().ClientURL}
	saveCmd := &cobra.Command{
		Use:   "save --file FILE",
		Short: "Stream a consistent snapshot of the running embedded etcd to a file",
		Long: `Ask the running embedded etcd for a snapshot, a consistent copy of every key
taken while it keeps serving, and write it with etcd's checksum. The embedded
etcd listens on loopback only, so run this in the server's Pod:

  kubectl exec -n kubemacpool-system deploy/kubemacpool-apiserver -c kubemacpool-apiserver -- \
    /kubemacpool-apiserver snapshot save --file=- > kubemacpool-etcd.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := save.Validate(); err != nil {
				return err
			}
			return runSnapshotSave(cmd, save, stdout, stderr)
		},
	}
	save.AddFlags(saveCmd.Flags())

	restore := &SnapshotRestoreOptions{Etcd: embeddedetcd.NewOptions()}
	restoreCmd := &cobra.Command{
		Use:   "restore --file FILE --embedded-etcd-data-dir DIR",
		Short: "Load a snapshot into a new, empty embedded etcd data directory",
		Long: `Check a snapshot's checksum and load every key it holds into a new member in
--embedded-etcd-data-dir, which must be missing or empty. Keys attached to an
etcd lease (a TTL) are left out. kubemacpool-apiserver must not run on that
directory meanwhile; start it on the directory afterwards.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := restore.Validate(); err != nil {
				return err
			}
			var in io.Reader = stdin
			if restore.File != "-" {
				file, err := os.Open(restore.File)
				if err != nil {
					return fmt.Errorf("opening the snapshot: %w", err)
				}
				defer file.Close()
				in = file
			}
			started := time.Now()
			result, err := embeddedetcd.RestoreSnapshot(cmd.Context(), in, restore.Etcd)
			if err != nil {
				return fmt.Errorf("restoring into %s: %w", restore.Etcd.DataDir, err)
			}
			fmt.Fprintf(stderr, "Restored %d keys into %s in %s (%d keys with an etcd lease left out).\n",
				result.Keys, restore.Etcd.DataDir, time.Since(started).Round(time.Millisecond), result.SkippedLeased)
			return nil
		},
	}
	restore.AddFlags(restoreCmd.Flags())

	snapshot.AddCommand(saveCmd, restoreCmd)
	return snapshot
}

func runSnapshotSave(cmd *cobra.Command, o *SnapshotSaveOptions, stdout, stderr io.Writer) error {
	started := time.Now()
	if o.File == "-" {
		size, err := embeddedetcd.SaveSnapshot(cmd.Context(), o.Endpoint, stdout)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Saved a snapshot of %d bytes in %s.\n", size, time.Since(started).Round(time.Millisecond))
		return nil
	}
	// A part file renamed at the end: a failed save never leaves a file
	// that looks like a snapshot.
	part := o.File + ".part"
	file, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("creating the snapshot file: %w", err)
	}
	defer os.Remove(part)
	size, err := embeddedetcd.SaveSnapshot(cmd.Context(), o.Endpoint, file)
	if err == nil {
		err = file.Sync()
	}
	if closeErr := file.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("saving the snapshot: %w", err)
	}
	if err := os.Rename(part, o.File); err != nil {
		return fmt.Errorf("saving the snapshot: %w", err)
	}
	fmt.Fprintf(stderr, "Saved a snapshot of %d bytes to %s in %s.\n", size, o.File, time.Since(started).Round(time.Millisecond))
	return nil
}
