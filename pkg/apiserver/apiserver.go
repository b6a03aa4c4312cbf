package apiserver

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/certificate"
	"kubemacpool.io/kubemacpool/pkg/generated/informers/externalversions"
	"kubemacpool.io/kubemacpool/pkg/metrics"
	macleasestorage "kubemacpool.io/kubemacpool/pkg/registry/macpool/maclease"
	macpoolstorage "kubemacpool.io/kubemacpool/pkg/registry/macpool/macpool"
)

// ExtraConfig is the configuration that is not the generic server's.
type ExtraConfig struct {
	// DefaultPool is the spec of the pool named "default", created at start
	// when it does not exist. An existing pool is never overwritten: day-2
	// edits made with kubectl win over flags. Without ranges the pool gets
	// the cluster's own (ClusterRange).
	DefaultPool macpool.MacPoolSpec
	// ReservationTTL is how long a lease created at admission stays
	// Reserved before it is released if its owner never appears.
	ReservationTTL time.Duration
	// MaxMACsPerObject caps the MACs the webhooks give one Pod or
	// VirtualMachine.
	MaxMACsPerObject int
	// MacInformers are the informers on this server's objects that the
	// admission plugins read; the server starts them.
	MacInformers externalversions.SharedInformerFactory
	Controller   ControllerConfig
	Metrics      *metrics.Metrics
	// KubeClientConfig reaches kube-apiserver (--kubeconfig or in-cluster).
	KubeClientConfig *restclient.Config
	// KubeVirtIdentity is the user KubeVirt creates virt-launcher pods as;
	// the Pod webhook leaves only its launcher pods of VMs alone.
	KubeVirtIdentity string
	// Certificates, when set, supplies the serving certificate: it must
	// have been bootstrapped before the server starts serving.
	Certificates *certificate.Manager
}

// Config is the whole server configuration.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

type completedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	ExtraConfig   *ExtraConfig
}

// CompletedConfig is a Config whose defaults are filled in.
type CompletedConfig struct {
	*completedConfig
}

// Server is the kubemacpool API server.
type Server struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
}

// Complete fills in the fields of the generic configuration that are derived
// from others. It changes the receiver.
func (c *Config) Complete() CompletedConfig {
	if authn := &c.GenericConfig.Authentication; authn.Authenticator != nil {
		if _, cached := authn.Authenticator.(*connectionAuthentication); !cached {
			authn.Authenticator = newConnectionAuthentication(authn.Authenticator, authn.RequestHeaderConfig, clock.RealClock{})
		}
	}
	c.GenericConfig.BuildHandlerChainFunc = withWebhookChain(withCanonicalLeaseNames(c.GenericConfig.BuildHandlerChainFunc))
	addLeaderElectionHealthCheck(c.GenericConfig, &c.ExtraConfig.Controller)
	return CompletedConfig{&completedConfig{
		GenericConfig: c.GenericConfig.Complete(),
		ExtraConfig:   &c.ExtraConfig,
	}}
}

// New builds the server and installs the macpool.kubemacpool.io group.
func (c completedConfig) New() (*Server, error) {
	genericServer, err := c.GenericConfig.New("kubemacpool-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("building the generic API server: %w", err)
	}
	server := &Server{GenericAPIServer: genericServer}

	leases, leaseStatus, err := macleasestorage.NewStorage(Scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	pools, poolStatus, err := macpoolstorage.NewStorage(Scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	group := genericapiserver.NewDefaultAPIGroupInfo(macpool.GroupName, Scheme, metav1.ParameterCodec, Codecs)
	group.NegotiatedSerializer = jsonAndYAMLOnly{Codecs}
	group.VersionedResourcesStorageMap[v1alpha1.SchemeGroupVersion.Version] = map[string]rest.Storage{
		"macleases":        leases,
		"macleases/status": leaseStatus,
		"macpools":         pools,
		"macpools/status":  poolStatus,
	}
	if err := genericServer.InstallAPIGroup(&group); err != nil {
		return nil, fmt.Errorf("installing the %s API group: %w", macpool.GroupName, err)
	}

	// One informer holds every lease, as stored (internal objects shared
	// with the watch cache): the allocator's index and the lease controller
	// both follow it, so a lease is decoded and held once.
	leaseInformer := cache.NewSharedIndexInformer(storageListWatch(leases), &macpool.MacLease{}, informerResync, cache.Indexers{})
	// One informer on NetworkAttachmentDefinitions too: the webhooks pick
	// pools by their labels, the controller tells collisions apart by them.
	networks, err := networkAttachmentLabels(c)
	if err != nil {
		return nil, err
	}
	// The webhooks create and delete leases, and the controller binds them,
	// through the registry in process, behind the admission chain.
	inProcess := newInProcessLeases(leases, c.GenericConfig.AdmissionControl, Scheme)
	poolInformer, err := installWebhooks(genericServer, c, inProcess, leaseInformer, networks)
	if err != nil {
		return nil, fmt.Errorf("installing the admission webhooks: %w", err)
	}

	if err := genericServer.AddPostStartHook("kubemacpool-lease-controller", func(ctx genericapiserver.PostStartHookContext) error {
		return startController(ctx, c, inProcess, leaseInformer, poolInformer, networks)
	}); err != nil {
		return nil, fmt.Errorf("adding the lease controller hook: %w", err)
	}

	ensureDefaultPool := defaultPoolHook{spec: c.ExtraConfig.DefaultPool}
	if c.ExtraConfig.KubeClientConfig != nil {
		kube, err := kubernetes.NewForConfig(c.ExtraConfig.KubeClientConfig)
		if err != nil {
			return nil, fmt.Errorf("building the client that reads the cluster's identity: %w", err)
		}
		ensureDefaultPool.namespaces = kube.CoreV1()
	}
	if err := genericServer.AddPostStartHook("kubemacpool-default-pool", ensureDefaultPool.run); err != nil {
		return nil, fmt.Errorf("adding the default pool hook: %w", err)
	}
	return server, nil
}
