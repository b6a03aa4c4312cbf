package allocation

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

var _ LeaseRewriter = clientLeases{}

// Rewrite writes spec and metadata, then the status. Through the API that
// takes two requests; the first one carries the resourceVersion precondition,
// so a lease changed since it was read is still a Conflict. The server
// rewrites in process, in one write.
func (c clientLeases) Rewrite(ctx context.Context, lease *v1alpha1.MacLease, _ RewriteReason) (*v1alpha1.MacLease, error) {
	leases := c.client.MacpoolV1alpha1().MacLeases(lease.Namespace)
	status := lease.Status
	updated, err := leases.Update(ctx, lease, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	updated.Status = status
	return leases.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
}
