package apiserver

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
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

// HTTPShutdownTimeout bounds how long a stopping server waits for its
// connections to go idle. Requests in flight are waited for apart from it
// (each within the request timeout), and open watches get
// --shutdown-watch-termination-grace-period; what it cuts short is a
// connection with nothing to finish that never closes: an HTTP/2
// connection whose TLS handshake ended after the shutdown began, to which
// x/net/http2 sends no GOAWAY.
const HTTPShutdownTimeout = 10 * time.Second

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
	// MaxReservationsPerNamespace caps the Reserved leases the webhooks
	// leave in one namespace; 0 sets no cap.
	MaxReservationsPerNamespace int
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
	// Certificates, when set, supplies the serving certificate: the
	// server bootstraps it before it serves, then keeps it current.
	Certificates *certificate.Manager
	// EmbeddedEtcd, when set, is the etcd the server starts for its
	// storage (no --etcd-servers), before any storage is built, and stops
	// after it has drained its requests.
	EmbeddedEtcd *EmbeddedEtcdConfig
	// MetricAddr is where the plain Prometheus endpoint listens; empty
	// serves none.
	MetricAddr string
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

	// certificates is bootstrapped by RunWithContext before serving.
	certificates *certificate.Manager
	// failure shuts the server down: the embedded etcd or the metrics
	// listener failed.
	failure *failure
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

// New builds the server and installs the macpool.kubemacpool.io group. It
// starts the embedded etcd, if the configuration has one, before anything
// else, and registers every component as a named post-start hook (the
// post-start hooks are listed in docs/design.md).
func (c completedConfig) New() (*Server, error) {
	etcd, err := startEmbeddedEtcd(c.ExtraConfig.EmbeddedEtcd)
	if err != nil {
		return nil, err
	}
	server, err := c.newServer(etcd)
	if err != nil && etcd != nil {
		etcd.Stop()
	}
	return server, err
}

func (c completedConfig) newServer(etcd embeddedEtcd) (*Server, error) {
	genericServer, err := c.GenericConfig.New("kubemacpool-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("building the generic API server: %w", err)
	}
	// The generic server's default is the request timeout (60 s), longer
	// than the Pod's 45 s termination grace period.
	genericServer.ShutdownTimeout = HTTPShutdownTimeout
	server := &Server{GenericAPIServer: genericServer, certificates: c.ExtraConfig.Certificates, failure: newFailure()}
	if etcd != nil {
		if err := addEtcdHealthChecks(genericServer, c.GenericConfig, c.ExtraConfig.EmbeddedEtcd.Storage); err != nil {
			return nil, err
		}
	}
	if local, ok := etcd.(inProcessStorage); ok {
		// The storage reaches the member in process (pkg/embeddedetcd).
		c.GenericConfig.RESTOptionsGetter = local.RESTOptionsGetter(c.GenericConfig.RESTOptionsGetter)
	}

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
	if etcd != nil {
		// After InstallAPIGroup: the storage is destroyed first.
		server.stopEmbeddedEtcdLast(etcd)
	}

	clients, err := newKubeClients(c.ExtraConfig.KubeClientConfig)
	if err != nil {
		return nil, err
	}
	shared, err := newSharedInformers(c, clients,
		cache.NewSharedIndexInformer(storageListWatch(leases), &macpool.MacLease{}, informerResync, cache.Indexers{}))
	if err != nil {
		return nil, err
	}
	// The webhooks create and delete leases, and the controller binds them,
	// through the registry in process, behind the admission chain.
	inProcess := newInProcessLeases(leases, c.GenericConfig.AdmissionControl, Scheme)
	// Where the leases are stored: the allocator reads their names from
	// etcd's keys, and the lease controller keeps its Pod watch checkpoint
	// beside them.
	leaseOptions, err := c.GenericConfig.RESTOptionsGetter.GetRESTOptions(macpool.Resource("macleases"), &macpool.MacLease{})
	if err != nil {
		return nil, fmt.Errorf("getting the storage options of MacLeases: %w", err)
	}
	if err := installWebhooks(genericServer, c, clients, shared, inProcess, leaseOptions); err != nil {
		return nil, fmt.Errorf("installing the admission webhooks: %w", err)
	}

	leaseController, err := leaseControllerHook(c, clients, shared, inProcess, leaseOptions)
	if err != nil {
		return nil, err
	}

	hooks := []postStartHook{
		// Every component above has requested its informers by now.
		{"start-kubemacpool-informers", shared.start},
		{"kubemacpool-lease-controller", leaseController},
		{"kubemacpool-default-pool", defaultPoolHook{spec: c.ExtraConfig.DefaultPool, namespaces: clients.kube.CoreV1()}.run},
	}
	if certificates := c.ExtraConfig.Certificates; certificates != nil {
		hooks = append(hooks, postStartHook{"kubemacpool-certificates", func(ctx genericapiserver.PostStartHookContext) error {
			go certificates.Run(ctx)
			return nil
		}})
	}
	if addr := c.ExtraConfig.MetricAddr; addr != "" {
		hooks = append(hooks, postStartHook{"kubemacpool-metrics-listener", server.metricsListenerHook(c.ExtraConfig.Metrics, addr)})
	}
	for _, h := range hooks {
		if err := genericServer.AddPostStartHook(h.name, h.hook); err != nil {
			return nil, fmt.Errorf("adding the post-start hook %s: %w", h.name, err)
		}
	}
	return server, nil
}

// postStartHook is a component of the server, run once it serves.
type postStartHook struct {
	name string
	hook genericapiserver.PostStartHookFunc
}
