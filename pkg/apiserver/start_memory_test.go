package apiserver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// The start's memory is returned once, after the lease informer has synced,
// and not at all by a server that stops before.
func TestReturnStartMemory(t *testing.T) {
	var freed atomic.Int32
	previous := freeOSMemory
	freeOSMemory = func() { freed.Add(1) }
	t.Cleanup(func() { freeOSMemory = previous })

	var synced atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		returnStartMemory(context.Background(), synced.Load)
	}()
	time.Sleep(200 * time.Millisecond)
	if got := freed.Load(); got != 0 {
		t.Fatalf("memory returned %d times before the informer synced", got)
	}
	synced.Store(true)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("returnStartMemory did not return after the informer synced")
	}
	if got := freed.Load(); got != 1 {
		t.Fatalf("memory returned %d times, want once", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	returnStartMemory(ctx, func() bool { return false })
	if got := freed.Load(); got != 1 {
		t.Fatalf("a stopped server returned memory: %d calls, want still 1", got)
	}
}
