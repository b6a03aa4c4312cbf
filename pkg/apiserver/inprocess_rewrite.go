package apiserver

import (
	"context"
	"fmt"

	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

var _ allocation.LeaseRewriter = &inProcessLeases{}

// Rewrite replaces a lease, status included, in one write of the version it
// was read at, through the storage the controller binds with: the webhooks
// reclaim a retained address with it, so that of two admissions racing for
// it only one wins (the other gets a Conflict). The same admission chain and
// validation run as for Bind.
func (l *inProcessLeases) Rewrite(ctx context.Context, lease *v1alpha1.MacLease, why allocation.RewriteReason) (*v1alpha1.MacLease, error) {
	internal := &macpool.MacLease{}
	if err := l.scheme.Convert(lease, internal, nil); err != nil {
		return nil, fmt.Errorf("converting lease %s/%s: %w", lease.Namespace, lease.Name, err)
	}
	updated, err := l.update(ctx, internal)
	if err != nil {
		return nil, err
	}
	l.audit.record(ctx, rewriteAnnotations[why], lease.Namespace, lease.Name)
	return l.toVersioned(updated)
}
