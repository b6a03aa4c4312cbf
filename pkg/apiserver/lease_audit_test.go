package apiserver

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"

	"k8s.io/apiserver/pkg/audit"

	"kubemacpool.io/kubemacpool/pkg/allocation"
)

// Every lease write of one call gets an annotation of its own, the first
// under the key itself; recording the same write again adds nothing.
func TestLeaseAuditRecordsEveryWrite(t *testing.T) {
	ctx := audit.WithAuditContext(context.Background())
	var a leaseAudit
	a.record(ctx, leaseCreatedAnnotation, "ns", "02-00-00-00-00-01")
	a.record(ctx, leaseCreatedAnnotation, "ns", "02-00-00-00-00-02")
	a.record(ctx, leaseCreatedAnnotation, "ns", "02-00-00-00-00-02")
	a.record(ctx, leaseDeletedAnnotation, "ns", "02-00-00-00-00-03")
	a.record(ctx, leaseCreatedAnnotation, "ns", "02-00-00-00-00-04")
	got := audit.AuditContextFrom(ctx).GetEventAnnotations()
	want := map[string]string{
		leaseCreatedAnnotation:        "ns/02-00-00-00-00-01",
		leaseCreatedAnnotation + "-2": "ns/02-00-00-00-00-02",
		leaseCreatedAnnotation + "-3": "ns/02-00-00-00-00-04",
		leaseDeletedAnnotation:        "ns/02-00-00-00-00-03",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("annotations %v, want %v", got, want)
	}
}

// Writes recorded at the same time still get one key each.
func TestLeaseAuditConcurrentWrites(t *testing.T) {
	ctx := audit.WithAuditContext(context.Background())
	var a leaseAudit
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Go(func() { a.record(ctx, leaseCreatedAnnotation, "ns", fmt.Sprintf("02-00-00-00-00-%02x", i)) })
	}
	wg.Wait()
	var values []string
	for _, value := range audit.AuditContextFrom(ctx).GetEventAnnotations() {
		values = append(values, value)
	}
	sort.Strings(values)
	if len(values) != 32 || values[0] != "ns/02-00-00-00-00-00" || values[31] != "ns/02-00-00-00-00-1f" {
		t.Fatalf("%d annotations: %v, want the 32 writes", len(values), values)
	}
}

// Without an audit context (a write outside any request) nothing happens.
func TestLeaseAuditWithoutAuditContext(t *testing.T) {
	var a leaseAudit
	a.record(context.Background(), leaseCreatedAnnotation, "ns", "02-00-00-00-00-01")
}

// Each reason for a rewrite has an audit annotation of its own: a takeover
// or a restore recorded as a reclaim would tell the auditor a retained
// lease was taken back when it was not.
func TestEveryRewriteReasonHasItsOwnAnnotation(t *testing.T) {
	seen := map[string]allocation.RewriteReason{}
	for _, why := range []allocation.RewriteReason{allocation.Reclaim, allocation.Restore, allocation.TakeOver} {
		key := rewriteAnnotations[why]
		if key == "" {
			t.Errorf("reason %d has no audit annotation", why)
			continue
		}
		if other, found := seen[key]; found {
			t.Errorf("reasons %d and %d share the audit annotation %s", other, why, key)
		}
		seen[key] = why
	}
}
