package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"k8s.io/apiserver/pkg/registry/generic"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	storagefactory "k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/embeddedetcd"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

// failure records the first failure of something the server cannot serve
// without (the embedded etcd, the metrics listener); RunWithContext then
// shuts the server down gracefully and returns it.
type failure struct {
	once sync.Once
	done chan struct{}
	err  error
}

func newFailure() *failure { return &failure{done: make(chan struct{})} }

func (f *failure) fail(err error) {
	f.once.Do(func() {
		f.err = err
		close(f.done)
	})
}

// embeddedEtcd is the part of a running embeddedetcd.Server the server's
// life-cycle needs.
type embeddedEtcd interface {
	Err() <-chan error
	Stop()
}

// inProcessStorage is an embedded etcd whose storage is built on
// in-process calls to the member rather than on its client URL.
type inProcessStorage interface {
	RESTOptionsGetter(generic.RESTOptionsGetter) generic.RESTOptionsGetter
}

// EmbeddedEtcdConfig is the etcd the server brings along.
type EmbeddedEtcdConfig struct {
	Options *embeddedetcd.Options
	// Storage is the storage's configuration of its clients. The generic
	// options must skip the etcd health checks (EtcdOptions'
	// SkipHealthEndpoints): their clients would dial etcd before it
	// listens and back off for up to seconds past its start, so New adds
	// them, under the same names, once etcd serves.
	Storage storagebackend.Config
}

// startEmbeddedEtcd starts the embedded etcd when the configuration has one
// (nil: the storage is an external etcd). It runs before any storage is
// built, so that the watch caches' first lists find it serving.
func startEmbeddedEtcd(config *EmbeddedEtcdConfig) (embeddedEtcd, error) {
	if config == nil {
		return nil, nil
	}
	// New has no context: a start is bounded by embeddedetcd's own
	// readiness timeout.
	etcd, err := embeddedetcd.Start(context.Background(), config.Options)
	if err != nil {
		return nil, err
	}
	return etcd, nil
}

// addEtcdHealthChecks adds the checks the generic options add for an
// external etcd, under the same names: etcd (healthz, livez, readyz) and
// etcd-readiness (readyz).
func addEtcdHealthChecks(server *genericapiserver.GenericAPIServer, config genericapiserver.CompletedConfig, storage storagebackend.Config) error {
	health, err := storagefactory.CreateHealthCheck(storage, config.DrainedNotify())
	if err != nil {
		return fmt.Errorf("creating the etcd health check: %w", err)
	}
	if err := server.AddHealthChecks(healthz.NamedGroupedCheck("etcd", "etcd", func(*http.Request) error { return health() })); err != nil {
		return err
	}
	ready, err := storagefactory.CreateReadyCheck(storage, config.DrainedNotify())
	if err != nil {
		return fmt.Errorf("creating the etcd readiness check: %w", err)
	}
	return server.AddReadyzChecks(healthz.NamedGroupedCheck("etcd-readiness", "etcd-readiness", func(*http.Request) error { return ready() }))
}

// stopEmbeddedEtcdLast makes the server shut down when etcd fails, with
// etcd's error as the cause, and stops etcd when the server is destroyed.
// It must be called after InstallAPIGroup: GenericAPIServer.Destroy, which
// RunWithContext defers until the server has drained its requests, calls
// the destroy functions in the order they were registered, so the group's
// storage (registered by InstallAPIGroup) is destroyed before its etcd
// stops.
func (s *Server) stopEmbeddedEtcdLast(etcd embeddedEtcd) {
	stopped := make(chan struct{})
	go func() {
		select {
		case err := <-etcd.Err():
			klog.ErrorS(err, "Embedded etcd failed, shutting down")
			s.failure.fail(fmt.Errorf("embedded etcd failed: %w", err))
		case <-stopped:
		}
	}()
	var once sync.Once
	s.GenericAPIServer.RegisterDestroyFunc(func() {
		once.Do(func() {
			close(stopped)
			etcd.Stop()
		})
	})
}

// metricsListenerHook serves the plain Prometheus endpoint on addr for as
// long as the server runs; a listener that fails shuts the server down.
func (s *Server) metricsListenerHook(m *metrics.Metrics, addr string) genericapiserver.PostStartHookFunc {
	return func(ctx genericapiserver.PostStartHookContext) error {
		go func() {
			if err := m.Serve(ctx, addr); err != nil {
				klog.ErrorS(err, "Serving metrics failed, shutting down", "addr", addr)
				s.failure.fail(fmt.Errorf("serving metrics on %s: %w", addr, err))
			}
		}()
		return nil
	}
}

// runner is what GenericAPIServer.PrepareRun returns.
type runner interface {
	RunWithContext(ctx context.Context) error
}

// PreparedServer is a Server ready to run, as kube-aggregator's
// preparedAPIAggregator is.
type PreparedServer struct {
	server  *Server
	generic runner
}

// PrepareRun prepares the generic server to run.
func (s *Server) PrepareRun() PreparedServer {
	return PreparedServer{server: s, generic: s.GenericAPIServer.PrepareRun()}
}

// RunWithContext bootstraps the serving certificate when the server manages
// it, then serves until ctx is done (SIGTERM or SIGINT) or something the
// server needs fails, shutting down gracefully either way; that failure is
// returned.
func (s PreparedServer) RunWithContext(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-s.server.failure.done:
			cancel(s.server.failure.err)
		case <-ctx.Done():
		}
	}()
	if certificates := s.server.certificates; certificates != nil {
		// Before serving: the secure port serves the certificate the
		// manager keeps, and has none until the first one is loaded.
		if err := certificates.Bootstrap(ctx); err != nil {
			// Never run, so Destroy was not deferred: it stops the
			// embedded etcd.
			s.server.GenericAPIServer.Destroy()
			if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
				return cause
			}
			return err
		}
	}
	if err := s.generic.RunWithContext(ctx); err != nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
		return cause
	}
	return nil
}
