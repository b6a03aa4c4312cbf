package allocation

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The allocation errors carry the HTTP status a webhook answers them with
// (apierrors.APIStatus), so that callers need no table of their own. The
// reasons are chosen so that apierrors' predicates stay true to the cause:
// a refused requested MAC is a Conflict (409), an excluded one Invalid (422),
// and storage or the allocator being unready ServiceUnavailable (503), which
// says "try again".
var (
	_ apierrors.APIStatus = &ConflictError{}
	_ apierrors.APIStatus = &ExcludedError{}
	_ apierrors.APIStatus = &StorageUnavailableError{}
	_ apierrors.APIStatus = &NotReadyError{}
	_ apierrors.APIStatus = &ReservationLimitError{}
)

// Status is a 409 Conflict: another object holds the MAC.
func (e *ConflictError) Status() metav1.Status {
	return failure(http.StatusConflict, metav1.StatusReasonConflict, e.Error())
}

// Status is a 422 Invalid: the requested MAC may not be leased here.
func (e *ExcludedError) Status() metav1.Status {
	return failure(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, e.Error())
}

// Status is a 503: storage did not answer; the same request may succeed later.
func (e *StorageUnavailableError) Status() metav1.Status {
	return failure(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, e.Error())
}

// Status is a 503: the allocator is not ready yet; try again.
func (e *NotReadyError) Status() metav1.Status {
	return failure(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, e.Error())
}

func failure(code int32, reason metav1.StatusReason, message string) metav1.Status {
	return metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: message}
}
