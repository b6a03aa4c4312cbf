package server

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"kubemacpool.io/kubemacpool/pkg/version"
)

// NewCommand returns the kubemacpool-apiserver command.
func NewCommand(ctx context.Context, o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kubemacpool-apiserver",
		Short: "Serve the macpool.kubemacpool.io API: cluster-unique MAC address leases and pools",
		Long: `kubemacpool-apiserver is an aggregated Kubernetes API server for the group
macpool.kubemacpool.io. It stores MacLeases and MacPools in its own etcd: an embedded
single-member etcd when --etcd-servers is empty, an external etcd cluster otherwise.`,
		SilenceUsage: true,
		// cobra answers --version before RunE, so printing the version
		// needs neither a kubeconfig nor valid flags.
		Version: version.String(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyLogging(o.Logs); err != nil {
				return err
			}
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	cmd.Flags().Bool("version", false, "Print the version, commit, build date and Go version, then exit.")
	cmd.SetVersionTemplate("{{.Version}}\n")
	AddLoggingFlags(cmd.PersistentFlags(), o.Logs, o.StdErr)
	cmd.AddCommand(newSnapshotCommand(os.Stdin, o.StdOut, o.StdErr))
	return cmd
}
