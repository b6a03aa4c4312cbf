package server

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	componentbaseconfig "k8s.io/component-base/config"
	componentbaseoptions "k8s.io/component-base/config/options"
	componentbasevalidation "k8s.io/component-base/config/validation"

	"kubemacpool.io/kubemacpool/pkg/apiserver"
)

// The leader election timings the lease controller has always used; they are
// kube-controller-manager's and kube-scheduler's defaults as well.
const (
	defaultLeaseDuration = 15 * time.Second
	defaultRenewDeadline = 10 * time.Second
	defaultRetryPeriod   = 2 * time.Second
)

// ControllerOptions configure the lease controller and its leader election.
type ControllerOptions struct {
	// LeaderElection is component-base's, bound to its standard
	// --leader-elect-* flags.
	LeaderElection componentbaseconfig.LeaderElectionConfiguration
	Workers        int
}

// NewControllerOptions returns the defaults; the namespace follows the
// POD_NAMESPACE of the Deployment when it is set.
func NewControllerOptions() *ControllerOptions {
	return &ControllerOptions{
		LeaderElection: componentbaseconfig.LeaderElectionConfiguration{
			LeaderElect:       true,
			LeaseDuration:     metav1.Duration{Duration: defaultLeaseDuration},
			RenewDeadline:     metav1.Duration{Duration: defaultRenewDeadline},
			RetryPeriod:       metav1.Duration{Duration: defaultRetryPeriod},
			ResourceLock:      resourcelock.LeasesResourceLock,
			ResourceName:      "kubemacpool-lease-controller",
			ResourceNamespace: podNamespace(),
		},
		// A bind is one write that waits for etcd's fsync, so the workers
		// wait more than they compute: after a burst of 800 Pods, 16 of them
		// bound the last lease 0.14-0.22 s after the last create, 4 of them
		// 0.31-0.44 s (make bench, bind-wait-s, docs/benchmarks.md).
		Workers: 16,
	}
}

// AddFlags registers the controller flags: component-base's leader election
// flags, and this server's earlier names of the Lease's namespace and name,
// kept so that command lines written for them still start the server.
func (o *ControllerOptions) AddFlags(flags *pflag.FlagSet) {
	componentbaseoptions.BindLeaderElectionFlags(&o.LeaderElection, flags)
	flags.StringVar(&o.LeaderElection.ResourceNamespace, "leader-elect-namespace", o.LeaderElection.ResourceNamespace,
		"Namespace of the leader election Lease (default: $POD_NAMESPACE, else kubemacpool-system).")
	flags.StringVar(&o.LeaderElection.ResourceName, "leader-elect-name", o.LeaderElection.ResourceName, "Name of the leader election Lease.")
	// Both were registered just above: these cannot fail.
	_ = flags.MarkDeprecated("leader-elect-namespace", "use --leader-elect-resource-namespace instead")
	_ = flags.MarkDeprecated("leader-elect-name", "use --leader-elect-resource-name instead")
	flags.IntVar(&o.Workers, "controller-workers", o.Workers, "Leases the controller reconciles at once.")
}

// leaderElectionFlags names the flag of each field that component-base's
// validation reports, so that an error says what to change on the command line.
var leaderElectionFlags = map[string]string{
	"leaseDuration":     "--leader-elect-lease-duration",
	"renewDeadline":     "--leader-elect-renew-deadline",
	"retryPeriod":       "--leader-elect-retry-period",
	"resourceLock":      "--leader-elect-resource-lock",
	"resourceName":      "--leader-elect-resource-name",
	"resourceNamespace": "--leader-elect-resource-namespace",
}

// Validate checks the controller options.
func (o *ControllerOptions) Validate() []error {
	var errs []error
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("--controller-workers must be at least 1, got %d", o.Workers))
	}
	le := o.LeaderElection
	for _, err := range componentbasevalidation.ValidateLeaderElectionConfiguration(&le, nil) {
		if flag, ok := leaderElectionFlags[err.Field]; ok {
			err.Field = flag
		}
		errs = append(errs, err)
	}
	if !le.LeaderElect {
		return errs
	}
	// Only Leases: the other locks are gone from client-go.
	if le.ResourceLock != "" && le.ResourceLock != resourcelock.LeasesResourceLock {
		errs = append(errs, field.NotSupported(field.NewPath(leaderElectionFlags["resourceLock"]), le.ResourceLock, []string{resourcelock.LeasesResourceLock}))
	}
	// client-go refuses (panics on) a renew deadline that a jittered retry
	// could overrun.
	if minimum := time.Duration(leaderelection.JitterFactor * float64(le.RetryPeriod.Duration)); le.RetryPeriod.Duration > 0 && le.RenewDeadline.Duration <= minimum {
		errs = append(errs, fmt.Errorf("--leader-elect-renew-deadline must be greater than %.1f times --leader-elect-retry-period (%s), got %s",
			leaderelection.JitterFactor, minimum, le.RenewDeadline.Duration))
	}
	return errs
}

// Config is the controller part of the server configuration.
func (o *ControllerOptions) Config() apiserver.ControllerConfig {
	return apiserver.ControllerConfig{
		LeaderElection: o.LeaderElection,
		Workers:        o.Workers,
	}
}
