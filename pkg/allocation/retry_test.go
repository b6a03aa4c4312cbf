package allocation

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

var leaseResource = schema.GroupResource{Group: "macpool.kubemacpool.io", Resource: "macleases"}

// flakyLeases is a lease store whose creates answer from a script. An
// answer may be stored anyway, the way a create whose reply was lost, or
// that timed out on the client, can still be committed by etcd.
type flakyLeases struct {
	mu      sync.Mutex
	script  []createAnswer
	stored  map[string]*v1alpha1.MacLease // by namespace/name
	creates int
	gets    int
	// afterFirstFailure, when set, runs once, after the first create that
	// answers with an error: another allocation acting meanwhile.
	afterFirstFailure func()
}

type createAnswer struct {
	err error
	// storedAnyway keeps the lease although err is returned.
	storedAnyway bool
}

func newFlakyLeases(script ...createAnswer) *flakyLeases {
	return &flakyLeases{script: script, stored: map[string]*v1alpha1.MacLease{}}
}

func (f *flakyLeases) Create(_ context.Context, lease *v1alpha1.MacLease) (*v1alpha1.MacLease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates++
	// The storage key is the MAC alone, whatever the namespace.
	for _, existing := range f.stored {
		if existing.Name == lease.Name {
			return nil, apierrors.NewAlreadyExists(leaseResource, lease.Name)
		}
	}
	answer := createAnswer{}
	if len(f.script) > 0 {
		answer, f.script = f.script[0], f.script[1:]
	}
	if answer.err == nil || answer.storedAnyway {
		f.stored[lease.Namespace+"/"+lease.Name] = lease.DeepCopy()
	}
	if answer.err != nil && f.afterFirstFailure != nil {
		f.afterFirstFailure()
		f.afterFirstFailure = nil
	}
	return lease, answer.err
}

func (f *flakyLeases) Get(_ context.Context, namespace, name string) (*v1alpha1.MacLease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	// A lease of another namespace reads as NotFound, as through the
	// namespace guard.
	lease, ok := f.stored[namespace+"/"+name]
	if !ok {
		return nil, apierrors.NewNotFound(leaseResource, name)
	}
	return lease.DeepCopy(), nil
}

func (f *flakyLeases) Delete(_ context.Context, namespace, name string, _ metav1.Preconditions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.stored, namespace+"/"+name)
	return nil
}

// hold stores a lease of address in namespace made by another allocation;
// the caller holds f.mu or owns f alone.
func (f *flakyLeases) hold(namespace string, address mac.Address, token, iface string) {
	f.stored[namespace+"/"+address.Name()] = &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: address.Name(), Annotations: map[string]string{AttemptAnnotation: token}},
		Spec:       v1alpha1.MacLeaseSpec{MACAddress: address.String(), Interface: iface},
	}
}

var (
	unavailable = apierrors.NewServiceUnavailable("etcdserver: leader changed")
	timedOut    = apierrors.NewTimeoutError("request did not complete within the allowed duration", 1)
	tooMany     = apierrors.NewTooManyRequests("storage is (re)initializing", 1)
	lostReply   = io.ErrUnexpectedEOF
	forbidden   = apierrors.NewForbidden(leaseResource, "02-00-00-00-00-07", errors.New("exceeded quota: maclease-count"))
)

func TestCreateLeaseReliably(t *testing.T) {
	address := mac.MustParse("02:00:00:00:00:07")
	owner := Owner{APIVersion: "v1", Kind: "Pod", Name: "web-0", Request: "request-1"}
	tests := []struct {
		name string
		// held, when set, is a lease of the address that another
		// allocation made before this one.
		held        *heldLease
		script      []createAnswer
		wantErr     func(error) bool
		wantStored  bool // our lease is in the store afterwards
		wantCreates int
		wantGets    int
	}{
		{
			name:        "stored at once",
			wantErr:     isNil,
			wantStored:  true,
			wantCreates: 1,
		},
		{
			name:        "a 503 that was not stored is repeated",
			script:      []createAnswer{{err: unavailable}},
			wantErr:     isNil,
			wantStored:  true,
			wantCreates: 2,
		},
		{
			name:        "a lost reply that was stored: the repeat finds our own lease",
			script:      []createAnswer{{err: lostReply, storedAnyway: true}},
			wantErr:     isNil,
			wantStored:  true,
			wantCreates: 2,
			wantGets:    1,
		},
		{
			name:        "a timeout and a 429 that were stored on the third try",
			script:      []createAnswer{{err: timedOut}, {err: tooMany, storedAnyway: true}},
			wantErr:     isNil,
			wantStored:  true,
			wantCreates: 3,
			wantGets:    1,
		},
		{
			name:        "held by another allocation in the same namespace: AlreadyExists, no read",
			held:        &heldLease{namespace: "blue", token: "request-0", iface: "net1"},
			wantErr:     apierrors.IsAlreadyExists,
			wantCreates: 1,
		},
		{
			name:        "after an unknown outcome, a lease with another token is not ours",
			held:        &heldLease{namespace: "blue", token: "request-0", iface: "net1", after: true},
			script:      []createAnswer{{err: unavailable}},
			wantErr:     apierrors.IsAlreadyExists,
			wantCreates: 2,
			wantGets:    1,
		},
		{
			name:        "after an unknown outcome, our token on another interface is not ours",
			held:        &heldLease{namespace: "blue", token: "request-1", iface: "net2", after: true},
			script:      []createAnswer{{err: unavailable}},
			wantErr:     apierrors.IsAlreadyExists,
			wantCreates: 2,
			wantGets:    1,
		},
		{
			// The other call may still fail and release its version: this
			// one takes the lease only through takeOver.
			name:        "after an unknown outcome, the lease of another call of the same request is not this call's",
			held:        &heldLease{namespace: "blue", token: "request-1/earlier-call", iface: "net1", after: true},
			script:      []createAnswer{{err: unavailable}},
			wantErr:     apierrors.IsAlreadyExists,
			wantCreates: 2,
			wantGets:    1,
		},
		{
			name:        "after an unknown outcome, a lease in another namespace reads as not found: not ours",
			held:        &heldLease{namespace: "red", token: "request-1", iface: "net1", after: true},
			script:      []createAnswer{{err: unavailable}},
			wantErr:     apierrors.IsAlreadyExists,
			wantCreates: 2,
			wantGets:    1,
		},
		{
			name:        "a definite refusal is not repeated",
			script:      []createAnswer{{err: forbidden}},
			wantErr:     apierrors.IsForbidden,
			wantCreates: 1,
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			leases := newFlakyLeases(test.script...)
			if test.held != nil && !test.held.after {
				leases.hold(test.held.namespace, address, test.held.token, test.held.iface)
			}
			if test.held != nil && test.held.after {
				// Another allocation takes the address while our first
				// create's outcome is unknown.
				held := test.held
				leases.afterFirstFailure = func() { leases.hold(held.namespace, address, held.token, held.iface) }
			}
			s := &Service{leases: leases}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			created, err := s.createLeaseReliably(ctx, "blue", address, "default", owner, "net1")

			if !test.wantErr(err) {
				t.Errorf("createLeaseReliably = %v", err)
			}
			if (created != nil) != (err == nil) {
				t.Errorf("createLeaseReliably returned lease %v with error %v: want the lease exactly when it is ours", created, err)
			}
			lease, getErr := leases.Get(ctx, "blue", address.Name())
			ours := getErr == nil && ownAttempt(lease, "request-1", "net1") && (test.held == nil || lease.Annotations[AttemptAnnotation] != test.held.token)
			if ours != test.wantStored {
				t.Errorf("our lease stored = %t, want %t (%v, %v)", ours, test.wantStored, lease, getErr)
			}
			if leases.creates != test.wantCreates || leases.gets-1 != test.wantGets {
				t.Errorf("%d creates and %d reads, want %d and %d", leases.creates, leases.gets-1, test.wantCreates, test.wantGets)
			}
		})
	}
}

type heldLease struct {
	namespace, token, iface string
	// after: the lease appears after our first create failed.
	after bool
}

func isNil(err error) bool { return err == nil }

// Storage that never answers within the webhook's deadline gives a
// *StorageUnavailableError that says to try again, in time for the webhook
// to answer before kube-apiserver's own timeout.
func TestCreateLeaseReliablyGivesUpBeforeTheDeadline(t *testing.T) {
	address := mac.MustParse("02:00:00:00:00:07")
	script := make([]createAnswer, 1000)
	for i := range script {
		script[i] = createAnswer{err: unavailable}
	}
	leases := newFlakyLeases(script...)
	s := &Service{leases: leases}
	ctx, cancel := context.WithTimeout(context.Background(), storageDeadlineMargin+400*time.Millisecond)
	defer cancel()
	started := time.Now()

	_, err := s.createLeaseReliably(ctx, "blue", address, "default", Owner{Kind: "Pod", Name: "web-0"}, "net1")

	var unavailableErr *StorageUnavailableError
	if !errors.As(err, &unavailableErr) {
		t.Fatalf("createLeaseReliably = %v, want a *StorageUnavailableError", err)
	}
	if unavailableErr.Tries < 2 || unavailableErr.Tries != leases.creates {
		t.Errorf("the error counts %d tries, the store saw %d creates; want the same, and more than one", unavailableErr.Tries, leases.creates)
	}
	if !errors.Is(err, unavailable) {
		t.Errorf("the error does not wrap the last answer: %v", err)
	}
	for _, want := range []string{"02:00:00:00:00:07", "try again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not contain %q", err, want)
		}
	}
	if elapsed, limit := time.Since(started), 400*time.Millisecond+200*time.Millisecond; elapsed > limit {
		t.Errorf("gave up after %s, want it within the deadline less the margin (about 400ms)", elapsed)
	}
}

func TestOutcomeUnknown(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{unavailable, true},
		{timedOut, true},
		{tooMany, true},
		{apierrors.NewInternalError(errors.New("etcd: request timed out")), true},
		{lostReply, true},
		{context.DeadlineExceeded, true},
		{apierrors.NewAlreadyExists(leaseResource, "x"), false},
		{forbidden, false},
		{apierrors.NewNotFound(leaseResource, "x"), false},
		{apierrors.NewInvalid(schema.GroupKind{Group: "macpool.kubemacpool.io", Kind: "MacLease"}, "x", nil), false},
		{apierrors.NewConflict(leaseResource, "x", errors.New("stale")), false},
	}
	for _, test := range tests {
		if got := outcomeUnknown(test.err); got != test.want {
			t.Errorf("outcomeUnknown(%v) = %t, want %t", test.err, got, test.want)
		}
	}
}
