package apiserver

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/registry/generic"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/admission/pods"
	"kubemacpool.io/kubemacpool/pkg/admission/virtualmachines"
	"kubemacpool.io/kubemacpool/pkg/admission/webhook"
	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

// webhookEventComponent is the source of the webhooks' events.
const webhookEventComponent = "kubemacpool-mutator"

// preloadTimeout bounds the read of the leases' keys at start; past it the
// allocator waits for the lease informer instead.
const preloadTimeout = 30 * time.Second

// informerResync is zero: the allocator's index follows events, and a
// periodic resync would only replay them.
const informerResync = 0

// installWebhooks serves the admission webhooks on the secure port, backed by
// an allocation service that reads leases straight from their storage, pools
// and namespaces from the shared informers. It adds the allocator's
// post-start hooks and its readiness check.
func installWebhooks(server *genericapiserver.GenericAPIServer, config completedConfig, clients *kubeClients, shared *sharedInformers,
	leases *inProcessLeases, leaseOptions generic.RESTOptions) error {
	client, err := versioned.NewForConfig(config.GenericConfig.LoopbackClientConfig)
	if err != nil {
		return fmt.Errorf("building the loopback client: %w", err)
	}
	namespaces := shared.kube.Core().V1().Namespaces()
	allocations, err := allocation.New(client, leases,
		shared.leases, shared.macpool.Macpool().V1alpha1().MacPools(),
		namespaces.Lister(), namespaces.Informer().HasSynced, clients.kube.CoreV1(),
		config.ExtraConfig.ReservationTTL, config.ExtraConfig.Metrics)
	if err != nil {
		return err
	}
	allocations.UseNetworkLabels(shared.networks)
	allocations.LimitReservations(config.ExtraConfig.MaxReservationsPerNamespace)
	allocations.UseOwnerLookup(liveOwners{metadata: clients.metadata})

	launchers := &pods.Launchers{Identity: config.ExtraConfig.KubeVirtIdentity, KubeVirt: clients.dynamic}

	// Events of conflictPolicy Reassign go to kube-apiserver, in the
	// namespace of the object whose MAC was replaced.
	events := record.NewBroadcaster(record.WithContext(context.Background()))
	recorder := events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: webhookEventComponent})

	observe := countAdmissions(config.ExtraConfig.Metrics)
	server.Handler.NonGoRestfulMux.Handle(pods.Path, webhook.Handler(&pods.Mutator{
		Allocations: allocations, Launchers: launchers, MaxMACs: config.ExtraConfig.MaxMACsPerObject, Events: recorder}, observe))
	server.Handler.NonGoRestfulMux.Handle(virtualmachines.Path, webhook.Handler(&virtualmachines.Mutator{
		Allocations: allocations, MaxMACs: config.ExtraConfig.MaxMACsPerObject, Events: recorder}, observe))

	leaseNames := storedLeaseNames(leaseOptions)

	// Named as it always was, though the informers now start in
	// start-kubemacpool-informers: /readyz lists every hook as
	// poststarthook/<name>, and probes may ask for it.
	if err := server.AddPostStartHook("kubemacpool-allocator-informers", func(ctx genericapiserver.PostStartHookContext) error {
		events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: clients.kube.CoreV1().Events("")})
		go func() {
			<-ctx.Done()
			events.Shutdown()
		}()
		// Ready on the leases' names, read from their keys, while the
		// informer decodes the leases themselves behind it.
		go func() {
			ctx, cancel := context.WithTimeout(ctx, preloadTimeout)
			defer cancel()
			if err := allocations.Preload(ctx, leaseNames); err != nil {
				klog.ErrorS(err, "Preloading the leased MACs failed; the allocator waits for the lease informer")
			}
		}()
		return nil
	}); err != nil {
		return fmt.Errorf("adding the allocator hook: %w", err)
	}
	if err := server.AddPostStartHook("kubemacpool-pool-status", func(ctx genericapiserver.PostStartHookContext) error {
		go allocations.RunStatusUpdates(ctx)
		return nil
	}); err != nil {
		return fmt.Errorf("adding the pool status hook: %w", err)
	}
	// Until every lease is in the index an allocation could pick a leased
	// address; kube-apiserver then gets a retryable error, but readiness
	// keeps load balancers away meanwhile.
	return server.AddReadyzChecks(healthz.NamedCheck("kubemacpool-allocator-synced", func(*http.Request) error {
		if !allocations.HasSynced() {
			return fmt.Errorf("the MAC allocator has not loaded every lease and pool yet")
		}
		return nil
	}))
}

// WebhookPaths are the admission webhooks' non-resource paths. A request to
// one of them is authenticated and authorized like any other: delegated
// authorization asks kube-apiserver whether the caller may "post" the path,
// which only the identity kube-apiserver presents to webhooks may (ClusterRole
// kubemacpool-webhook-caller). Every AdmissionReview leases MACs in the
// namespace it names, so an anonymous caller could otherwise exhaust any pool.
// Only --webhook-authorization=Disabled adds them to the always-allowed paths.
var WebhookPaths = []string{pods.Path, virtualmachines.Path}

// countAdmissions feeds kmp_admission_requests_total and
// kmp_admission_duration_seconds.
func countAdmissions(m *metrics.Metrics) webhook.Observer {
	return func(request *admissionv1.AdmissionRequest, response *admissionv1.AdmissionResponse, elapsed time.Duration) {
		resource := metrics.ResourcePods
		if request.Resource.Resource == "virtualmachines" {
			resource = metrics.ResourceVirtualMachines
		}
		result := metrics.AdmissionAllowed
		switch {
		case !response.Allowed && response.Result != nil && response.Result.Code >= 500:
			result = metrics.AdmissionError
		case !response.Allowed:
			result = metrics.AdmissionDenied
		case len(response.Patch) > 0:
			result = metrics.AdmissionMutated
		}
		m.CountAdmission(resource, string(request.Operation), result)
		m.ObserveAdmission(resource, string(request.Operation), elapsed)
	}
}

// DefaultReservationTTL is how long a lease created at admission waits for
// its owner to appear before it is released.
const DefaultReservationTTL = 5 * time.Minute
