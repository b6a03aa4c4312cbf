package plugin

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
)

// Completing a lease the controller adopted (no pool) with the backup's pool
// is an update MacLeaseReservationScope checks as a create since
// 2026-12-01, whoever sends it: for an address inside a pool that does not
// serve the namespace it answers 403. That is no missing RBAC right, which
// "kubectl auth can-i update macleases" would deny: the server's reason is
// printed, and the lease is left as adopted.
func TestRestoreNamesTheScopeRefusalOfAnUpdate(t *testing.T) {
	file := backupTo(t, fake.NewClientset(sourceObjects()...))
	adopted := lease("team-a", "0e:00:00:00:00:02", podOwner, boundTo("pod-uid"))
	target := fakeTarget(adopted)
	const refusal = `spec.macAddress: 0e:00:00:00:00:02 is inside MacPool "lab", which does not serve namespace "team-a"; ` +
		`a namespace may reserve an address only inside the pool that serves it (no pool) or outside every pool`
	target.PrependReactor("update", "macleases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		updated := action.(clienttesting.UpdateAction).GetObject().(*v1alpha1.MacLease)
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: v1alpha1.GroupName, Resource: "macleases"}, updated.Name, errorString(refusal))
	})
	_, errOut, code := run(t, target, "mine", "restore", "-f", file)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if !strings.Contains(errOut, "MacLease team-a/0e-00-00-00-00-02") || !strings.Contains(errOut, `which does not serve namespace "team-a"`) ||
		strings.Contains(errOut, "auth can-i") || strings.Contains(errOut, "ask for that RBAC right") {
		t.Errorf("stderr %q: want the server's reason for team-a/0e-00-00-00-00-02, not a missing RBAC right", errOut)
	}
}
