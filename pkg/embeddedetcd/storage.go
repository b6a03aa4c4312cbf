package embeddedetcd

import (
	"reflect"
	"sync"

	"go.etcd.io/etcd/client/v3/kubernetes"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericfeatures "k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	cacherstorage "k8s.io/apiserver/pkg/storage/cacher"
	"k8s.io/apiserver/pkg/storage/etcd3"
	etcdfeature "k8s.io/apiserver/pkg/storage/feature"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/apiserver/pkg/storage/value/encrypt/identity"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// inProcess is the API server's way into the member it runs: etcd's own
// adapters turn each client call into a call of the member's gRPC service
// implementation, so no request is marshalled, framed, sent over loopback
// TCP and parsed again. Every lease write, read and watch event crossed that
// hop twice (client and server side); it was about a sixth of the server's
// CPU per admitted Pod (docs/benchmarks.md). The member's client URL still
// serves everything else: the /healthz/etcd check, snapshots, etcdctl.
type inProcess struct {
	once      sync.Once
	client    *kubernetes.Client
	compactor interface {
		etcd3.Compactor
		Stop()
	}
}

// RESTOptionsGetter returns getter with every resource's storage built on
// the running member through in-process calls. Whether a resource has a
// watch cache is left as getter decided it (--watch-cache,
// --watch-cache-sizes); only the client under the store changes, so
// validation, preconditions, encryption at rest and the watch cache behave
// exactly as with the network client.
func (s *Server) RESTOptionsGetter(getter generic.RESTOptionsGetter) generic.RESTOptionsGetter {
	return inProcessOptions{RESTOptionsGetter: getter, server: s}
}

type inProcessOptions struct {
	generic.RESTOptionsGetter
	server *Server
}

// undecorated identifies the decorator the generic options pick for a
// resource whose watch cache is off. Comparing the function is the only way
// to read that decision back from RESTOptions.
var undecorated = reflect.ValueOf(generic.StorageDecorator(generic.UndecoratedStorage)).Pointer()

func (g inProcessOptions) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	options, err := g.RESTOptionsGetter.GetRESTOptions(resource, example)
	if err != nil {
		return options, err
	}
	cached := reflect.ValueOf(options.Decorator).Pointer() != undecorated
	options.Decorator = g.server.storageDecorator(cached)
	return options, nil
}

// storageDecorator builds what generic.UndecoratedStorage or
// k8s.io/apiserver's registry.StorageWithCacher build, on the in-process client.
func (s *Server) storageDecorator(cached bool) generic.StorageDecorator {
	return func(config *storagebackend.ConfigForResource, resourcePrefix string, keyFunc func(runtime.Object) (string, error),
		newFunc, newListFunc func() runtime.Object, attrs storage.AttrFunc, triggers storage.IndexerFuncs,
		indexers *cache.Indexers) (storage.Interface, factory.DestroyFunc, error) {
		raw, destroyRaw, err := s.rawStorage(config, newFunc, newListFunc, resourcePrefix)
		if err != nil || !cached {
			return raw, destroyRaw, err
		}
		cacher, err := cacherstorage.NewCacherFromConfig(cacherstorage.Config{
			Storage:             raw,
			Versioner:           storage.APIObjectVersioner{},
			GroupResource:       config.GroupResource,
			EventsHistoryWindow: config.EventsHistoryWindow,
			ResourcePrefix:      resourcePrefix,
			KeyFunc:             keyFunc,
			NewFunc:             newFunc,
			NewListFunc:         newListFunc,
			GetAttrsFunc:        attrs,
			IndexerFuncs:        triggers,
			Indexers:            indexers,
			Codec:               config.Codec,
		})
		if err != nil {
			destroyRaw()
			return nil, nil, err
		}
		delegator := cacherstorage.NewCacheDelegator(cacher, raw)
		var once sync.Once
		return delegator, func() {
			once.Do(func() {
				delegator.Stop()
				cacher.Stop()
				destroyRaw()
			})
		}, nil
	}
}

// rawStorage is the etcd3 store of one resource, as the generic storage
// factory builds it, on the shared in-process client.
func (s *Server) rawStorage(config *storagebackend.ConfigForResource, newFunc, newListFunc func() runtime.Object, resourcePrefix string) (storage.Interface, factory.DestroyFunc, error) {
	s.local.once.Do(func() {
		client := v3client.New(s.etcd.Server)
		// etcd_request_duration_seconds and friends, as the factory's client has.
		client.KV = etcd3.NewETCDLatencyTracker(client.KV)
		s.local.client = &kubernetes.Client{Client: client}
		s.local.client.Kubernetes = s.local.client
		// One compactor for the member, as the factory keeps one per
		// endpoint: it compacts the history every --etcd-compaction-interval.
		s.local.compactor = etcd3.NewCompactor(client, config.CompactionInterval, clock.RealClock{}, nil)
		checkProgressNotify(etcdfeature.DefaultFeatureSupportChecker, client)
	})
	transformer := config.Transformer
	if transformer == nil {
		transformer = identity.NewEncryptCheckTransformer()
	}
	versioner := storage.APIObjectVersioner{}
	decoder := etcd3.NewDefaultDecoder(config.Codec, versioner)
	if utilfeature.DefaultFeatureGate.Enabled(genericfeatures.AllowUnsafeMalformedObjectDeletion) {
		transformer = etcd3.WithCorruptObjErrorHandlingTransformer(transformer)
		decoder = etcd3.WithCorruptObjErrorHandlingDecoder(decoder)
	}
	store, err := etcd3.New(s.local.client, s.local.compactor, config.Codec, newFunc, newListFunc, config.Prefix, resourcePrefix,
		config.GroupResource, transformer, config.LeaseManagerConfig, decoder, versioner)
	if err != nil {
		return nil, nil, err
	}
	var once sync.Once
	destroy := func() { once.Do(store.Close) }
	var result storage.Interface = store
	if utilfeature.DefaultFeatureGate.Enabled(genericfeatures.AllowUnsafeMalformedObjectDeletion) {
		result = etcd3.NewStoreWithUnsafeCorruptObjectDeletion(result, config.GroupResource)
	}
	return result, destroy, nil
}

// stopInProcess ends the compactor and the in-process client; the stores
// built on them have been destroyed by then (the API server stops first).
func (s *Server) stopInProcess() {
	// Synchronises with the first rawStorage; a member nobody built
	// storage on has nothing to stop.
	s.local.once.Do(func() {})
	if s.local.client == nil {
		return
	}
	s.local.compactor.Stop()
	_ = s.local.client.Close()
}
