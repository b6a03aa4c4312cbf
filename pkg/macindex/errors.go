package macindex

import (
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ExhaustedError reports that every unicast address in a pool's ranges is
// leased (or reserved by an allocation in flight).
type ExhaustedError struct {
	Pool string
	// Capacity is the number of unicast addresses in the pool's ranges.
	Capacity uint64
}

func (e *ExhaustedError) Error() string {
	switch e.Capacity {
	case 0:
		return fmt.Sprintf("MAC pool %q is exhausted: its ranges hold no unicast addresses", e.Pool)
	case 1:
		return fmt.Sprintf("MAC pool %q is exhausted: its only address is leased", e.Pool)
	}
	return fmt.Sprintf("MAC pool %q is exhausted: all %d addresses are leased", e.Pool, e.Capacity)
}

var _ apierrors.APIStatus = &ExhaustedError{}

// Status is a 409 Conflict, as kube-apiserver answers an exhausted Service IP
// range: the request is fine, the pool's state refuses it.
func (e *ExhaustedError) Status() metav1.Status {
	return metav1.Status{Status: metav1.StatusFailure, Code: http.StatusConflict, Reason: metav1.StatusReasonConflict, Message: e.Error()}
}

// ErrTooManyConflicts is wrapped by Allocate when every candidate it tried
// turned out to be leased already, which means the local index is far behind
// storage (or many replicas are racing for the same addresses). Retrying
// later is reasonable; the pool itself need not be full.
var ErrTooManyConflicts = errors.New("too many allocation conflicts")
