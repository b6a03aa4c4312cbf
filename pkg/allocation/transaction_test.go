package allocation

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// abortAt is when the earlier call of a retried admission request fails
// and aborts, relative to the retried call.
type abortAt int

const (
	// abortAfterRetry: the retried call has answered with the MAC.
	abortAfterRetry abortAt = iota
	// abortDuringTakeover: between the retried call's read of the lease and
	// its write of it.
	abortDuringTakeover
	// abortBeforeRetry: the earlier call is over before the retried one
	// starts.
	abortBeforeRetry
)

// kube-apiserver may call the webhook again for the same admission request
// (same request UID) when the connection of the first call broke, while
// that first call still runs and may still fail. Its Abort must not free a
// lease whose MAC the retried call answered with: the object would be
// admitted with a MAC that has no lease, for the allocator to give to
// another. Whatever the order, a retried call that answers with the MAC
// leaves its lease stored, protected, not deleted and with its own token;
// otherwise it answers "try again".
func TestAbortOfAnEarlierCallOfARetriedRequest(t *testing.T) {
	ctx := context.Background()
	requested := mustParse(t, "02:00:00:00:00:10")
	retained := mustParse(t, retainedMAC)
	protectedRetained := retainedLease("a", "Pod", "db-0", "a/net1")
	protectedRetained.Finalizers = []string{macpool.MACProtectionFinalizer}
	request := func(address mac.Address) func(*Transaction) (mac.Address, error) {
		return func(tx *Transaction) (mac.Address, error) { return tx.Request(ctx, "a/net1", Network{}, address) }
	}
	allocate := func(tx *Transaction) (mac.Address, error) { return tx.Allocate(ctx, "a/net1", Network{}) }
	tests := []struct {
		name string
		// stored is there before the first call.
		stored *v1alpha1.MacLease
		// lease is what each call does: the same, since it is the same
		// request.
		lease   func(*Transaction) (mac.Address, error)
		address mac.Address
		abort   abortAt
		// terminating: the earlier call's delete leaves the lease
		// Terminating (its finalizer's removal failed).
		terminating  bool
		wantTryAgain bool
	}{
		{name: "a requested MAC, the earlier call aborting after the retried call answered",
			lease: request(requested), address: requested, abort: abortAfterRetry},
		{name: "a requested MAC, the earlier call aborting while the retried call takes the lease over",
			lease: request(requested), address: requested, abort: abortDuringTakeover, wantTryAgain: true},
		{name: "a requested MAC, the earlier call aborted first and its lease is gone",
			lease: request(requested), address: requested, abort: abortBeforeRetry},
		{name: "a requested MAC, the earlier call aborted first and its lease is Terminating",
			lease: request(requested), address: requested, abort: abortBeforeRetry, terminating: true, wantTryAgain: true},
		{name: "a retained MAC asked for, the earlier call aborting after the retried call answered",
			stored: protectedRetained, lease: request(retained), address: retained, abort: abortAfterRetry},
		{name: "a retained MAC reclaimed, the earlier call aborting after the retried call answered",
			stored: protectedRetained, lease: allocate, address: retained, abort: abortAfterRetry},
		{name: "a retained MAC reclaimed, the earlier call aborting while the retried call takes the lease over",
			stored: protectedRetained, lease: allocate, address: retained, abort: abortDuringTakeover, wantTryAgain: true},
		{name: "a retained MAC reclaimed, the earlier call aborted first",
			stored: protectedRetained, lease: allocate, address: retained, abort: abortBeforeRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *Service
			var store *memLeases
			if tt.stored != nil {
				s, store = stickyService(t, tt.stored)
			} else {
				s, store = stickyService(t)
			}
			store.keepTerminating = tt.terminating
			owner := podOwner("db-0", "request-1")

			earlier := s.Begin("a", owner, false)
			if got, err := tt.lease(earlier); err != nil || got != tt.address {
				t.Fatalf("the earlier call = %s, %v; want %s", got, err, tt.address)
			}
			switch tt.abort {
			case abortBeforeRetry:
				earlier.Abort(ctx)
			case abortDuringTakeover:
				store.beforeRewrite = func() { earlier.Abort(ctx) }
			}
			retried := s.Begin("a", owner, false)
			got, err := tt.lease(retried)
			if tt.abort == abortAfterRetry {
				earlier.Abort(ctx)
			}

			if tt.wantTryAgain {
				var notReady *NotReadyError
				if !errors.As(err, &notReady) || webhookCode(err) != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "try again") {
					t.Fatalf("the retried call = %s, %v; want a 503 that says try again", got, err)
				}
				return
			}
			if err != nil || got != tt.address {
				t.Fatalf("the retried call = %s, %v; want %s", got, err, tt.address)
			}
			lease := store.lease(tt.address.Name())
			switch {
			case lease == nil:
				t.Fatalf("the retried call answered with %s, whose lease is gone", tt.address)
			case lease.DeletionTimestamp != nil || !slices.Contains(lease.Finalizers, macpool.MACProtectionFinalizer):
				t.Errorf("the lease of the MAC the retried call answered with: deleted at %v, finalizers %v; want it kept and protected",
					lease.DeletionTimestamp, lease.Finalizers)
			case lease.Status.Phase != v1alpha1.MacLeasePhaseReserved || lease.Annotations[AttemptAnnotation] != retried.owner.attempt:
				t.Errorf("the lease: phase %s, token %q; want it Reserved with the retried call's token %q",
					lease.Status.Phase, lease.Annotations[AttemptAnnotation], retried.owner.attempt)
			}
		})
	}
}

// webhookCode is the HTTP status an error is answered with.
func webhookCode(err error) int32 {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return 0
	}
	return status.Status().Code
}

// A failed call releases the lease version it created and no other: a lease
// written since (taken over, bound, or created anew after a release) stays,
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
				if _, err := store.Rewrite(ctx, lease, Reclaim); err != nil {
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

// When both calls of a retried request fail, the lease the retried call took
// over is released by that call's Abort: the earlier call's version is gone,
// so nobody else would, and the request's next attempt would find its MAC
// held by "another object" until the reservation expired. A takeover that is
// written over again (a third call) is not the second call's to release.
func TestAbortOfATakeoverReleasesTheVersionItWrote(t *testing.T) {
	ctx := context.Background()
	requested := mustParse(t, "02:00:00:00:00:10")
	for _, third := range []bool{false, true} {
		name := "both calls fail"
		if third {
			name = "a third call took the lease over since"
		}
		t.Run(name, func(t *testing.T) {
			s, store := stickyService(t)
			owner := podOwner("db-0", "request-1")
			earlier := s.Begin("a", owner, false)
			if _, err := earlier.Request(ctx, "a/net1", Network{}, requested); err != nil {
				t.Fatal(err)
			}
			retried := s.Begin("a", owner, false)
			if _, err := retried.Request(ctx, "a/net1", Network{}, requested); err != nil {
				t.Fatal(err)
			}
			if third {
				if _, err := s.Begin("a", owner, false).Request(ctx, "a/net1", Network{}, requested); err != nil {
					t.Fatal(err)
				}
			}
			earlier.Abort(ctx)
			retried.Abort(ctx)
			lease := store.lease(requested.Name())
			switch {
			case !third && lease != nil:
				t.Errorf("after both calls failed: %+v; want the lease released", lease)
			case third && lease == nil:
				t.Errorf("the lease a third call took over was released by the second")
			}
		})
	}
}
