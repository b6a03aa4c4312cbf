package allocation

import (
	"context"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	versionedfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
)

// A denied admission's cleanup lets the lease it made go at once, unless the
// lease controller recorded node holds on it meanwhile: a removed Pod of the
// namespace may still run with the MAC, and the controller lets it go once
// its node proves it stopped it.
func TestReleaseLeavesALeaseWithNodeHolds(t *testing.T) {
	lease := &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "02-00-00-00-00-01", Finalizers: []string{macpool.MACProtectionFinalizer},
			Annotations: map[string]string{macpool.NodeHoldsAnnotation: `[{"node":"node-1","pod":"web","stoppedBy":"2026-12-01T18:00:00Z"}]`}},
		Spec: v1alpha1.MacLeaseSpec{MACAddress: "02:00:00:00:00:01"},
	}
	//nolint:staticcheck // NewSimpleClientset: no managed fields needed.
	client := versionedfake.NewSimpleClientset(lease)
	// As the storage deletes a lease with a finalizer: it marks it.
	client.PrependReactor("delete", "macleases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		name := action.(clienttesting.DeleteAction).GetName()
		obj, err := client.Tracker().Get(v1alpha1.Resource("macleases").WithVersion("v1alpha1"), "ns", name)
		if err != nil {
			return true, nil, err
		}
		marked := obj.(*v1alpha1.MacLease).DeepCopy()
		now := metav1.Now()
		marked.DeletionTimestamp = &now
		return true, nil, client.Tracker().Update(v1alpha1.Resource("macleases").WithVersion("v1alpha1"), marked, "ns")
	})
	if err := ClientLeases(client).Delete(context.Background(), "ns", lease.Name, metav1.Preconditions{UID: &lease.UID, ResourceVersion: &lease.ResourceVersion}); err != nil {
		t.Fatal(err)
	}
	stored, err := client.MacpoolV1alpha1().MacLeases("ns").Get(context.Background(), lease.Name, metav1.GetOptions{})
	if err != nil || !slices.Contains(stored.Finalizers, macpool.MACProtectionFinalizer) {
		t.Errorf("after the cleanup: %v, %+v; want the lease Terminating with the protection finalizer", err, stored)
	}
}
