package allocation

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// AttemptAnnotation carries a token that one webhook call writes into the
// lease it creates: the admission request's UID, a slash and a random part
// drawn for the call (Owner.attempt). When a create's outcome is unknown
// (the storage answered 5xx, timed out, or the connection broke while an
// etcd member died), the create is repeated; an AlreadyExists answer whose
// lease carries this call's exact token (and interface) means the earlier
// attempt went through after all, and anybody else's lease means the
// address is taken. The request UID before the slash tells a call
// kube-apiserver retried from another object asking for the same MAC; the
// random part tells the retried call from the earlier one, which may still
// fail and release what it created (see takeOver). Leases written before
// the random part existed carry the request UID alone.
const AttemptAnnotation = macpool.AllocationAttemptAnnotation

const (
	// storageAttemptTimeout bounds one create of a lease, so that a request
	// stuck on a dead etcd member is given up and repeated in time.
	storageAttemptTimeout = 3 * time.Second
	// storageDeadlineMargin is kept free before the caller's deadline (the
	// webhook timeout kube-apiserver passes) so that the answer is a clear
	// denial rather than kube-apiserver's "context deadline exceeded".
	storageDeadlineMargin = 1500 * time.Millisecond
	// storageRetryBudget bounds the retries of a caller without a deadline.
	storageRetryBudget  = 20 * time.Second
	firstStorageBackoff = 50 * time.Millisecond
	maxStorageBackoff   = time.Second
)

// StorageUnavailableError is an allocation given up because the lease
// storage did not answer within the request's deadline, even after retries.
type StorageUnavailableError struct {
	Address mac.Address
	Tries   int
	Last    error
}

func (e *StorageUnavailableError) Error() string {
	return fmt.Sprintf("the MAC lease storage is unavailable (%d tries to lease %s failed; last: %v); try again later", e.Tries, e.Address, e.Last)
}

func (e *StorageUnavailableError) Unwrap() error { return e.Last }

// outcomeUnknown tells a failed create that may or may not have been
// stored, and may succeed when repeated, from a definite refusal.
func outcomeUnknown(err error) bool {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		return code >= 500 || code == 429
	}
	// Transport errors: connection refused or reset, EOF, a client-side
	// timeout of one attempt.
	return true
}

// createLeaseReliably creates the lease of address for owner, repeating a
// create whose outcome is unknown with backoff until it succeeds, is refused,
// or the deadline (the caller's less a margin) passes. It returns the stored
// lease when it is ours (its resourceVersion is the version a failed
// admission may release), an AlreadyExists error when someone else holds
// it, a *StorageUnavailableError when storage never answered, a
// *ReservationLimitError when the namespace may reserve no more, or the
// refusal.
func (s *Service) createLeaseReliably(ctx context.Context, namespace string, address mac.Address, poolName string, owner Owner, iface string) (*v1alpha1.MacLease, error) {
	if err := s.checkReservations(namespace); err != nil {
		return nil, err
	}
	token := owner.withAttempt().attempt
	deadline := time.Now().Add(storageRetryBudget)
	if d, ok := ctx.Deadline(); ok {
		deadline = d.Add(-storageDeadlineMargin)
	}
	backoff := firstStorageBackoff
	uncertain := false // an earlier attempt may have stored the lease
	for tries := 1; ; tries++ {
		created, err := s.createOnce(ctx, deadline, namespace, address, poolName, owner, iface, token)
		if err == nil {
			return created, nil
		}
		if apierrors.IsAlreadyExists(err) {
			if !uncertain {
				return nil, err
			}
			mine, getErr := s.ourLease(ctx, deadline, namespace, address, token, iface)
			switch {
			case getErr == nil && mine != nil:
				klog.InfoS("A lease create with an unknown outcome had gone through", "lease", address.Name(), "namespace", namespace, "tries", tries)
				return mine, nil
			case getErr == nil:
				return nil, err
			default:
				err = getErr
			}
		}
		if !outcomeUnknown(err) || ctx.Err() != nil {
			return nil, err
		}
		uncertain = true
		wait := min(backoff, time.Until(deadline))
		if wait <= 0 {
			return nil, &StorageUnavailableError{Address: address, Tries: tries, Last: err}
		}
		klog.InfoS("Repeating a lease create whose outcome is unknown", "lease", address.Name(), "namespace", namespace, "tries", tries, "err", err)
		select {
		case <-ctx.Done():
			return nil, &StorageUnavailableError{Address: address, Tries: tries, Last: err}
		case <-time.After(wait):
		}
		backoff = min(2*backoff, maxStorageBackoff)
	}
}

// createOnce is one create, bounded by storageAttemptTimeout and deadline.
func (s *Service) createOnce(ctx context.Context, deadline time.Time, namespace string, address mac.Address, poolName string, owner Owner, iface, token string) (*v1alpha1.MacLease, error) {
	attemptDeadline := time.Now().Add(storageAttemptTimeout)
	if deadline.Before(attemptDeadline) {
		attemptDeadline = deadline
	}
	ctx, cancel := context.WithDeadline(ctx, attemptDeadline)
	defer cancel()
	return s.createLease(ctx, namespace, address, poolName, owner, iface, token)
}

// ourLease reads the lease of address in namespace and returns it when it
// carries token, this call's own, for iface; nil when it does not. A lease
// in another namespace reads as NotFound: not ours. Only the exact token
// will do: a lease another call of the same request made (kube-apiserver
// retried it) is that call's to release, and this one takes it only through
// takeOver.
func (s *Service) ourLease(ctx context.Context, deadline time.Time, namespace string, address mac.Address, token, iface string) (*v1alpha1.MacLease, error) {
	attemptDeadline := time.Now().Add(storageAttemptTimeout)
	if deadline.Before(attemptDeadline) {
		attemptDeadline = deadline
	}
	ctx, cancel := context.WithDeadline(ctx, attemptDeadline)
	defer cancel()
	existing, err := s.leases.Get(ctx, namespace, address.Name())
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	case existing.Annotations[AttemptAnnotation] != token || existing.Spec.Interface != iface:
		return nil, nil
	}
	return existing, nil
}

// ownAttempt tells a lease that a call of the admission request with UID
// request made for iface: this call, or an earlier one kube-apiserver
// retried.
func ownAttempt(lease *v1alpha1.MacLease, request, iface string) bool {
	return request != "" && attemptRequest(lease.Annotations[AttemptAnnotation]) == request && lease.Spec.Interface == iface
}

// attemptRequest is the admission request UID of a token: the part before
// the slash, or all of a token written before calls had a part of their own.
func attemptRequest(token string) string {
	request, _, _ := strings.Cut(token, "/")
	return request
}

// withAttempt is owner with a token for one call (see AttemptAnnotation),
// drawn unless it has one already. The random part is what tells two calls
// of one admission request apart.
func (o Owner) withAttempt() Owner {
	if o.attempt == "" {
		o.attempt = string(o.Request) + "/" + rand.Text()
	}
	return o
}

// earlierCall tells a lease that another call of owner's admission request
// made or took: kube-apiserver retried the call, and the earlier one may
// still fail and release the version it wrote.
func earlierCall(lease *v1alpha1.MacLease, owner Owner) bool {
	token := lease.Annotations[AttemptAnnotation]
	return owner.Request != "" && token != owner.attempt && attemptRequest(token) == string(owner.Request)
}

// takeOver makes lease, made by an earlier call of owner's admission request
// (earlierCall), this call's before the call answers with its MAC: one write
// of the version read that puts this call's token in. The earlier call
// releases only the version it wrote (Service.release), so once this write
// is stored its release fails and the lease stays; if its release came
// first, this write fails. Either way a MAC admitted by this call keeps a
// lease. A failure to write is a "try again" (503) unless the storage
// refused the write for good: the next attempt finds the lease taken over,
// or gone and free to create again.
func (s *Service) takeOver(ctx context.Context, lease *v1alpha1.MacLease, owner Owner) (*v1alpha1.MacLease, error) {
	owner = owner.withAttempt()
	if lease.DeletionTimestamp != nil {
		return nil, &NotReadyError{Reason: fmt.Sprintf(
			"the lease of MAC address %s that an earlier call of this admission request made is being released", lease.Spec.MACAddress)}
	}
	rewriter, ok := s.leases.(LeaseRewriter)
	if !ok {
		return nil, &NotReadyError{Reason: fmt.Sprintf(
			"the lease of MAC address %s that an earlier call of this admission request made cannot be taken over here", lease.Spec.MACAddress)}
	}
	taken := lease.DeepCopy()
	taken.Annotations[AttemptAnnotation] = owner.attempt
	written, err := rewriter.Rewrite(ctx, taken, TakeOver)
	switch {
	case err == nil:
		klog.V(2).InfoS("Took over the lease of an earlier call of a retried admission request", "lease", klog.KObj(lease), "request", owner.Request)
		return written, nil
	case apierrors.IsNotFound(err):
		return nil, &NotReadyError{Reason: fmt.Sprintf(
			"the lease of MAC address %s that an earlier call of this admission request made was released meanwhile", lease.Spec.MACAddress)}
	default:
		return nil, temporary(fmt.Errorf("taking over the lease of MAC address %s from an earlier call of this admission request: %w", lease.Spec.MACAddress, err))
	}
}
