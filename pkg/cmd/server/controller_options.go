package server

import (
	"fmt"

	"github.com/spf13/pflag"

	"kubemacpool.io/kubemacpool/pkg/apiserver"
)

// ControllerOptions configure the lease controller and its leader election.
type ControllerOptions struct {
	LeaderElect             bool
	LeaderElectionNamespace string
	LeaderElectionName      string
	Workers                 int
}

// NewControllerOptions returns the defaults; the namespace follows the
// POD_NAMESPACE of the Deployment when it is set.
func NewControllerOptions() *ControllerOptions {
	return &ControllerOptions{LeaderElect: true, LeaderElectionNamespace: podNamespace(), LeaderElectionName: "kubemacpool-lease-controller", Workers: 4}
}

// AddFlags registers the controller flags.
func (o *ControllerOptions) AddFlags(flags *pflag.FlagSet) {
	flags.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect,
		"Run the lease controller in one replica at a time, elected through a coordination.k8s.io Lease.")
	flags.StringVar(&o.LeaderElectionNamespace, "leader-elect-namespace", o.LeaderElectionNamespace,
		"Namespace of the leader election Lease (default: $POD_NAMESPACE, else kubemacpool-system).")
	flags.StringVar(&o.LeaderElectionName, "leader-elect-name", o.LeaderElectionName, "Name of the leader election Lease.")
	flags.IntVar(&o.Workers, "controller-workers", o.Workers, "Leases the controller reconciles at once.")
}

// Validate checks the controller options.
func (o *ControllerOptions) Validate() []error {
	var errs []error
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("--controller-workers must be at least 1, got %d", o.Workers))
	}
	if o.LeaderElect && (o.LeaderElectionNamespace == "" || o.LeaderElectionName == "") {
		errs = append(errs, fmt.Errorf("--leader-elect needs --leader-elect-namespace and --leader-elect-name"))
	}
	return errs
}

// Config is the controller part of the server configuration.
func (o *ControllerOptions) Config() apiserver.ControllerConfig {
	return apiserver.ControllerConfig{
		LeaderElection:          o.LeaderElect,
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		LeaderElectionName:      o.LeaderElectionName,
		Workers:                 o.Workers,
	}
}
