package allocation

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	versionedfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
)

func phaseLease(namespace, name string, phase v1alpha1.MacLeasePhase) *v1alpha1.MacLease {
	return &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       v1alpha1.MacLeaseSpec{Pool: macpool.DefaultPoolName},
		Status:     v1alpha1.MacLeaseStatus{Phase: phase},
	}
}

// Reserved leases are counted by namespace from the informer's events, in
// either version, until they are bound or gone; a deleted reservation that
// the finalizer keeps still holds its MAC, so it still counts.
func TestCountReserved(t *testing.T) {
	var counts leaseCounts
	reserved := phaseLease("a", "02-00-00-00-00-01", v1alpha1.MacLeasePhaseReserved)
	internal := &macpool.MacLease{}
	if err := v1alpha1.Convert_v1alpha1_MacLease_To_macpool_MacLease(phaseLease("a", "02-00-00-00-00-02", v1alpha1.MacLeasePhaseReserved), internal, nil); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		obj     interface{}
		deleted bool
		a, b    int64
	}{
		{"a reservation", reserved, false, 1, 0},
		{"the same reservation again (an update)", reserved, false, 1, 0},
		{"an internal one", internal, false, 2, 0},
		{"another namespace's", phaseLease("b", "02-00-00-00-00-03", v1alpha1.MacLeasePhaseReserved), false, 2, 1},
		{"a bound lease", phaseLease("a", "02-00-00-00-00-04", v1alpha1.MacLeasePhaseBound), false, 2, 1},
		{"the first one deleted but kept by its finalizer", func() *v1alpha1.MacLease {
			terminating := reserved.DeepCopy()
			terminating.DeletionTimestamp = &metav1.Time{}
			return terminating
		}(), false, 2, 1},
		{"the first one bound", phaseLease("a", "02-00-00-00-00-01", v1alpha1.MacLeasePhaseBound), false, 1, 1},
		{"the internal one gone, through a tombstone", cache.DeletedFinalStateUnknown{Key: "a/02-00-00-00-00-02", Obj: internal}, true, 0, 1},
		{"b's gone", phaseLease("b", "02-00-00-00-00-03", v1alpha1.MacLeasePhaseReserved), true, 0, 0},
	}
	for _, step := range steps {
		counts.observe(step.obj, step.deleted)
		if a, b := counts.reserved.of("a"), counts.reserved.of("b"); a != step.a || b != step.b {
			t.Fatalf("after %s: reserved a=%d b=%d, want a=%d b=%d", step.name, a, b, step.a, step.b)
		}
	}
	if n := len(counts.reserved.byKey) + len(counts.reserved.count); n != 0 {
		t.Errorf("the tally keeps %d entries with nothing counted", n)
	}
}

// A namespace that holds its limit of reservations gets no new lease, by
// allocation or by a requested MAC: a 429 that names the namespace and the
// flag, with nothing stored. Other namespaces are not affected, and the
// namespace leases again once a reservation is bound.
func TestReservationLimit(t *testing.T) {
	client := versionedfake.NewSimpleClientset()
	namespaces := []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, {ObjectMeta: metav1.ObjectMeta{Name: "b"}}}
	s := testService(t, client, nil, true, namespaces...)
	s.LimitReservations(2)
	owner := Owner{APIVersion: "v1", Kind: "Pod", Name: "p"}
	ctx := context.Background()

	var created []string
	for range 2 {
		address, err := s.Allocate(ctx, "a", owner, "net1", Network{}, false)
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, address.Name())
		// What the informer delivers.
		s.counts.observe(phaseLease("a", address.Name(), v1alpha1.MacLeasePhaseReserved), false)
	}

	stored := func(namespace string) int {
		list, err := client.MacpoolV1alpha1().MacLeases(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(list.Items)
	}
	assertLimited := func(what string, err error) {
		t.Helper()
		var limited *ReservationLimitError
		if !errors.As(err, &limited) || !apierrors.IsTooManyRequests(err) {
			t.Fatalf("%s: %v, want a ReservationLimitError", what, err)
		}
		var status apierrors.APIStatus
		if !errors.As(err, &status) || status.Status().Code != http.StatusTooManyRequests {
			t.Fatalf("%s: status %v, want 429", what, status)
		}
		for _, part := range []string{`namespace "a" holds 2 MAC reservations`, "at most 2", "--max-reservations-per-namespace", "try again"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("%s: %q does not say %q", what, err, part)
			}
		}
	}
	_, err := s.Allocate(ctx, "a", owner, "net2", Network{}, false)
	assertLimited("an allocation", err)
	_, err = s.Claim(ctx, "a", owner, "net2", Network{}, mustParse(t, "02:00:00:00:00:80"), false)
	assertLimited("a requested MAC", err)
	if n := stored("a"); n != 2 {
		t.Errorf("%d leases stored in a, want the 2 reservations", n)
	}
	if _, err := s.Allocate(ctx, "a", owner, "net2", Network{}, true); err != nil {
		t.Errorf("a dry run, which leases nothing: %v", err)
	}
	// What needs no new lease is not limited: a static reservation of the
	// namespace, and a MAC the object leased already (a call retried).
	static := mustParse(t, "02:00:00:00:00:90")
	if _, err := client.MacpoolV1alpha1().MacLeases("a").Create(ctx, &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: static.Name()}, Spec: v1alpha1.MacLeaseSpec{MACAddress: static.String()}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if claim, err := s.Claim(ctx, "a", owner, "net3", Network{}, static, false); err != nil || claim.Outcome != StaticReservation {
		t.Errorf("a static reservation at the limit: %+v, %v", claim, err)
	}
	retried := Owner{APIVersion: "v1", Kind: "Pod", Name: "p", Request: "request-1"}
	own := mustParse(t, "02:00:00:00:00:91")
	if _, err := client.MacpoolV1alpha1().MacLeases("a").Create(ctx, &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: own.Name(), Annotations: map[string]string{AttemptAnnotation: "request-1"}},
		Spec:       v1alpha1.MacLeaseSpec{MACAddress: own.String(), Interface: "net4", Owner: &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "p"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if claim, err := s.Claim(ctx, "a", retried, "net4", Network{}, own, false); err != nil || claim.Outcome != AlreadyOwned {
		t.Errorf("the object's own MAC at the limit: %+v, %v", claim, err)
	}

	if _, err := s.Allocate(ctx, "b", owner, "net1", Network{}, false); err != nil {
		t.Errorf("another namespace: %v", err)
	}

	s.counts.observe(phaseLease("a", created[0], v1alpha1.MacLeasePhaseBound), false)
	if _, err := s.Allocate(ctx, "a", owner, "net2", Network{}, false); err != nil {
		t.Errorf("after a bind: %v", err)
	}

	s.LimitReservations(0)
	s.counts.observe(phaseLease("a", "02-00-00-00-00-f0", v1alpha1.MacLeasePhaseReserved), false)
	s.counts.observe(phaseLease("a", "02-00-00-00-00-f1", v1alpha1.MacLeasePhaseReserved), false)
	if _, err := s.Allocate(ctx, "a", owner, "net3", Network{}, false); err != nil {
		t.Errorf("without a limit: %v", err)
	}
}
