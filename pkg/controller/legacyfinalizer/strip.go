package legacyfinalizer

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/kubevirt"
)

// patchOperation is one RFC 6902 operation.
type patchOperation struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// removalPatch returns the JSON patch that removes every occurrence of
// Finalizer from finalizers, or nil if there is none. It first tests the
// whole list: kube-apiserver applies the patch to the stored object, so if
// another client added or removed a finalizer since finalizers was read
// the test fails (422) instead of the removal hitting the wrong index.
// Removals go from the last index down so that earlier ones do not shift.
func removalPatch(finalizers []string) ([]byte, error) {
	operations := []patchOperation{{Op: "test", Path: "/metadata/finalizers", Value: finalizers}}
	for i := len(finalizers) - 1; i >= 0; i-- {
		if finalizers[i] == Finalizer {
			operations = append(operations, patchOperation{Op: "remove", Path: fmt.Sprintf("/metadata/finalizers/%d", i)})
		}
	}
	if len(operations) == 1 {
		return nil, nil
	}
	return json.Marshal(operations)
}

// strip removes Finalizer from the VirtualMachine namespace/name, whose
// finalizers were last seen as finalizers. A failed test (the list changed)
// or a conflict re-reads the object from kube-apiserver and tries again;
// the informer may lag behind and would only fail the same way.
func (c *Controller) strip(ctx context.Context, namespace, name string, finalizers []string) error {
	client := c.client.Resource(kubevirt.VirtualMachines).Namespace(namespace)
	stale := func(err error) bool { return apierrors.IsInvalid(err) || apierrors.IsConflict(err) }
	return retry.OnError(retry.DefaultRetry, stale, func() error {
		patch, err := removalPatch(finalizers)
		if err != nil || patch == nil {
			return err
		}
		_, err = client.Patch(ctx, name, types.JSONPatchType, patch, metav1.PatchOptions{})
		switch {
		case err == nil:
			klog.InfoS("Removed the legacy finalizer of the original Kubemacpool", "virtualMachine", klog.KRef(namespace, name), "finalizer", Finalizer)
			return nil
		case apierrors.IsNotFound(err):
			return nil
		case !stale(err):
			return fmt.Errorf("removing finalizer %s from VirtualMachine %s/%s: %w", Finalizer, namespace, name, err)
		}
		current, getErr := client.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(getErr):
			return nil
		case getErr != nil:
			return fmt.Errorf("reading VirtualMachine %s/%s after %v: %w", namespace, name, err, getErr)
		}
		finalizers = current.Finalizers
		return err
	})
}
