package allocation

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
)

// Leases is where the service writes the leases it makes: in the server, the
// MacLease registry called in process (see pkg/apiserver), so that an
// admission costs no HTTP round trip to itself; in tests, a clientset.
//
// Every implementation must keep the API's semantics: validation, the
// namespace guard (a lease of another namespace reads as NotFound), the
// admission chain (quota and reservation scope) and the errors' HTTP status
// (AlreadyExists, NotFound, 5xx when the storage is in trouble).
type Leases interface {
	Create(ctx context.Context, lease *v1alpha1.MacLease) (*v1alpha1.MacLease, error)
	Get(ctx context.Context, namespace, name string) (*v1alpha1.MacLease, error)
	Delete(ctx context.Context, namespace, name string) error
}

// ClientLeases writes leases through a clientset.
func ClientLeases(client versioned.Interface) Leases { return clientLeases{client} }

type clientLeases struct{ client versioned.Interface }

func (c clientLeases) Create(ctx context.Context, lease *v1alpha1.MacLease) (*v1alpha1.MacLease, error) {
	return c.client.MacpoolV1alpha1().MacLeases(lease.Namespace).Create(ctx, lease, metav1.CreateOptions{})
}

func (c clientLeases) Get(ctx context.Context, namespace, name string) (*v1alpha1.MacLease, error) {
	return c.client.MacpoolV1alpha1().MacLeases(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (c clientLeases) Delete(ctx context.Context, namespace, name string) error {
	return c.client.MacpoolV1alpha1().MacLeases(namespace).Delete(ctx, name, metav1.DeleteOptions{})
}
