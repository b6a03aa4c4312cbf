package apiserver

import (
	"context"
	"fmt"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apiserver/pkg/registry/generic"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	componentbaseconfig "k8s.io/component-base/config"
	"k8s.io/klog/v2"

	leasecontroller "kubemacpool.io/kubemacpool/pkg/controller/lease"
	"kubemacpool.io/kubemacpool/pkg/controller/legacyfinalizer"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
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

// leaseControllerHook builds the lease controller's configuration on the
// shared lease, pool, namespace and NetworkAttachmentDefinition informers,
// requested here, before the informers start; what only the leader watches
// is built for each term (termInformers). The hook runs the controller,
// under leader election, for as long as the server runs.
func leaseControllerHook(config completedConfig, clients *kubeClients, shared *sharedInformers,
	inProcess *inProcessLeases, leaseOptions generic.RESTOptions) (genericapiserver.PostStartHookFunc, error) {
	leases, err := versioned.NewForConfig(config.GenericConfig.LoopbackClientConfig)
	if err != nil {
		return nil, fmt.Errorf("building the loopback client of the lease controller: %w", err)
	}
	workers := config.ExtraConfig.Controller.Workers
	controllerConfig := leasecontroller.Config{
		Leases:     leases,
		Binder:     inProcess,
		Kube:       clients.kube,
		Namespaces: shared.kube.Core().V1().Namespaces().Informer(),
		// Asked again and again: KubeVirt may come after the server, go,
		// and come back.
		KubeVirt:                 func(context.Context) (bool, error) { return kubeVirtInstalled(clients.kube.Discovery()) },
		KubeVirtInformers:        kubeVirtInformers(clients, workers),
		Metrics:                  config.ExtraConfig.Metrics,
		LeaseInformer:            shared.leases,
		WebhookConfigurationName: config.ExtraConfig.Controller.WebhookConfigurationName,
		// The allocator's pool informer, for retention policies.
		Pools:    shared.macpool.Macpool().V1alpha1().MacPools().Informer(),
		Networks: shared.networks,
	}
	// Every replica follows the Pods, so that one that takes over knows
	// the removals it saw while another led (PodEvents).
	// A process that starts after every replica stopped replays the Pod
	// watch from the leader's last checkpoint, kept beside the leases.
	checkpoints := newPodCheckpoints(leaseOptions)
	podEvents, err := leasecontroller.FollowPods(shared.pods.Core().V1().Pods().Informer(), shared.leases,
		podReplay(checkpoints, clients.kube, config.ExtraConfig.Metrics))
	if err != nil {
		return nil, err
	}
	controllerConfig.PodEvents = podEvents
	// Fail the start on a configuration error rather than at the first
	// term; each term builds its own controller below.
	if _, err := leasecontroller.New(termInformers(controllerConfig, clients).config); err != nil {
		return nil, err
	}
	return func(ctx genericapiserver.PostStartHookContext) error {
		go podEvents.Replay(ctx)
		// Closed after the last term's last save, not as ctx ends.
		terms := &termGroup{}
		go closeAfterTerms(ctx, terms, checkpoints)
		return runLeaseController(ctx, config.ExtraConfig.Controller, clients, controllerConfig, terms)
	}, nil
}

// runLeaseController runs a lease controller in each term this replica
// leads (in one term for as long as the server runs without leader
// election).
// terms counts them (nil: nobody waits for them).
func runLeaseController(ctx context.Context, settings ControllerConfig, clients *kubeClients, controllerConfig leasecontroller.Config, terms *termGroup) error {
	workers := settings.Workers
	run := func(ctx context.Context) {
		if terms != nil {
			if !terms.begin() {
				return
			}
			defer terms.end()
		}
		// Built for each term: a stopped informer and a shut-down queue
		// cannot be started again, so a replica that loses the lease and
		// wins it back needs a new controller.
		term := termInformers(controllerConfig, clients)
		controller, err := leasecontroller.New(term.config)
		if err != nil {
			klog.ErrorS(err, "Building the lease controller failed")
			return
		}
		term.factory.Start(ctx.Done())
		if err := controller.Run(ctx, workers); err != nil {
			klog.ErrorS(err, "Lease controller stopped")
		}
	}
	if !settings.LeaderElection.LeaderElect {
		go run(ctx)
		return nil
	}
	identity, _ := os.Hostname()
	identity += "_" + string(uuid.NewUUID())
	election := settings.LeaderElection
	lock, err := resourcelock.New(election.ResourceLock, election.ResourceNamespace, election.ResourceName,
		clients.kube.CoreV1(), clients.kube.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: identity})
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

// term is a controller configuration with the informers of one leadership
// term, and the factory that starts them.
type term struct {
	config  leasecontroller.Config
	factory informers.SharedInformerFactory
}

// termInformers gives base the informer only the leader needs:
// MutatingWebhookConfigurations. Built for each term and stopped with it, so
// that a replica that does not lead, or no longer leads, does not watch
// them. (Pods were built here too until every replica followed them.)
func termInformers(base leasecontroller.Config, clients *kubeClients) term {
	factory := informers.NewSharedInformerFactory(clients.kube, 0)
	base.WebhookConfigurations = factory.Admissionregistration().V1().MutatingWebhookConfigurations().Informer()
	return term{config: base, factory: factory}
}

// kubeVirtInformers builds one generation of VirtualMachine and
// VirtualMachineInstance informers each time the lease controller finds
// KubeVirt served, in one dynamic factory. The legacy finalizer controller
// follows the same VM informer, so VMs are watched once per process, by the
// leader only, and only while KubeVirt is served. Only the original
// Kubemacpool's VirtualMachines carry its finalizer; under the lease
// controller's leader election, so that replicas do not patch the same
// VirtualMachine at once.
func kubeVirtInformers(clients *kubeClients, workers int) leasecontroller.KubeVirtInformers {
	return func(ctx context.Context) (cache.SharedIndexInformer, cache.SharedIndexInformer, func()) {
		factory := dynamicinformer.NewDynamicSharedInformerFactory(clients.dynamic, 0)
		vms := factory.ForResource(kubevirt.VirtualMachines).Informer()
		vmis := factory.ForResource(kubevirt.VirtualMachineInstances).Informer()
		finalizers, err := legacyfinalizer.New(clients.metadata, vms)
		if err != nil {
			klog.ErrorS(err, "Building the legacy finalizer controller failed")
		}
		return vms, vmis, func() {
			factory.Start(ctx.Done())
			if finalizers == nil {
				return
			}
			go func() {
				if err := finalizers.Run(ctx, workers); err != nil {
					klog.ErrorS(err, "Legacy finalizer controller stopped")
				}
			}()
		}
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
