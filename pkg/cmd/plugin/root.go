package plugin

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
)

// Clients gives the commands what they need of the kubeconfig: a clientset
// of the macpool API and the namespace of the current context. Tests hand in
// a fake clientset.
type Clients interface {
	Clientset() (versioned.Interface, error)
	// Namespace is the namespace of the current context ("default" when
	// the context names none).
	Namespace() (string, error)
}

// configFlagClients reads the usual kubectl flags (--kubeconfig, --context,
// --server, --token, ...) and the KUBECONFIG variable, like kubectl itself.
type configFlagClients struct {
	flags *genericclioptions.ConfigFlags
}

func (c configFlagClients) Clientset() (versioned.Interface, error) {
	config, err := c.flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	clientset, err := versioned.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("making a client of the macpool API: %w", err)
	}
	return clientset, nil
}

func (c configFlagClients) Namespace() (string, error) {
	namespace, _, err := c.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("reading the namespace of the current context: %w", err)
	}
	return namespace, nil
}

// NewCommand returns `kubectl macpool` with its subcommands. With clients
// nil, the kubectl connection flags are added and used.
func NewCommand(streams genericiooptions.IOStreams, clients Clients) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-macpool",
		Short: "Ask Kubemacpool who holds a MAC, how full the pools are, and which addresses are free",
		Long: `kubectl macpool reads the macpool.kubemacpool.io API (MacLeases and MacPools) and
answers the questions that plain "kubectl get" makes awkward. Only restore
creates or changes anything, and nothing is ever deleted: what you see and
write is what your RBAC rights allow.

Exit status: 0 when the command did what was asked, 1 otherwise (the error says why).`,
		Example: `  kubectl macpool who-has 02:00:00:00:00:0A
  kubectl macpool usage
  kubectl macpool free default -n 5
  kubectl macpool backup -f macpool-backup.yaml
  kubectl macpool restore -f macpool-backup.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without subcommand, print the help; an unknown one is an error.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	// kubectl completes plugins through kubectl_complete-<name>, not this.
	root.CompletionOptions.DisableDefaultCmd = true
	// kubectl calls the binary kubectl-macpool; help shows how users type it.
	root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl macpool"}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)

	if clients == nil {
		flags := genericclioptions.NewConfigFlags(true)
		// Only who-has is namespaced; it has its own -n, and free uses -n
		// for the count, so the shared flags leave the namespace out.
		flags.Namespace = nil
		flags.AddFlags(root.PersistentFlags())
		clients = configFlagClients{flags: flags}
	}

	root.AddCommand(
		newWhoHasCommand(streams, clients),
		newUsageCommand(streams, clients),
		newFreeCommand(streams, clients),
		newBackupCommand(streams, clients),
		newRestoreCommand(streams, clients),
	)
	return root
}

// Run executes the command and returns the exit status: 0 on success, 1
// with "error: ..." on standard error otherwise.
func Run(cmd *cobra.Command, streams genericiooptions.IOStreams) int {
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
		return 1
	}
	return 0
}
