package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// crdBaselineFile defines MacLease again as a CustomResource of a group of
// its own, so that it can live next to the aggregated API.
const crdBaselineFile = "testdata/crdbaseline-macleases.yaml"

var (
	crdResource      = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	crdLeaseResource = schema.GroupVersionResource{Group: "crdbaseline.kubemacpool.io", Version: "v1alpha1", Resource: "macleases"}
)

var (
	crdOnce sync.Once
	crdErr  error
)

// installCRDBaseline creates the CustomResourceDefinition once per run and
// waits until kube-apiserver serves it: Established, and a first object
// created and deleted.
func installCRDBaseline(ctx context.Context, e *env) error {
	crdOnce.Do(func() { crdErr = installCRD(ctx, e) })
	return crdErr
}

func installCRD(ctx context.Context, e *env) error {
	data, err := os.ReadFile(crdBaselineFile)
	if err != nil {
		return err
	}
	crd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &crd.Object); err != nil {
		return fmt.Errorf("decoding %s: %w", crdBaselineFile, err)
	}
	if _, err := e.dynamic.Resource(crdResource).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the CRD baseline: %w", err)
	}
	if err := waitFor(ctx, "CRD "+crd.GetName()+" to be Established", time.Minute, 100*time.Millisecond, func(ctx context.Context) error {
		current, err := e.dynamic.Resource(crdResource).Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		conditions, _, _ := unstructured.NestedSlice(current.Object, "status", "conditions")
		for _, c := range conditions {
			condition, _ := c.(map[string]interface{})
			if condition["type"] == "Established" && condition["status"] == "True" {
				return nil
			}
		}
		return fmt.Errorf("not Established yet")
	}); err != nil {
		return err
	}
	leases := e.dynamic.Resource(crdLeaseResource).Namespace(nsLeases)
	mac := macAddress(0x0e, int(opSequence.Add(1)))
	return waitFor(ctx, "kube-apiserver to serve "+crdLeaseResource.String(), time.Minute, 100*time.Millisecond, func(ctx context.Context) error {
		lease, err := crdLease(mac, "crd-sample")
		if err != nil {
			return err
		}
		if _, err := leases.Create(ctx, lease, metav1.CreateOptions{}); err != nil {
			return err
		}
		return leases.Delete(ctx, lease.GetName(), metav1.DeleteOptions{})
	})
}

// crdLease is newLease(mac, owner) as an object of the CRD baseline: the
// same fields, values and encoding (JSON), another group.
func crdLease(mac, owner string) (*unstructured.Unstructured, error) {
	object, err := runtime.DefaultUnstructuredConverter.ToUnstructured(newLease(mac, owner))
	if err != nil {
		return nil, err
	}
	lease := &unstructured.Unstructured{Object: object}
	lease.SetAPIVersion(crdLeaseResource.GroupVersion().String())
	lease.SetKind("MacLease")
	return lease, nil
}
