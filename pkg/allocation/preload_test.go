package allocation

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// TestPreload checks that the service is ready on the leases' names alone,
// before the informer has synced, that the preloaded addresses are never
// handed out, and that an address whose lease was deleted before the
// informer listed is freed once it has.
func TestPreload(t *testing.T) {
	s := testService(t, nil, nil, true)
	var informerSynced atomic.Bool
	s.leasesSynced = informerSynced.Load
	// The informer lists after 02:...:02 was deleted.
	s.leaseNames = func() []string { return []string{"02-00-00-00-00-00", "02-00-00-00-00-01"} }
	if s.HasSynced() {
		t.Fatal("the service is ready before the leases are loaded")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stored := []string{"02-00-00-00-00-00", "02-00-00-00-00-01", "02-00-00-00-00-02", "not-a-mac"}
	if err := s.Preload(ctx, func(context.Context) ([]string, error) { return stored, nil }); err != nil {
		t.Fatal(err)
	}
	if !s.HasSynced() {
		t.Fatal("the service is not ready after the preload")
	}
	for _, name := range stored[:3] {
		if !s.taken.Contains(mustParse(t, name)) {
			t.Errorf("%s is not taken after the preload", name)
		}
	}
	candidate, err := s.pools[macpool.DefaultPoolName].state.Candidate()
	if err != nil {
		t.Fatal(err)
	}
	if candidate.Name() <= "02-00-00-00-00-02" {
		t.Errorf("the pool offered %s, which a stored lease holds", candidate)
	}

	informerSynced.Store(true)
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return !s.taken.Contains(mustParse(t, "02-00-00-00-00-02")), nil
	}); err != nil {
		t.Fatal("the address of a lease deleted before the informer listed stays taken")
	}
	for _, name := range stored[:2] {
		if !s.taken.Contains(mustParse(t, name)) {
			t.Errorf("%s was freed though its lease is stored", name)
		}
	}
}

// A failed read of the keys leaves the service waiting for the informer.
func TestPreloadFailure(t *testing.T) {
	s := testService(t, nil, nil, true)
	s.leasesSynced = cache.InformerSynced(func() bool { return false })
	err := s.Preload(context.Background(), func(context.Context) ([]string, error) { return nil, errors.New("etcd is down") })
	if err == nil {
		t.Fatal("Preload reported success after a failed read")
	}
	if s.HasSynced() {
		t.Fatal("the service is ready without its leases")
	}
}
