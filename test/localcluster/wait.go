package localcluster

import (
	"context"
	"fmt"
	"time"
)

const pollInterval = 250 * time.Millisecond

// waitUntil calls ready until it returns nil. It gives up when ctx ends, when
// timeout passes, or when watched (if not nil) exits, since then it will never
// become ready. The last reason ready gave is part of the error.
func waitUntil(ctx context.Context, what string, timeout time.Duration, watched *process, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var exited <-chan struct{}
	if watched != nil {
		exited = watched.exited
	}
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		lastErr := ready(ctx)
		if lastErr == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("waiting for %s: %w", what, watched.exitError())
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last check: %v)", what, ctx.Err(), lastErr)
		case <-ticker.C:
		}
	}
}
