package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServeUntilContextEnds(t *testing.T) {
	m := New()
	m.SetPoolCapacity("default", 7)

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- m.serve(ctx, listener) }()

	response, err := http.Get("http://" + listener.Addr().String() + Path)
	if err != nil {
		t.Fatalf("GET %s: %v", Path, err)
	}
	body, err := io.ReadAll(response.Body)
	response.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if response.StatusCode != http.StatusOK || !strings.Contains(string(body), `kmp_pool_capacity{pool="default"} 7`) {
		t.Fatalf("GET %s: status %d, body lacks the pool series:\n%s", Path, response.StatusCode, body)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve after cancel: %v", err)
		}
	case <-time.After(shutdownTimeout + time.Second):
		t.Fatal("serve did not return after its context ended")
	}
	if _, err := net.Dial("tcp", listener.Addr().String()); err == nil {
		t.Error("listener still accepts connections after shutdown")
	}
}

func TestServeReportsListenError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer busy.Close()

	err = New().Serve(t.Context(), busy.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "metrics: listen on") {
		t.Fatalf("Serve on a busy port: got %v, want a listen error", err)
	}
}

// The plain endpoint has no authentication: by default it must not be
// reachable from outside the pod (kube-rbac-proxy serves it there).
func TestDefaultAddrIsLoopback(t *testing.T) {
	host, port, err := net.SplitHostPort(DefaultAddr)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Errorf("DefaultAddr %q listens beyond loopback", DefaultAddr)
	}
	// The port the original's README, the deploy profiles' kube-rbac-proxy
	// --upstream and the docs name.
	if port != "8080" {
		t.Errorf("DefaultAddr %q: want port 8080", DefaultAddr)
	}
}
