package apiserver

import (
	"context"
	"fmt"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/uuid"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	componentbaseconfig "k8s.io/component-base/config"
	"k8s.io/klog/v2"

	leasecontroller "kubemacpool.io/kubemacpool/pkg/controller/lease"
	"kubemacpool.io/kubemacpool/pkg/controller/legacyfinalizer"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/pkg/networkattachment"
)

// ControllerConfig says how the lease controller runs.
type ControllerConfig struct {
	// LeaderElection makes replicas take turns (LeaderElect); off only for
	// a single replica that must not depend on a coordination Lease.
	LeaderElection componentbaseconfig.LeaderElectionConfiguration
	Workers        int
	// WebhookConfigurationName is the MutatingWebhookConfiguration whose
	// namespaceSelectors the controller follows; the certificate manager
	// keeps the caBundle of the same one.
	WebhookConfigurationName string

	// leaderHealth fails the server's /healthz and /livez when this
	// replica leads but has not renewed its Lease in time; set by Complete.
	leaderHealth *leaderelection.HealthzAdaptor
}

// leaderHealthTolerance is how long past its Lease's expiry a leader that
// failed to renew may stay live, as in kube-controller-manager: long enough
// for a slow renewal to land, short enough that the kubelet restarts a
// replica stuck in leadership.
const leaderHealthTolerance = 20 * time.Second

// addLeaderElectionHealthCheck gives the server a health check that fails
// while this replica holds the controller's Lease without renewing it. Not
// in /readyz: such a replica still serves the API and the webhooks well.
func addLeaderElectionHealthCheck(config *genericapiserver.RecommendedConfig, controller *ControllerConfig) {
	if !controller.LeaderElection.LeaderElect || controller.leaderHealth != nil {
		return
	}
	controller.leaderHealth = leaderelection.NewLeaderHealthzAdaptor(leaderHealthTolerance)
	config.HealthzChecks = append(config.HealthzChecks, controller.leaderHealth)
	config.LivezChecks = append(config.LivezChecks, controller.leaderHealth)
}

// startController runs the lease controller, under leader election, for as
// long as the server runs.
func startController(ctx genericapiserver.PostStartHookContext, config completedConfig, inProcess *inProcessLeases, leaseInformer, poolInformer cache.SharedIndexInformer,
	networks *networkattachment.Labels) error {
	kube, err := kubernetes.NewForConfig(config.ExtraConfig.KubeClientConfig)
	if err != nil {
		return fmt.Errorf("building the Kubernetes client of the lease controller: %w", err)
	}
	dynamicClient, err := dynamic.NewForConfig(config.ExtraConfig.KubeClientConfig)
	if err != nil {
		return fmt.Errorf("building the dynamic client of the lease controller: %w", err)
	}
	metadataClient, err := metadata.NewForConfig(config.ExtraConfig.KubeClientConfig)
	if err != nil {
		return fmt.Errorf("building the metadata client of the lease controller: %w", err)
	}
	leases, err := versioned.NewForConfig(ctx.LoopbackClientConfig)
	if err != nil {
		return fmt.Errorf("building the loopback client of the lease controller: %w", err)
	}
	controllerConfig := leasecontroller.Config{
		Leases:   leases,
		Binder:   inProcess,
		Kube:     kube,
		Dynamic:  dynamicClient,
		Metadata: metadataClient,
		// Asked again and again: KubeVirt may come after the server, go,
		// and come back.
		KubeVirt:                 func(context.Context) (bool, error) { return kubeVirtInstalled(kube.Discovery()) },
		Metrics:                  config.ExtraConfig.Metrics,
		LeaseInformer:            leaseInformer,
		WebhookConfigurationName: config.ExtraConfig.Controller.WebhookConfigurationName,
		// The allocator's pool informer, for retention policies.
		Pools:    poolInformer,
		Networks: networks,
	}
	// Fail the start on a configuration error rather than at the first
	// term; each term builds its own controller below.
	if _, err := leasecontroller.New(controllerConfig); err != nil {
		return err
	}
	run := func(ctx context.Context) {
		workers := config.ExtraConfig.Controller.Workers
		// Only the original Kubemacpool's VirtualMachines carry its
		// finalizer; without KubeVirt there is nothing to watch. Under the
		// same leader election as the lease controller, so that replicas
		// do not patch the same VirtualMachine at once. Those VMs predate
		// this server, so KubeVirt is there at the start of a term.
		if kubeVirt, _ := kubeVirtInstalled(kube.Discovery()); kubeVirt {
			go runLegacyFinalizer(ctx, metadataClient, workers)
		}
		// Built for each term: a stopped informer and a shut-down queue
		// cannot be started again, so a replica that loses the lease and
		// wins it back needs a new controller.
		controller, err := leasecontroller.New(controllerConfig)
		if err != nil {
			klog.ErrorS(err, "Building the lease controller failed")
			return
		}
		if err := controller.Run(ctx, workers); err != nil {
			klog.ErrorS(err, "Lease controller stopped")
		}
	}
	settings := config.ExtraConfig.Controller
	if !settings.LeaderElection.LeaderElect {
		go run(ctx)
		return nil
	}
	identity, _ := os.Hostname()
	identity += "_" + string(uuid.NewUUID())
	election := settings.LeaderElection
	lock, err := resourcelock.New(election.ResourceLock, election.ResourceNamespace, election.ResourceName,
		kube.CoreV1(), kube.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: identity})
	if err != nil {
		return fmt.Errorf("creating the leader election lock: %w", err)
	}
	go func() {
		// Losing the lease ends one term; keep running for the next one
		// until the server stops.
		for ctx.Err() == nil {
			leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
				Lock:            lock,
				LeaseDuration:   election.LeaseDuration.Duration,
				RenewDeadline:   election.RenewDeadline.Duration,
				RetryPeriod:     election.RetryPeriod.Duration,
				ReleaseOnCancel: true,
				Name:            election.ResourceName,
				WatchDog:        settings.leaderHealth,
				Callbacks: leaderelection.LeaderCallbacks{
					OnStartedLeading: run,
					OnStoppedLeading: func() { klog.InfoS("No longer leading the lease controller", "identity", identity) },
				},
			})
		}
	}()
	return nil
}

// runLegacyFinalizer removes the original Kubemacpool's finalizer from
// VirtualMachines until ctx is done.
func runLegacyFinalizer(ctx context.Context, client metadata.Interface, workers int) {
	finalizers, err := legacyfinalizer.New(client)
	if err == nil {
		err = finalizers.Run(ctx, workers)
	}
	if err != nil {
		klog.ErrorS(err, "Legacy finalizer controller stopped")
	}
}

// kubeVirtInstalled reports whether kubevirt.io/v1 serves VirtualMachines
// and VirtualMachineInstances. A group that is not served is a plain "no";
// any other discovery failure is an error, so that a hiccup is not taken
// for a removal.
func kubeVirtInstalled(client discovery.DiscoveryInterface) (bool, error) {
	resources, err := client.ServerResourcesForGroupVersion("kubevirt.io/v1")
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discovering kubevirt.io/v1: %w", err)
	}
	served := map[string]bool{}
	for _, resource := range resources.APIResources {
		served[resource.Name] = true
	}
	return served["virtualmachines"] && served["virtualmachineinstances"], nil
}
