package allocation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	versionedfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/macindex"
	"kubemacpool.io/kubemacpool/pkg/retention"
)

// memLeases is lease storage with the semantics the reclaim and the release
// rely on: one key per address whatever the namespace, a lease of another
// namespace reads as NotFound, a rewrite of a version that is not the stored
// one is a Conflict, and so is a delete whose preconditions name another
// version. A delete takes the protection finalizer with it, as the server's
// in-process Delete does, except from a lease with node holds, which stays
// Terminating. The fake clientset checks no resourceVersion.
type memLeases struct {
	mu      sync.Mutex
	version int
	leases  map[string]*v1alpha1.MacLease
	// index is the informer's view, kept current on every write.
	index cache.Indexer
	// keepTerminating makes every delete only mark the lease, as when the
	// removal of the protection finalizer after it failed.
	keepTerminating bool
	// beforeRewrite, when set, runs once, before the next rewrite is
	// stored: another writer acting in between.
	beforeRewrite func()
}

func newMemLeases(leases ...*v1alpha1.MacLease) *memLeases {
	m := &memLeases{leases: map[string]*v1alpha1.MacLease{},
		index: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{ownerIndex: indexOwner})}
	for _, lease := range leases {
		m.store(lease.DeepCopy())
	}
	return m
}

func (m *memLeases) store(lease *v1alpha1.MacLease) *v1alpha1.MacLease {
	m.version++
	lease.ResourceVersion = strconv.Itoa(m.version)
	if lease.UID == "" {
		lease.UID = types.UID("uid-" + lease.ResourceVersion)
	}
	m.leases[lease.Name] = lease
	_ = m.index.Update(lease.DeepCopy())
	return lease.DeepCopy()
}

func (m *memLeases) Create(_ context.Context, lease *v1alpha1.MacLease) (*v1alpha1.MacLease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, found := m.leases[lease.Name]; found {
		return nil, apierrors.NewAlreadyExists(macpool.Resource("macleases"), lease.Name)
	}
	created := lease.DeepCopy()
	created.UID = ""
	return m.store(created), nil
}

func (m *memLeases) Get(_ context.Context, namespace, name string) (*v1alpha1.MacLease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	lease, found := m.leases[name]
	if !found || lease.Namespace != namespace {
		return nil, apierrors.NewNotFound(macpool.Resource("macleases"), name)
	}
	return lease.DeepCopy(), nil
}

func (m *memLeases) Delete(_ context.Context, namespace, name string, preconditions metav1.Preconditions) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	lease, found := m.leases[name]
	if !found || lease.Namespace != namespace {
		return apierrors.NewNotFound(macpool.Resource("macleases"), name)
	}
	if preconditions.UID != nil && *preconditions.UID != lease.UID ||
		preconditions.ResourceVersion != nil && *preconditions.ResourceVersion != lease.ResourceVersion {
		return apierrors.NewConflict(macpool.Resource("macleases"), name, fmt.Errorf("the precondition does not match the stored version"))
	}
	if _, held := lease.Annotations[macpool.NodeHoldsAnnotation]; held || m.keepTerminating {
		marked := lease.DeepCopy()
		now := metav1.Now()
		marked.DeletionTimestamp = &now
		m.store(marked)
		return nil
	}
	delete(m.leases, name)
	_ = m.index.Delete(lease)
	return nil
}

func (m *memLeases) Rewrite(_ context.Context, lease *v1alpha1.MacLease, _ RewriteReason) (*v1alpha1.MacLease, error) {
	if hook := m.takeBeforeRewrite(); hook != nil {
		hook()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	stored, found := m.leases[lease.Name]
	if !found || stored.Namespace != lease.Namespace {
		return nil, apierrors.NewNotFound(macpool.Resource("macleases"), lease.Name)
	}
	if stored.ResourceVersion != lease.ResourceVersion {
		return nil, apierrors.NewConflict(macpool.Resource("macleases"), lease.Name, fmt.Errorf("the object has been modified"))
	}
	return m.store(lease.DeepCopy()), nil
}

func (m *memLeases) takeBeforeRewrite() func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	hook := m.beforeRewrite
	m.beforeRewrite = nil
	return hook
}

func (m *memLeases) lease(name string) *v1alpha1.MacLease {
	m.mu.Lock()
	defer m.mu.Unlock()
	if lease, found := m.leases[name]; found {
		return lease.DeepCopy()
	}
	return nil
}

const retainedMAC = "02:00:00:00:00:42"

var retainedUntil = metav1.NewTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))

func retainedLease(namespace, kind, name, iface string) *v1alpha1.MacLease {
	address, _ := mac.Parse(retainedMAC)
	return &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: address.Name(), Namespace: namespace},
		Spec: v1alpha1.MacLeaseSpec{MACAddress: address.String(), Pool: macpool.DefaultPoolName, Interface: iface,
			Owner: &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: kind, Name: name}},
		Status: v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseRetained, ExpiresAt: &retainedUntil},
	}
}

// stickyService is a synced service over memory storage holding leases, the
// default pool retaining for a day.
func stickyService(t *testing.T, leases ...*v1alpha1.MacLease) (*Service, *memLeases) {
	t.Helper()
	var namespaces []*corev1.Namespace
	for _, name := range []string{"a", "b"} {
		namespaces = append(namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	}
	s := testService(t, versionedfake.NewSimpleClientset(), nil, true, namespaces...)
	store := newMemLeases(leases...)
	s.leases, s.owners = store, store.index
	s.pools[macpool.DefaultPoolName].retention = 24 * time.Hour
	for _, lease := range leases {
		s.taken.Add(mustParse(t, lease.Spec.MACAddress))
	}
	return s, store
}

func podOwner(name, request string) Owner {
	return Owner{APIVersion: "v1", Kind: "Pod", Name: name, Request: types.UID(request)}
}

// An object created again gets its retained address on the same network;
// another namespace, network, name or kind, or a generated name, never.
func TestReclaimRetainedAddress(t *testing.T) {
	bound := retainedLease("a", "Pod", "db-0", "a/net1")
	bound.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseBound}
	boundWithOwner := bound.DeepCopy()
	boundWithOwner.OwnerReferences = []metav1.OwnerReference{{Kind: "Pod", Name: "db-0", UID: "old"}}
	optedOut := bound.DeepCopy()
	optedOut.Annotations = map[string]string{retention.ObjectAnnotation: retention.OptOut}
	generated := podOwner("db-", "r1")
	generated.Generated = true
	deleting := retainedLease("a", "Pod", "db-0", "a/net1")
	deletedAt := metav1.Now()
	deleting.DeletionTimestamp = &deletedAt
	heldByANode := retainedLease("a", "Pod", "db-0", "a/net1")
	heldByANode.Annotations = map[string]string{macpool.NodeHoldsAnnotation: `[{"node":"node-1","pod":"db-0","stoppedBy":"2026-12-01T18:00:00Z"}]`}
	tests := []struct {
		name      string
		lease     *v1alpha1.MacLease
		namespace string
		owner     Owner
		iface     string
		want      bool
	}{
		{name: "same namespace, kind, name and network", lease: retainedLease("a", "Pod", "db-0", "a/net1"), namespace: "a", owner: podOwner("db-0", "r1"), iface: "a/net1", want: true},
		{name: "another namespace", lease: retainedLease("a", "Pod", "db-0", "a/net1"), namespace: "b", owner: podOwner("db-0", "r1"), iface: "a/net1"},
		{name: "another network", lease: retainedLease("a", "Pod", "db-0", "a/net1"), namespace: "a", owner: podOwner("db-0", "r1"), iface: "a/net2"},
		{name: "another name", lease: retainedLease("a", "Pod", "db-0", "a/net1"), namespace: "a", owner: podOwner("db-1", "r1"), iface: "a/net1"},
		{name: "another kind", lease: retainedLease("a", "VirtualMachine", "db-0", "a/net1"), namespace: "a", owner: podOwner("db-0", "r1"), iface: "a/net1"},
		{name: "a generateName prefix", lease: retainedLease("a", "Pod", "db-", "a/net1"), namespace: "a", owner: generated, iface: "a/net1"},
		{name: "bound with owner references", lease: boundWithOwner, namespace: "a", owner: podOwner("db-0", "r1"), iface: "a/net1"},
		{name: "bound, opted out of retention", lease: optedOut, namespace: "a", owner: podOwner("db-0", "r1"), iface: "a/net1"},
		{name: "retained but deleted (Terminating until nothing carries the MAC)", lease: deleting, namespace: "a", owner: podOwner("db-0", "r1"), iface: "a/net1"},
		{name: "retained while a node may still run the removed Pod with it", lease: heldByANode, namespace: "a", owner: podOwner("db-0", "r1"), iface: "a/net1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, store := stickyService(t, tt.lease)
			transaction := s.Begin(tt.namespace, tt.owner, false)
			got, err := transaction.Allocate(context.Background(), tt.iface, Network{})
			if err != nil {
				t.Fatal(err)
			}
			if (got.String() == retainedMAC) != tt.want {
				t.Fatalf("Allocate = %s; want the retained address: %v", got, tt.want)
			}
			lease := store.lease(tt.lease.Name)
			if !tt.want {
				if lease.Namespace != tt.lease.Namespace || lease.Status.Phase != tt.lease.Status.Phase || lease.Annotations[AttemptAnnotation] != "" {
					t.Errorf("the retained lease changed: %+v", lease)
				}
				return
			}
			if lease.Status.Phase != v1alpha1.MacLeasePhaseReserved || lease.Status.ExpiresAt == nil ||
				attemptRequest(lease.Annotations[AttemptAnnotation]) != string(tt.owner.Request) || lease.Annotations[retention.RetainedUntilAnnotation] == "" ||
				len(lease.OwnerReferences) != 0 || lease.Spec.Owner.Name != "db-0" {
				t.Errorf("reclaimed lease = %+v", lease)
			}
			if tt.lease.Status.Phase == v1alpha1.MacLeasePhaseRetained && lease.Annotations[retention.RetainedUntilAnnotation] != "2030-01-02T03:04:05Z" {
				t.Errorf("retained-until = %q, want the retention's end", lease.Annotations[retention.RetainedUntilAnnotation])
			}
		})
	}
}

// owners is an OwnerLookup with one answer for every object.
type owners struct {
	exists bool
	err    error
	asked  int
}

func (o *owners) OwnerExists(context.Context, string, string, string) (bool, error) {
	o.asked++
	return o.exists, o.err
}

// An object created under the name of one whose lease is still Bound (the
// lease controller has not seen the old one go) gets the retained address
// only once the controller has retained the lease: before that only the
// controller knows whether a node may still run the old object with the MAC
// (a StatefulSet Pod removed with --force on a partitioned node, created
// again at once), and it writes that onto the lease first.
func TestReclaimWaitsForTheLeaseController(t *testing.T) {
	defer func(wait time.Duration) { retentionWait = wait }(retentionWait)
	retentionWait = 300 * time.Millisecond
	bound := retainedLease("a", "Pod", "db-0", "a/net1")
	bound.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseBound}
	holds := `[{"node":"node-1","pod":"db-0","stoppedBy":"2026-12-01T18:00:00Z"}]`
	tests := []struct {
		name string
		// controller is what the lease controller writes 50 ms into the
		// admission; nil writes nothing.
		controller func(*v1alpha1.MacLease)
		owners     *owners
		// want is the retained address; wantErr "try again"; neither
		// another address.
		want, wantErr bool
		// wantWait: the admission waited for the controller.
		wantWait bool
	}{
		{name: "the controller retains the lease: the retained address", owners: &owners{},
			controller: func(l *v1alpha1.MacLease) {
				l.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseRetained, ExpiresAt: &retainedUntil}
			},
			want: true, wantWait: true},
		{name: "the controller holds it for a node that may still run the old Pod: another address", owners: &owners{},
			controller: func(l *v1alpha1.MacLease) {
				l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: holds}
				l.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseRetained, ExpiresAt: &retainedUntil}
			},
			wantWait: true},
		{name: "holds written, not retained yet: the admission waits on, and is told to try again", owners: &owners{},
			controller: func(l *v1alpha1.MacLease) { l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: holds} },
			wantErr:    true, wantWait: true},
		{name: "the controller does not retain it in time: try again", owners: &owners{}, wantErr: true, wantWait: true},
		{name: "without a lookup, the same wait", controller: func(l *v1alpha1.MacLease) {
			l.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseRetained, ExpiresAt: &retainedUntil}
		}, want: true, wantWait: true},
		{name: "the old object still exists (the create fails): another address, at once", owners: &owners{exists: true}},
		{name: "the lookup fails: try again", owners: &owners{err: errors.New(`pods "db-0" is forbidden: User "system:serviceaccount:kubemacpool-system:kubemacpool" cannot get resource "pods"`)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, store := stickyService(t, bound)
			if tt.owners != nil {
				s.UseOwnerLookup(tt.owners)
			}
			name := bound.Name
			if tt.controller != nil {
				timer := time.AfterFunc(50*time.Millisecond, func() {
					lease := store.lease(name)
					tt.controller(lease)
					if _, err := store.Rewrite(context.Background(), lease, Reclaim); err != nil {
						t.Error(err)
					}
				})
				defer timer.Stop()
			}
			start := time.Now()
			got, err := s.Begin("a", podOwner("db-0", "r1"), false).Allocate(context.Background(), "a/net1", Network{})
			elapsed := time.Since(start)
			var notReady *NotReadyError
			switch {
			case tt.wantErr:
				if !errors.As(err, &notReady) || !strings.Contains(err.Error(), "try again") {
					t.Fatalf("Allocate = %s, %v; want try again", got, err)
				}
				if tt.owners != nil && tt.owners.err != nil && strings.Contains(err.Error(), "serviceaccount") {
					t.Errorf("the answer %q shows the requester what kube-apiserver told the server", err)
				}
			case err != nil:
				t.Fatal(err)
			case (got.String() == retainedMAC) != tt.want:
				t.Fatalf("Allocate = %s; want the retained address: %v", got, tt.want)
			}
			if waited := elapsed >= 40*time.Millisecond; waited != tt.wantWait {
				t.Errorf("the admission took %s; want a wait for the controller: %v", elapsed, tt.wantWait)
			}
			if tt.owners != nil && tt.owners.asked != 1 {
				t.Errorf("the owner was looked up %d times, want once", tt.owners.asked)
			}
			lease := store.lease(name)
			if tt.want != (lease.Status.Phase == v1alpha1.MacLeasePhaseReserved && attemptRequest(lease.Annotations[AttemptAnnotation]) == "r1") {
				t.Errorf("lease after the admission = %+v %+v", lease.Status, lease.Annotations)
			}
		})
	}
}

// Two admissions of the same object racing for one retained address: one
// gets it, the other is told to try again; never both.
func TestReclaimRace(t *testing.T) {
	for round := 0; round < 50; round++ {
		s, store := stickyService(t, retainedLease("a", "Pod", "db-0", "a/net1"))
		var wg sync.WaitGroup
		results := make([]mac.Address, 2)
		errs := make([]error, 2)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = s.Begin("a", podOwner("db-0", fmt.Sprintf("request-%d", i)), false).Allocate(context.Background(), "a/net1", Network{})
			}()
		}
		wg.Wait()
		winners := 0
		for i := range results {
			var notReady *NotReadyError
			switch {
			case errs[i] == nil && results[i].String() == retainedMAC:
				winners++
			case errors.As(errs[i], &notReady) && strings.Contains(errs[i].Error(), "try again"):
			default:
				t.Fatalf("round %d: request %d = %s, %v; want the retained address or try again", round, i, results[i], errs[i])
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d admissions got the retained address, want exactly 1", round, winners)
		}
		lease := store.lease(mustParse(t, retainedMAC).Name())
		if request := attemptRequest(lease.Annotations[AttemptAnnotation]); request != "request-0" && request != "request-1" {
			t.Fatalf("round %d: the lease carries a token of request %q", round, request)
		}
	}
}

// A reclaim by an admission that is over (rejected later in the chain) is
// taken over by the next create of the object; kube-apiserver's retry of the
// same call gets the same address, and writes its own token into the lease
// so that the earlier call's restore, of the version it wrote, fails.
func TestReclaimTakeoverAndRetry(t *testing.T) {
	s, store := stickyService(t, retainedLease("a", "Pod", "db-0", "a/net1"))
	name := mustParse(t, retainedMAC).Name()
	if _, err := s.Begin("a", podOwner("db-0", "r1"), false).Allocate(context.Background(), "a/net1", Network{}); err != nil {
		t.Fatal(err)
	}
	earlier := store.lease(name)
	if got, err := s.Begin("a", podOwner("db-0", "r1"), false).Allocate(context.Background(), "a/net1", Network{}); err != nil || got.String() != retainedMAC {
		t.Fatalf("retried call = %s, %v", got, err)
	}
	if retried := store.lease(name); retried.ResourceVersion == earlier.ResourceVersion ||
		retried.Annotations[AttemptAnnotation] == earlier.Annotations[AttemptAnnotation] || attemptRequest(retried.Annotations[AttemptAnnotation]) != "r1" {
		t.Errorf("after the retried call: version %s, token %q; want another version than %s, with another token of request r1 than %q",
			retried.ResourceVersion, retried.Annotations[AttemptAnnotation], earlier.ResourceVersion, earlier.Annotations[AttemptAnnotation])
	}
	if _, err := s.Begin("a", podOwner("db-0", "r2"), false).Allocate(context.Background(), "a/net1", Network{}); err == nil {
		t.Fatal("a second create within the grace took the reclaimed address")
	}
	// The first admission is long over.
	stale := store.lease(name)
	stale.Annotations[retention.ReclaimedAtAnnotation] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	if _, err := store.Rewrite(context.Background(), stale, Reclaim); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Begin("a", podOwner("db-0", "r3"), false).Allocate(context.Background(), "a/net1", Network{}); err != nil || got.String() != retainedMAC {
		t.Fatalf("create after the grace = %s, %v", got, err)
	}
	if lease := store.lease(name); attemptRequest(lease.Annotations[AttemptAnnotation]) != "r3" || lease.Annotations[retention.RetainedUntilAnnotation] != "2030-01-02T03:04:05Z" {
		t.Errorf("taken-over lease = %+v", lease.Annotations)
	}
}

// A denied admission puts its reclaimed leases back, Retained as before.
func TestAbortRestoresReclaimedLeases(t *testing.T) {
	s, store := stickyService(t, retainedLease("a", "Pod", "db-0", "a/net1"))
	transaction := s.Begin("a", podOwner("db-0", "r1"), false)
	if _, err := transaction.Allocate(context.Background(), "a/net1", Network{}); err != nil {
		t.Fatal(err)
	}
	transaction.Abort(context.Background())
	lease := store.lease(mustParse(t, retainedMAC).Name())
	if lease.Status.Phase != v1alpha1.MacLeasePhaseRetained || !lease.Status.ExpiresAt.Equal(&retainedUntil) || lease.Annotations[AttemptAnnotation] != "" {
		t.Errorf("after Abort: %+v %+v", lease.Status, lease.Annotations)
	}
}

// A dry run shows the retained address and writes nothing.
func TestReclaimDryRun(t *testing.T) {
	s, store := stickyService(t, retainedLease("a", "Pod", "db-0", "a/net1"))
	before := store.lease(mustParse(t, retainedMAC).Name()).ResourceVersion
	got, err := s.Begin("a", podOwner("db-0", "r1"), true).Allocate(context.Background(), "a/net1", Network{})
	if err != nil || got.String() != retainedMAC {
		t.Fatalf("dry run = %s, %v", got, err)
	}
	if store.lease(mustParse(t, retainedMAC).Name()).ResourceVersion != before {
		t.Error("a dry run wrote the lease")
	}
}

// A retained address asked for explicitly: the object it is retained for
// gets it back; for anyone else, in the namespace or another one, it is
// held elsewhere and the pool's conflictPolicy applies.
func TestRequestRetainedAddress(t *testing.T) {
	tests := []struct {
		name      string
		namespace string
		owner     Owner
		want      ClaimOutcome
	}{
		{name: "its owner", namespace: "a", owner: podOwner("db-0", "r1"), want: Reclaimed},
		{name: "another object of the namespace", namespace: "a", owner: podOwner("db-1", "r1"), want: HeldElsewhere},
		{name: "the same name in another namespace", namespace: "b", owner: podOwner("db-0", "r1"), want: HeldElsewhere},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, store := stickyService(t, retainedLease("a", "Pod", "db-0", "a/net1"))
			claim, err := s.Claim(context.Background(), tt.namespace, tt.owner, "a/net1", Network{}, mustParse(t, retainedMAC), false)
			if err != nil {
				t.Fatal(err)
			}
			if claim.Outcome != tt.want {
				t.Fatalf("outcome = %v, want %v", claim.Outcome, tt.want)
			}
			lease := store.lease(mustParse(t, retainedMAC).Name())
			if retained := lease.Status.Phase == v1alpha1.MacLeasePhaseRetained; retained != (tt.want != Reclaimed) || lease.Namespace != "a" {
				t.Errorf("lease = %s %s", lease.Namespace, lease.Status.Phase)
			}
			s.pools[macpool.DefaultPoolName].conflictPolicy = v1alpha1.ConflictPolicyReject
			_, err = s.Begin(tt.namespace, tt.owner, false).Request(context.Background(), "a/net1", Network{}, mustParse(t, retainedMAC))
			var conflict *ConflictError
			if tt.want == HeldElsewhere && !errors.As(err, &conflict) {
				t.Errorf("under Reject: %v, want a ConflictError", err)
			}
		})
	}
}

// An exhausted pool whose addresses are retained says so, and is still an
// exhausted pool (409); the retained address is not handed out.
func TestExhaustedByRetainedAddresses(t *testing.T) {
	s, _ := stickyService(t, retainedLease("a", "Pod", "db-0", "a/net1"))
	only := mustParse(t, retainedMAC)
	state, err := macindex.NewPool(macpool.DefaultPoolName, []mac.Range{{Start: only, End: only}}, s.taken, strings.NewReader(strings.Repeat("\x00", 64)))
	if err != nil {
		t.Fatal(err)
	}
	s.pools[macpool.DefaultPoolName].state = state
	s.counts = leaseCounts{}
	s.counts.observe(retainedLease("a", "Pod", "db-0", "a/net1"), false)

	_, err = s.Begin("b", podOwner("db-0", "r1"), false).Allocate(context.Background(), "b/net1", Network{})
	var exhausted *macindex.ExhaustedError
	var retained *RetainedExhaustedError
	if !errors.As(err, &exhausted) || !errors.As(err, &retained) || retained.Retained != 1 ||
		!strings.Contains(err.Error(), `1 of them are retained`) || !strings.Contains(err.Error(), `MacPool "default"`) {
		t.Fatalf("error = %v", err)
	}
}

// Retained leases are counted by pool from the informer's events.
func TestCountRetained(t *testing.T) {
	s := &Service{}
	lease := retainedLease("a", "Pod", "db-0", "a/net1")
	internal := &macpool.MacLease{}
	if err := v1alpha1.Convert_v1alpha1_MacLease_To_macpool_MacLease(lease, internal, nil); err != nil {
		t.Fatal(err)
	}
	s.counts.observe(internal, false)
	s.counts.observe(internal, false) // an update that keeps it Retained
	if got := s.retainedIn(macpool.DefaultPoolName); got != 1 {
		t.Fatalf("retained = %d, want 1", got)
	}
	reserved := internal.DeepCopy()
	reserved.Status.Phase = macpool.MacLeasePhaseReserved
	s.counts.observe(reserved, false)
	if got := s.retainedIn(macpool.DefaultPoolName); got != 0 {
		t.Fatalf("after reclaim: retained = %d, want 0", got)
	}
	s.counts.observe(internal, false)
	s.counts.observe(cache.DeletedFinalStateUnknown{Key: "a/" + lease.Name, Obj: internal}, true)
	if got := s.retainedIn(macpool.DefaultPoolName); got != 0 {
		t.Fatalf("after delete: retained = %d, want 0", got)
	}
}

// The owner index reads internal and v1alpha1 leases alike, without
// converting them, and leaves out a lease without an owner.
func TestLeaseOwnerKey(t *testing.T) {
	owner := &v1alpha1.LeaseOwner{Kind: "Pod", Name: "web-0"}
	for _, tc := range []struct {
		name   string
		lease  interface{}
		want   string
		wantOK bool
	}{
		{"v1alpha1", &v1alpha1.MacLease{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: v1alpha1.MacLeaseSpec{Owner: owner}}, "ns/Pod/web-0", true},
		{"internal", &macpool.MacLease{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: macpool.MacLeaseSpec{Owner: &macpool.LeaseOwner{Kind: "Pod", Name: "web-0"}}}, "ns/Pod/web-0", true},
		{"v1alpha1 without owner", &v1alpha1.MacLease{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}}, "", false},
		{"internal without owner", &macpool.MacLease{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}}, "", false},
		{"not a lease", &metav1.PartialObjectMetadata{}, "", false},
	} {
		got, ok := leaseOwnerKey(tc.lease)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: leaseOwnerKey = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
}

// The wait for the lease controller ends in time for the answer to reach
// kube-apiserver before the request's deadline (the webhook timeout it
// passes): past it, kube-apiserver answers the create with its own timeout
// (a 500 under failurePolicy Fail) instead of this admission's "try again".
// Each interface's wait counts against the same deadline.
func TestReclaimWaitEndsBeforeTheRequestDeadline(t *testing.T) {
	bound := retainedLease("a", "Pod", "db-0", "a/net1")
	bound.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseBound}
	s, _ := stickyService(t, bound)
	s.UseOwnerLookup(&owners{})
	deadline := time.Now().Add(storageDeadlineMargin + 300*time.Millisecond)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	_, err := s.Begin("a", podOwner("db-0", "r1"), false).Allocate(ctx, "a/net1", Network{})
	var notReady *NotReadyError
	if !errors.As(err, &notReady) {
		t.Fatalf("Allocate = %v; want try again", err)
	}
	if left := time.Until(deadline); left < storageDeadlineMargin-200*time.Millisecond {
		t.Errorf("the admission answered %s before its deadline; want about %s", left, storageDeadlineMargin)
	}
}

// countedLeases counts the reads of lease storage.
type countedLeases struct {
	*memLeases
	gets atomic.Int64
}

func (c *countedLeases) Get(ctx context.Context, namespace, name string) (*v1alpha1.MacLease, error) {
	c.gets.Add(1)
	return c.memLeases.Get(ctx, namespace, name)
}

// The wait for the lease controller watches the lease through the informer
// and reads storage only once that shows a change: a read of storage every
// 20 ms would make each create of a name whose lease the controller has not
// retained yet (every re-created StatefulSet Pod while no leader runs, or a
// tenant creating a name over and over) a hundred reads of etcd.
func TestReclaimWaitReadsStorageOnlyOnAChange(t *testing.T) {
	defer func(wait time.Duration) { retentionWait = wait }(retentionWait)
	retentionWait = 500 * time.Millisecond
	bound := retainedLease("a", "Pod", "db-0", "a/net1")
	bound.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseBound}
	s, store := stickyService(t, bound)
	counted := &countedLeases{memLeases: store}
	s.leases = counted
	s.UseOwnerLookup(&owners{})
	_, err := s.Begin("a", podOwner("db-0", "r1"), false).Allocate(context.Background(), "a/net1", Network{})
	var notReady *NotReadyError
	if !errors.As(err, &notReady) {
		t.Fatalf("Allocate = %v; want try again", err)
	}
	if gets := counted.gets.Load(); gets > 3 {
		t.Errorf("waiting %s for an unchanged lease read storage %d times", retentionWait, gets)
	}

	// Retained: read from storage, and reclaimed.
	s, store = stickyService(t, bound)
	counted = &countedLeases{memLeases: store}
	s.leases = counted
	s.UseOwnerLookup(&owners{})
	timer := time.AfterFunc(100*time.Millisecond, func() {
		lease := store.lease(bound.Name)
		lease.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseRetained, ExpiresAt: &retainedUntil}
		if _, err := store.Rewrite(context.Background(), lease, Reclaim); err != nil {
			t.Error(err)
		}
	})
	defer timer.Stop()
	got, err := s.Begin("a", podOwner("db-0", "r1"), false).Allocate(context.Background(), "a/net1", Network{})
	if err != nil || got.String() != retainedMAC {
		t.Fatalf("Allocate = %s, %v; want the retained address", got, err)
	}
}

// A dry run of an object created under the name of one whose lease is
// still Bound, but already held for a node that may still run the old
// object, shows what the create will get: another address, as it did
// before the reclaim waited for the lease controller (the holds came before
// the phase then).
func TestReclaimDryRunOfAHeldBoundLease(t *testing.T) {
	held := retainedLease("a", "Pod", "db-0", "a/net1")
	held.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseBound}
	held.Annotations = map[string]string{macpool.NodeHoldsAnnotation: `[{"node":"node-1","pod":"db-0","stoppedBy":"2026-12-01T18:00:00Z"}]`}
	s, _ := stickyService(t, held)
	got, err := s.Begin("a", podOwner("db-0", "r1"), true).Allocate(context.Background(), "a/net1", Network{})
	if err != nil || got.String() == retainedMAC {
		t.Errorf("dry run of Allocate = %s, %v; want another address", got, err)
	}
	claim, err := s.Claim(context.Background(), "a", podOwner("db-0", "r1"), "a/net1", Network{}, mustParse(t, retainedMAC), true)
	if err != nil || claim.Outcome != HeldElsewhere {
		t.Errorf("dry run of Claim = %v, %v; want HeldElsewhere", claim.Outcome, err)
	}
}

// failingRewrites is lease storage whose rewrites fail with err.
type failingRewrites struct {
	*memLeases
	err error
}

func (f *failingRewrites) Rewrite(context.Context, *v1alpha1.MacLease, RewriteReason) (*v1alpha1.MacLease, error) {
	return nil, f.err
}

// A reclaim that storage could not write, or that lost every race, is a
// "try again" (503), not a refusal of the object (422, which a server error
// becomes) nor a 409 the creator takes for a conflict of its own.
func TestReclaimStorageFailureIsTryAgain(t *testing.T) {
	for _, err := range []error{
		apierrors.NewInternalError(errors.New("etcdserver: request timed out")),
		apierrors.NewTimeoutError("request timed out", 1),
		apierrors.NewConflict(macpool.Resource("macleases"), "lease", errors.New("the object has been modified")),
		context.DeadlineExceeded,
	} {
		s, store := stickyService(t, retainedLease("a", "Pod", "db-0", "a/net1"))
		s.leases = &failingRewrites{memLeases: store, err: err}
		_, got := s.Begin("a", podOwner("db-0", "r1"), false).Allocate(context.Background(), "a/net1", Network{})
		var status apierrors.APIStatus
		if !errors.As(got, &status) || status.Status().Code != 503 {
			t.Errorf("a rewrite failing with %v: Allocate = %v; want a 503", err, got)
		}
	}
}

// conflictThenFailingReads is lease storage whose rewrites conflict and
// whose reads fail after the first.
type conflictThenFailingReads struct {
	*memLeases
	reads atomic.Int64
}

func (c *conflictThenFailingReads) Get(ctx context.Context, namespace, name string) (*v1alpha1.MacLease, error) {
	if c.reads.Add(1) > 1 {
		return nil, apierrors.NewInternalError(errors.New("etcdserver: leader changed"))
	}
	return c.memLeases.Get(ctx, namespace, name)
}

func (c *conflictThenFailingReads) Rewrite(context.Context, *v1alpha1.MacLease, RewriteReason) (*v1alpha1.MacLease, error) {
	return nil, apierrors.NewConflict(macpool.Resource("macleases"), "lease", errors.New("the object has been modified"))
}

// A reread after a lost race that fails is a "try again" too; it named the
// lease it had failed to read, a nil pointer (a panic in the webhook, which
// kube-apiserver saw as a broken call).
func TestReclaimFailedRereadIsTryAgain(t *testing.T) {
	s, store := stickyService(t, retainedLease("a", "Pod", "db-0", "a/net1"))
	s.leases = &conflictThenFailingReads{memLeases: store}
	_, err := s.Begin("a", podOwner("db-0", "r1"), false).Allocate(context.Background(), "a/net1", Network{})
	var notReady *NotReadyError
	if !errors.As(err, &notReady) {
		t.Errorf("Allocate = %v; want try again", err)
	}
}
