package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"

	"kubemacpool.io/kubemacpool/pkg/kubevirt"
)

// liveOwners answers the allocator's question whether a lease's owner
// exists with a read of its metadata from kube-apiserver. It is asked only
// when an object is created under the name of one whose lease is still
// Bound under a retention policy, so a cache of every Pod on every replica
// would cost far more than the reads.
type liveOwners struct {
	metadata metadata.Interface
}

func (o liveOwners) OwnerExists(ctx context.Context, namespace, kind, name string) (bool, error) {
	var resource schema.GroupVersionResource
	switch kind {
	case "Pod":
		resource = corev1.SchemeGroupVersion.WithResource("pods")
	case kubevirt.KindVirtualMachine:
		resource = kubevirt.VirtualMachines
	default:
		// A kind the webhooks do not admit: taken as existing, which
		// reclaims nothing.
		return true, nil
	}
	_, err := o.metadata.Resource(resource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("reading %s %s/%s: %w", kind, namespace, name, err)
}
