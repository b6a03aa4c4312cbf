package apiserver

import (
	"context"
	"testing"
	"time"

	genericapiserver "k8s.io/apiserver/pkg/server"
	restclient "k8s.io/client-go/rest"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// A server stopped before storage ever answered must shut down cleanly: a
// hook that fails makes the generic server exit hard instead of draining.
func TestDefaultPoolHookStoppedBeforeStorageAnswers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	// Nothing listens on port 1: every create fails and is retried.
	hookCtx := genericapiserver.PostStartHookContext{
		LoopbackClientConfig: &restclient.Config{Host: "http://127.0.0.1:1", Timeout: time.Second},
		Context:              ctx,
	}
	hook := defaultPoolHook{spec: macpool.MacPoolSpec{Ranges: []macpool.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:ff"}}}}
	done := make(chan error, 1)
	go func() { done <- hook.run(hookCtx) }()
	time.Sleep(1500 * time.Millisecond) // at least one failed try
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the hook failed on shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hook did not return after its context was cancelled")
	}
}
