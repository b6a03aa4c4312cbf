package webhook_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kubemacpool.io/kubemacpool/pkg/admission/webhook"
	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/macindex"
)

// TestStatusCode pins the status of every denial the mutators give: the one
// each allocation error carries, the API's own for a refused lease create,
// and 422 for the rest.
func TestStatusCode(t *testing.T) {
	address := mac.Address(0x0200000000aa)
	leases := schema.GroupResource{Group: "macpool.kubemacpool.io", Resource: "macleases"}
	for _, tc := range []struct {
		name string
		err  error
		want int32
	}{
		{"a requested MAC another object holds (Reject)", &allocation.ConflictError{Address: address, Interface: "net1"}, http.StatusConflict},
		{"an exhausted pool", &macindex.ExhaustedError{Pool: "default", Capacity: 2}, http.StatusConflict},
		{"an excluded MAC", &allocation.ExcludedError{Address: address, Interface: "net1", Pool: "default"}, http.StatusUnprocessableEntity},
		{"lease storage unavailable", &allocation.StorageUnavailableError{Address: address, Tries: 3, Last: apierrors.NewTimeoutError("etcd", 1)}, http.StatusServiceUnavailable},
		{"the allocator loading", &allocation.NotReadyError{Reason: "loading"}, http.StatusServiceUnavailable},
		{"a namespace at its limit of reservations", &allocation.ReservationLimitError{Namespace: "ns", Reserved: 2, Limit: 2}, http.StatusTooManyRequests},
		{"wrapped", fmt.Errorf("interface net1: %w", &macindex.ExhaustedError{Pool: "p"}), http.StatusConflict},
		{"a namespace that is gone", apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "gone"), http.StatusNotFound},
		{"a ResourceQuota", apierrors.NewForbidden(leases, "02-00-00-00-00-aa", errors.New("exceeded quota")), http.StatusForbidden},
		{"a server error is not the object's answer", apierrors.NewInternalError(errors.New("boom")), http.StatusUnprocessableEntity},
		{"a plain error", errors.New("duplicate MAC address"), http.StatusUnprocessableEntity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := webhook.StatusCode(tc.err); got != tc.want {
				t.Errorf("StatusCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
	// The reasons keep apierrors' predicates true to the cause.
	if !apierrors.IsServiceUnavailable(&allocation.NotReadyError{Reason: "loading"}) ||
		apierrors.IsAlreadyExists(&macindex.ExhaustedError{Pool: "p"}) ||
		!apierrors.IsInvalid(&allocation.ExcludedError{Address: address}) ||
		!apierrors.IsTooManyRequests(&allocation.ReservationLimitError{Namespace: "ns"}) {
		t.Error("an allocation error's reason does not match its cause")
	}
}
