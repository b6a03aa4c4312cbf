package allocation

import (
	"context"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
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
	// Delete removes a lease that a denied admission created, and the
	// protection finalizer with it: the object that admission was for will
	// not carry the MAC, so the lease need not wait for its expiry. A
	// lease with node holds (macpool.NodeHoldsAnnotation) keeps the
	// finalizer: another Pod with the MAC may still run on a node.
	// preconditions name the version the admission created: any other
	// version (taken over by a retried call of the same request, bound, or
	// created anew) is a Conflict and stays as it is, finalizer included.
	Delete(ctx context.Context, namespace, name string, preconditions metav1.Preconditions) error
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

func (c clientLeases) Delete(ctx context.Context, namespace, name string, preconditions metav1.Preconditions) error {
	leases := c.client.MacpoolV1alpha1().MacLeases(namespace)
	if err := leases.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &preconditions}); err != nil {
		return err
	}
	// The delete answers no object through the clientset: the finalizer
	// comes off the lease read back, if it is still the one deleted.
	lease, err := leases.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	case preconditions.UID != nil && lease.UID != *preconditions.UID:
		// Gone and created anew meanwhile: not the lease deleted.
		return nil
	case !slices.Contains(lease.Finalizers, macpool.MACProtectionFinalizer):
		return nil
	}
	if _, held := lease.Annotations[macpool.NodeHoldsAnnotation]; held {
		// Node holds recorded meanwhile: the lease controller lets it go
		// once the nodes prove they stopped the removed Pods.
		return nil
	}
	lease.Finalizers = macpool.WithoutMACProtection(lease.Finalizers)
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
