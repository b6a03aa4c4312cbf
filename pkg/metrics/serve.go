package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	k8smetrics "k8s.io/component-base/metrics"
)

// DefaultAddr is where the --metric-addr flag listens unless told
// otherwise: the port the original Kubemacpool's README gives its plain
// metrics endpoint (its code defaulted --metrics-addr to :8443), on
// loopback only. The endpoint has no authentication: on every interface any
// pod could read kmp_mac_collisions{mac} and the request metrics, so
// reaching it from outside the pod goes through the kube-rbac-proxy
// sidecar, which the original's README also describes in front of 8080.
const DefaultAddr = "127.0.0.1:8080"

// Path is the URL path of the exposition endpoint.
const Path = "/metrics"

// shutdownTimeout bounds how long Serve waits for in-flight scrapes once
// its context ends; a scrape takes milliseconds, so this only matters for a
// stuck client.
const shutdownTimeout = 5 * time.Second

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return k8smetrics.HandlerFor(m.registry, k8smetrics.HandlerOpts{
		// A failing collector (e.g. /proc unreadable) must not blank the
		// whole page and hide the collision metrics alerts rely on.
		ErrorHandling: promhttp.ContinueOnError,
		// Bound concurrent scrapes so a misconfigured scraper cannot pile
		// up gathers on a small controller.
		MaxRequestsInFlight: 4,
		Timeout:             30 * time.Second,
	})
}

// Serve listens on addr (DefaultAddr if empty) and serves Handler at Path
// until ctx ends, then shuts the server down gracefully. It returns nil
// after a shutdown caused by ctx and an error if listening or serving fails.
func (m *Metrics) Serve(ctx context.Context, addr string) error {
	if addr == "" {
		addr = DefaultAddr
	}
	// Listen before serving so a port already in use is reported to the
	// caller at once rather than from a goroutine.
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	return m.serve(ctx, listener)
}

// serve takes ownership of listener and closes it.
func (m *Metrics) serve(ctx context.Context, listener net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle(Path, m.Handler())
	server := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}

	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()

	select {
	case err := <-served:
		// Serve returned on its own: the listener failed.
		return fmt.Errorf("metrics: serve on %s: %w", listener.Addr(), err)
	case <-ctx.Done():
	}

	// ctx is already done, so derive the shutdown deadline from a context
	// that keeps its values but not its cancellation.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("metrics: shut down server on %s: %w", listener.Addr(), err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: serve on %s: %w", listener.Addr(), err)
	}
	return nil
}
