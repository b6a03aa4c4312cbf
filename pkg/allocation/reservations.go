package allocation

import (
	"fmt"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LimitReservations caps the Reserved leases of one namespace, the leases made
// at admission whose objects have not appeared yet; 0 sets no cap. Call it
// before the first allocation.
//
// A reservation is bound within moments when its object is stored. The
// reservations of an object that a later admission step rejects (the pod quota
// kube-apiserver checks after the mutating webhooks, its validation, another
// webhook) stay for --reservation-ttl. A tenant who sends Pods its pod quota
// refuses could otherwise keep any number of MACs, up to --max-macs-per-object
// each, out of a shared pool, with no lease quota set.
//
// The count is the lease informer's, so requests racing in one namespace may
// pass it by the leases they create at the same time, never by more.
func (s *Service) LimitReservations(perNamespace int) { s.maxReservations = int64(perNamespace) }

// ReservationLimitError is a lease refused because its namespace holds as many
// reservations as it may. It passes as those are bound or expire.
type ReservationLimitError struct {
	Namespace       string
	Reserved, Limit int64
}

func (e *ReservationLimitError) Error() string {
	return fmt.Sprintf("namespace %q holds %d MAC reservations of objects that have not been stored (at most %d, --max-reservations-per-namespace): "+
		"a reservation is bound when its Pod or VirtualMachine is stored, and released --reservation-ttl after a later admission step (quota, validation) rejected it; try again later",
		e.Namespace, e.Reserved, e.Limit)
}

// Status is a 429: the namespace asks for MACs faster than its objects are
// stored; the same request succeeds once its reservations are bound or expire.
func (e *ReservationLimitError) Status() metav1.Status {
	return failure(http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests, e.Error())
}

// checkReservations refuses a new lease in namespace while it holds its
// limit of reservations.
func (s *Service) checkReservations(namespace string) error {
	if s.maxReservations <= 0 {
		return nil
	}
	if reserved := s.counts.reserved.of(namespace); reserved >= s.maxReservations {
		return &ReservationLimitError{Namespace: namespace, Reserved: reserved, Limit: s.maxReservations}
	}
	return nil
}
