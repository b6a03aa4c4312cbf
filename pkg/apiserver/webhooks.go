package apiserver

import (
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	"net/http"
	"time"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/admission/pods"
	"kubemacpool.io/kubemacpool/pkg/admission/virtualmachines"
	"kubemacpool.io/kubemacpool/pkg/admission/webhook"
	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/pkg/generated/informers/externalversions"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

// informerResync is zero: the allocator's index follows events, and a
// periodic resync would only replay them.
const informerResync = 0

// installWebhooks serves the admission webhooks on the secure port, backed by
// an allocation service that reads leases straight from their storage, pools
// through this server's own API (the loopback client) and namespaces from
// kube-apiserver.
func installWebhooks(server *genericapiserver.GenericAPIServer, config completedConfig, leases listerWatcher) error {
	client, err := versioned.NewForConfig(config.GenericConfig.LoopbackClientConfig)
	if err != nil {
		return fmt.Errorf("building the loopback client: %w", err)
	}
	// Shared with the admission plugins, which read pools too.
	informers := config.ExtraConfig.MacInformers
	if informers == nil {
		informers = externalversions.NewSharedInformerFactory(client, informerResync)
	}
	namespaces := config.GenericConfig.SharedInformerFactory.Core().V1().Namespaces()
	leaseInformer := cache.NewSharedIndexInformer(storageListWatch(leases), &macpool.MacLease{}, informerResync, cache.Indexers{})
	allocations, err := allocation.New(client,
		leaseInformer, informers.Macpool().V1alpha1().MacPools(),
		namespaces.Lister(), namespaces.Informer().HasSynced, config.ExtraConfig.ReservationTTL, config.ExtraConfig.Metrics)
	if err != nil {
		return err
	}

	observe := countAdmissions(config.ExtraConfig.Metrics)
	server.Handler.NonGoRestfulMux.Handle(pods.Path, webhook.Handler(&pods.Mutator{Allocations: allocations, MaxMACs: config.ExtraConfig.MaxMACsPerObject}, observe))
	server.Handler.NonGoRestfulMux.Handle(virtualmachines.Path, webhook.Handler(&virtualmachines.Mutator{Allocations: allocations, MaxMACs: config.ExtraConfig.MaxMACsPerObject}, observe))

	if err := server.AddPostStartHook("kubemacpool-allocator-informers", func(ctx genericapiserver.PostStartHookContext) error {
		informers.Start(ctx.Done())
		go leaseInformer.RunWithContext(ctx)
		go allocations.RunStatusUpdates(ctx)
		return nil
	}); err != nil {
		return fmt.Errorf("adding the allocator informer hook: %w", err)
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

// WebhookPaths are served without authorization: kube-apiserver calls
// webhooks anonymously, and a webhook answers only AdmissionReviews.
var WebhookPaths = []string{pods.Path, virtualmachines.Path}

// countAdmissions feeds kmp_admission_requests_total.
func countAdmissions(m *metrics.Metrics) webhook.Observer {
	return func(request *admissionv1.AdmissionRequest, response *admissionv1.AdmissionResponse) {
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
	}
}

// DefaultReservationTTL is how long a lease created at admission waits for
// its owner to appear before it is released.
const DefaultReservationTTL = 5 * time.Minute
