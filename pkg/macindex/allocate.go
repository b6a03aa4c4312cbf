package macindex

import (
	"context"
	"fmt"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// maxAttempts bounds how many candidates one Allocate call tries. Each failed
// attempt means the local index missed a lease, which only happens while the
// watch lags behind another replica; 64 misses in a row means something is
// wrong, and failing beats spinning.
const maxAttempts = 64

// Allocate claims a free MAC from pool. create must create the lease for the
// address in storage, and isTaken must recognise the error storage returns
// when a lease for it already exists (the API server caller passes
// apierrors.IsAlreadyExists; this package stays free of API server code).
//
// Losing the race for a candidate to another replica is normal: the address
// stays marked taken (the watch will confirm it) and the next one is tried.
// Any other create error releases the candidate and is returned.
func Allocate(ctx context.Context, pool *Pool, create func(context.Context, mac.Address) error, isTaken func(error) bool) (mac.Address, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("allocating a MAC from pool %q: %w", pool.Name(), err)
		}
		candidate, err := pool.Candidate()
		if err != nil {
			return 0, err
		}
		err = create(ctx, candidate)
		switch {
		case err == nil:
			return candidate, nil
		case isTaken(err):
			// Candidate already reserved it in the TakenSet, which is right:
			// another replica holds its lease.
			continue
		default:
			pool.Release(candidate)
			return 0, fmt.Errorf("MAC pool %q: creating the lease for %s: %w", pool.Name(), candidate, err)
		}
	}
	return 0, fmt.Errorf("MAC pool %q: gave up after %d candidates in a row were already leased by someone else: %w", pool.Name(), maxAttempts, ErrTooManyConflicts)
}
