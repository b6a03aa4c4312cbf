package allocation

import (
	"context"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	versionedfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

func defaultPool() *v1alpha1.MacPool {
	return &v1alpha1.MacPool{ObjectMeta: metav1.ObjectMeta{Name: macpool.DefaultPoolName, Generation: 3}}
}

func statusUpdates(client *versionedfake.Clientset) int {
	n := 0
	for _, action := range client.Actions() {
		if action.GetVerb() == "update" && action.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

func readPool(t *testing.T, client *versionedfake.Clientset) *v1alpha1.MacPool {
	t.Helper()
	pool, err := client.MacpoolV1alpha1().MacPools().Get(context.Background(), macpool.DefaultPoolName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// The test service's default pool has 256 addresses.
func TestStatusCountsThePoolAndSaysWhenItIsExhausted(t *testing.T) {
	client := versionedfake.NewSimpleClientset(defaultPool())
	s := testService(t, client, nil, true)
	ctx := context.Background()

	s.updateStatuses(ctx)
	status := readPool(t, client).Status
	if status.Capacity != 256 || status.Allocated != 0 || status.Free != 256 {
		t.Errorf("status of an empty pool = %d capacity, %d allocated, %d free; want 256, 0, 256", status.Capacity, status.Allocated, status.Free)
	}
	available := meta.FindStatusCondition(status.Conditions, conditionAvailable)
	if available == nil || available.Status != metav1.ConditionTrue || available.ObservedGeneration != 3 {
		t.Errorf("Available condition of an empty pool = %+v, want True for generation 3", available)
	}

	for i := 0; i < 256; i++ {
		s.taken.Add(mac.MustParse(fmt.Sprintf("02:00:00:00:00:%02x", i)))
	}
	s.updateStatuses(ctx)
	status = readPool(t, client).Status
	if status.Allocated != 256 || status.Free != 0 {
		t.Errorf("status of a full pool = %d allocated, %d free; want 256, 0", status.Allocated, status.Free)
	}
	available = meta.FindStatusCondition(status.Conditions, conditionAvailable)
	if available == nil || available.Status != metav1.ConditionFalse || available.Reason != "Exhausted" {
		t.Errorf("Available condition of a full pool = %+v, want False, Exhausted", available)
	}
}

// Every replica writes status every few seconds: an unchanged status is not
// written again.
func TestStatusIsNotRewrittenUnchanged(t *testing.T) {
	client := versionedfake.NewSimpleClientset(defaultPool())
	s := testService(t, client, nil, true)
	s.updateStatuses(context.Background())
	s.updateStatuses(context.Background())
	s.updateStatuses(context.Background())
	if got := statusUpdates(client); got != 1 {
		t.Errorf("%d status updates for three rounds of an unchanged pool, want 1", got)
	}
}

// Until the allocator has read every lease, its counts are wrong: no
// status is written.
func TestStatusWaitsForTheLeases(t *testing.T) {
	client := versionedfake.NewSimpleClientset(defaultPool())
	s := testService(t, client, nil, false)
	s.updateStatuses(context.Background())
	if got := statusUpdates(client); got != 0 {
		t.Errorf("%d status updates before the leases were read, want none", got)
	}
}

// Another replica's write (a conflict) or a pool deleted meanwhile is no
// error: the next round writes again if needed.
func TestStatusWriteToleratesRacesWithOtherWriters(t *testing.T) {
	for name, answer := range map[string]error{
		"conflict":  apierrors.NewConflict(v1alpha1.Resource("macpools"), macpool.DefaultPoolName, nil),
		"not found": apierrors.NewNotFound(v1alpha1.Resource("macpools"), macpool.DefaultPoolName),
	} {
		t.Run(name, func(t *testing.T) {
			client := versionedfake.NewSimpleClientset(defaultPool())
			client.PrependReactor("update", "macpools", func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, answer
			})
			s := testService(t, client, nil, true)
			if err := s.writeStatus(context.Background(), macpool.DefaultPoolName, 256, 1, 255, 0); err != nil {
				t.Errorf("writeStatus after a %s = %v, want nil", name, err)
			}
		})
	}
	client := versionedfake.NewSimpleClientset(defaultPool())
	client.PrependReactor("update", "macpools", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	s := testService(t, client, nil, true)
	if err := s.writeStatus(context.Background(), macpool.DefaultPoolName, 256, 1, 255, 0); !apierrors.IsServiceUnavailable(err) {
		t.Errorf("writeStatus when the storage is down = %v, want the 503 passed on", err)
	}
}
