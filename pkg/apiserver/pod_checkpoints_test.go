package apiserver

import (
	"context"
	"testing"
)

// The Pod watch checkpoint is kept in the leases' etcd, where every replica
// and every later process reads it, under a key that no resource lists.
func TestPodCheckpointsAreKeptBesideTheLeases(t *testing.T) {
	storage, restOptions := newTestLeaseStorage(t)
	ctx := context.Background()
	lease := reservation("a", "02:00:00:00:00:01")
	if _, err := newInProcessLeases(storage, nil, Scheme).Create(ctx, lease); err != nil {
		t.Fatal(err)
	}

	if got, err := newPodCheckpoints(restOptions).Load(ctx); err != nil || got != "" {
		t.Fatalf("before any save, the checkpoint is %q (error %v), want none", got, err)
	}
	for _, version := range []string{"1200", "1350"} {
		if err := newPodCheckpoints(restOptions).Save(ctx, version); err != nil {
			t.Fatalf("saving %s: %v", version, err)
		}
		// Another process, with its own client, reads what was saved.
		if got, err := newPodCheckpoints(restOptions).Load(ctx); err != nil || got != version {
			t.Fatalf("after saving %s, the checkpoint is %q (error %v)", version, got, err)
		}
	}
	names, err := storedLeaseNames(restOptions)(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != lease.Name {
		t.Errorf("the leases' keys are %v, want only the lease's: the checkpoint is no lease", names)
	}
}
