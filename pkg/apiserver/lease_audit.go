package apiserver

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apiserver/pkg/audit"

	"kubemacpool.io/kubemacpool/pkg/allocation"
)

// The audit annotations of the lease writes a webhook call makes.
const (
	leaseCreatedAnnotation = "macpool.kubemacpool.io/lease-created"
	leaseDeletedAnnotation = "macpool.kubemacpool.io/lease-deleted"
	// leaseReclaimedAnnotation: a retained lease taken back by its owner.
	leaseReclaimedAnnotation = "macpool.kubemacpool.io/lease-reclaimed"
	// leaseRestoredAnnotation: a lease the call reclaimed, put back as it
	// was because the admission failed.
	leaseRestoredAnnotation = "macpool.kubemacpool.io/lease-restored"
	// leaseTakenOverAnnotation: a lease an earlier call of the same
	// admission request wrote, made this call's (kube-apiserver repeated it).
	leaseTakenOverAnnotation = "macpool.kubemacpool.io/lease-taken-over"
)

// rewriteAnnotations are the audit annotations of each reason for a rewrite.
var rewriteAnnotations = map[allocation.RewriteReason]string{
	allocation.Reclaim:  leaseReclaimedAnnotation,
	allocation.Restore:  leaseRestoredAnnotation,
	allocation.TakeOver: leaseTakenOverAnnotation,
}

// leaseAudit records each lease write of a webhook call as an annotation of
// that call's audit event: key for the first write, then key-2, key-3, ...
// An annotation cannot be changed once set, and one call writes a lease per
// interface or network (a VM with two interfaces, two leases): under one key,
// only the first was recorded, and the audit log missed the others.
type leaseAudit struct {
	// mu makes finding a free key and setting it one step; the audit
	// context locks each of them alone.
	mu sync.Mutex
}

// record annotates ctx's audit event with key (or the first free key-N) =
// namespace/name; the same write recorded twice keeps one annotation.
func (a *leaseAudit) record(ctx context.Context, key, namespace, name string) {
	event := audit.AuditContextFrom(ctx)
	if !event.Enabled() {
		return
	}
	value := namespace + "/" + name
	a.mu.Lock()
	defer a.mu.Unlock()
	free := key
	for n := 2; ; n++ {
		existing, set := event.GetEventAnnotation(free)
		if !set || existing == value {
			break
		}
		free = fmt.Sprintf("%s-%d", key, n)
	}
	audit.AddAuditAnnotation(ctx, free, value)
}
