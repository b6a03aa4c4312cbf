package webhook

import (
	"errors"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// StatusCode is the HTTP status a denial for err answers with: the one err
// carries (apierrors.APIStatus: the allocation errors and kube-apiserver's)
// when it is a 4xx or a 503 (try again), else 422, which blames the object. A
// webhook denial is the object's answer; other server errors of the lease
// storage have already been retried into a 503 by then.
func StatusCode(err error) int32 {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		if code >= 400 && code < 500 || code == http.StatusServiceUnavailable {
			return code
		}
	}
	return http.StatusUnprocessableEntity
}
