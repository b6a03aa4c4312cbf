package localcluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
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

// shortHTTPClient bounds a readiness check that hangs.
var shortHTTPClient = &http.Client{Timeout: 5 * time.Second}

// checkGet passes when GET url through client answers 200 with a body that
// contains want (anything, when want is empty).
func checkGet(ctx context.Context, client *http.Client, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// etcdHealthy is the answer of a healthy etcd member's /health, which takes a
// raft leader, hence a quorum.
const etcdHealthy = `"health":"true"`
