package networkattachment

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Definitions the informer does not hold are read from kube-apiserver at a
// bounded rate, and one found missing is not read again for missingFor: a
// tenant naming definitions that do not exist in Pod after Pod gets "try
// again" rather than a read for each.
func TestLiveReadsAreBounded(t *testing.T) {
	// The resource not served: the informer never starts and every lookup
	// would go to kube-apiserver.
	l, _, gets := newLabels(t, func(context.Context) (bool, error) { return false, nil })
	now := time.Now()
	l.now = func() time.Time { return now }
	ctx := context.Background()

	for range 3 {
		if _, found, err := l.Labels(ctx, "infra", "infra", "missing"); found || err != nil {
			t.Fatalf("Labels(infra/missing) = %v, %v", found, err)
		}
	}
	if got := gets.Load(); got != 1 {
		t.Errorf("%d reads of one missing definition within %v, want 1", got, missingFor)
	}
	now = now.Add(missingFor)
	if _, _, err := l.Labels(ctx, "infra", "infra", "missing"); err != nil {
		t.Fatal(err)
	}
	if got := gets.Load(); got != 2 {
		t.Errorf("%d reads once %v passed, want 2", got, missingFor)
	}

	// Names that change with every lookup, for the objects of many
	// namespaces (each within its share): reads stop past the burst.
	var refused error
	for i := range 10 * liveReadBurst {
		if _, _, err := l.Labels(ctx, fmt.Sprintf("tenant-%d", i%10), "infra", fmt.Sprintf("made-up-%d", i)); err != nil {
			refused = err
			break
		}
	}
	if refused == nil || !strings.Contains(refused.Error(), "try again") {
		t.Fatalf("after %d lookups of made-up names: %v, want a refusal saying try again", 10*liveReadBurst, refused)
	}
	if got := gets.Load(); got > liveReadBurst+liveReadQPS {
		t.Errorf("%d reads of made-up names in one burst, want at most about %d", got, liveReadBurst)
	}
	// A definition that exists is still found once the rate allows (a
	// token every 1/liveReadQPS s).
	time.Sleep(2 * time.Second / liveReadQPS)
	expectLabels(t, l, "storage", map[string]string{"tier": "storage"}, true)
}

// One namespace naming definitions that do not exist, in any namespace it
// likes, uses up only its own share of the reads: another namespace's
// admission that needs a read (a definition created a moment ago) still
// gets it, rather than "try again".
func TestLiveReadsAreSharedBetweenNamespaces(t *testing.T) {
	l, _, _ := newLabels(t, func(context.Context) (bool, error) { return false, nil })
	now := time.Now()
	l.now = func() time.Time { return now }
	ctx := context.Background()

	refusedAfter := -1
	for i := range 10 * liveReadBurst {
		if _, _, err := l.Labels(ctx, "tenant", fmt.Sprintf("ns-%d", i), "made-up"); err != nil {
			refusedAfter = i
			break
		}
	}
	if refusedAfter < 0 || refusedAfter > requesterReadBurst {
		t.Fatalf("namespace tenant was refused after %d reads, want after at most %d", refusedAfter, requesterReadBurst)
	}
	got, found, err := l.Labels(ctx, "other", "infra", "storage")
	if err != nil || !found || got["tier"] != "storage" {
		t.Errorf("Labels for namespace other = %v, %v, %v; want the definition's labels", got, found, err)
	}
	// The tenant's share comes back with time.
	now = now.Add(time.Second)
	if _, _, err := l.Labels(ctx, "tenant", "infra", "storage"); err != nil {
		t.Errorf("a second later, namespace tenant is still refused: %v", err)
	}
}
