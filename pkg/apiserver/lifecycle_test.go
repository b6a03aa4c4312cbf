package apiserver

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	basecompatibility "k8s.io/component-base/compatibility"
	netutils "k8s.io/utils/net"
)

// fakeEtcd is an embedded etcd that fails on demand.
type fakeEtcd struct {
	failed  chan error
	stopped atomic.Int32
}

func (e *fakeEtcd) Err() <-chan error { return e.failed }
func (e *fakeEtcd) Stop()             { e.stopped.Add(1) }

// newBareServer is a Server on a generic server without storage or
// listener, enough to run its life-cycle.
func newBareServer(t *testing.T) *Server {
	t.Helper()
	config := genericapiserver.NewRecommendedConfig(Codecs)
	config.EffectiveVersion = basecompatibility.NewEffectiveVersionFromString("1.37", "", "")
	// The generic server shuts down only after its secure port has
	// stopped listening: give it one on loopback.
	serving := genericoptions.NewSecureServingOptions().WithLoopback()
	listener, port, err := genericoptions.CreateListener("tcp", "127.0.0.1:0", net.ListenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	serving.Listener, serving.BindPort = listener, port
	serving.ServerCert.CertDirectory = t.TempDir()
	if err := serving.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		t.Fatal(err)
	}
	if err := serving.ApplyTo(&config.SecureServing, &config.LoopbackClientConfig); err != nil {
		t.Fatal(err)
	}
	generic, err := config.Complete().New("test", genericapiserver.NewEmptyDelegate())
	if err != nil {
		t.Fatalf("building the generic server: %v", err)
	}
	return &Server{GenericAPIServer: generic, failure: newFailure()}
}

// runServer runs s until it returns, and returns what it returned.
func runServer(t *testing.T, ctx context.Context, s *Server) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.PrepareRun().RunWithContext(ctx) }()
	return done
}

func waitForStop(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop within 30s")
		return nil
	}
}

// An embedded etcd that fails shuts the server down, and the server returns
// etcd's error; etcd is stopped once, after the server has drained.
func TestEmbeddedEtcdFailureShutsTheServerDown(t *testing.T) {
	s := newBareServer(t)
	etcd := &fakeEtcd{failed: make(chan error, 1)}
	var storageDestroyed atomic.Bool
	// What InstallAPIGroup registers before: the storage goes first.
	s.GenericAPIServer.RegisterDestroyFunc(func() { storageDestroyed.Store(true) })
	s.GenericAPIServer.RegisterDestroyFunc(func() {
		if etcd.stopped.Load() > 0 {
			t.Error("etcd stopped before the storage was destroyed")
		}
	})
	s.stopEmbeddedEtcdLast(etcd)

	done := runServer(t, context.Background(), s)
	boom := errors.New("disk on fire")
	etcd.failed <- boom
	err := waitForStop(t, done)
	if !errors.Is(err, boom) {
		t.Fatalf("RunWithContext = %v, want the etcd failure as the cause", err)
	}
	if got := etcd.stopped.Load(); got != 1 {
		t.Errorf("etcd stopped %d times, want once", got)
	}
	if !storageDestroyed.Load() {
		t.Error("the server was not destroyed")
	}
}

// A plain stop (SIGTERM) is no error, and stops etcd too.
func TestStopIsNoFailure(t *testing.T) {
	s := newBareServer(t)
	etcd := &fakeEtcd{failed: make(chan error, 1)}
	s.stopEmbeddedEtcdLast(etcd)
	ctx, cancel := context.WithCancel(context.Background())
	done := runServer(t, ctx, s)
	cancel()
	if err := waitForStop(t, done); err != nil {
		t.Fatalf("RunWithContext after a stop = %v, want nil", err)
	}
	if got := etcd.stopped.Load(); got != 1 {
		t.Errorf("etcd stopped %d times, want once", got)
	}
}

// A metrics listener that cannot listen shuts the server down with its
// error.
func TestMetricsListenerFailureShutsTheServerDown(t *testing.T) {
	s := newBareServer(t)
	if err := s.GenericAPIServer.AddPostStartHook("kubemacpool-metrics-listener", s.metricsListenerHook(nil, "256.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	err := waitForStop(t, runServer(t, context.Background(), s))
	if err == nil || !strings.Contains(err.Error(), "serving metrics on 256.0.0.1:0") {
		t.Fatalf("RunWithContext = %v, want the listener's failure", err)
	}
}
