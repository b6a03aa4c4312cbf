package allocation

import (
	"context"
	"testing"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// A failed call releases the lease version it created and no other: a lease
// written since (bound, or created anew after a release) stays,
// for the lease controller to release with its proof that nothing carries
// the MAC.
func TestAbortReleasesOnlyTheVersionItCreated(t *testing.T) {
	ctx := context.Background()
	requested := mustParse(t, "02:00:00:00:00:10")
	tests := []struct {
		name string
		// meanwhile is another write of the lease after the call created
		// it; nil for none.
		meanwhile func(t *testing.T, store *memLeases, lease *v1alpha1.MacLease)
		wantKept  bool
	}{
		{name: "unchanged: released"},
		{name: "written since (the lease controller bound it)", wantKept: true,
			meanwhile: func(t *testing.T, store *memLeases, lease *v1alpha1.MacLease) {
				lease.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseBound}
				delete(lease.Annotations, AttemptAnnotation)
				if _, err := store.Rewrite(ctx, lease); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "released and created anew by another object", wantKept: true,
			meanwhile: func(t *testing.T, store *memLeases, lease *v1alpha1.MacLease) {
				store.mu.Lock()
				delete(store.leases, lease.Name)
				store.mu.Unlock()
				again := lease.DeepCopy()
				again.Annotations = map[string]string{AttemptAnnotation: "request-2/other"}
				if _, err := store.Create(ctx, again); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, store := stickyService(t)
			tx := s.Begin("a", podOwner("p", "request-1"), false)
			if _, err := tx.Request(ctx, "a/net1", Network{}, requested); err != nil {
				t.Fatal(err)
			}
			if tt.meanwhile != nil {
				tt.meanwhile(t, store, store.lease(requested.Name()))
			}
			before := store.lease(requested.Name())
			tx.Abort(ctx)
			after := store.lease(requested.Name())
			switch {
			case !tt.wantKept && after != nil:
				t.Errorf("after Abort: %+v; want the lease released", after)
			case tt.wantKept && (after == nil || after.ResourceVersion != before.ResourceVersion):
				t.Errorf("after Abort: %+v; want the lease as it was, version %s", after, before.ResourceVersion)
			}
		})
	}
}
