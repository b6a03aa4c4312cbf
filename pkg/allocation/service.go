package allocation

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	macinformers "kubemacpool.io/kubemacpool/pkg/generated/informers/externalversions/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/macindex"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

// Owner is the object a lease is made for, and the admission that makes it.
type Owner struct {
	APIVersion string
	Kind       string
	// Name, or the generateName prefix while the object has no name yet.
	Name string
	// UID of the object when it has one (an UPDATE); a CREATE's object
	// has none yet.
	UID types.UID
	// Request is the UID of the admission request. kube-apiserver keeps it
	// when it retries a call, so a lease that carries it (see
	// AttemptAnnotation) is this admission's own.
	Request types.UID
	// Generated is set when Name is a generateName prefix: such an object
	// has no name to reclaim a retained address by.
	Generated bool
	// attempt is the token of one webhook call of the request (see
	// AttemptAnnotation and withAttempt); Begin draws it.
	attempt string
}

// Service allocates addresses. It is safe for concurrent use.
type Service struct {
	// client updates pool status; leases go through leases.
	client     versioned.Interface
	leases     Leases
	namespaces corelisters.NamespaceLister
	// liveNamespaces reads a namespace the informer has not seen yet: a
	// namespace created a moment before its first pod.
	liveNamespaces typedcorev1.NamespacesGetter
	reservationTTL time.Duration
	synced         []cache.InformerSynced

	// taken is shared by all pools: an address is unique cluster-wide.
	taken *macindex.TakenSet

	mu    sync.RWMutex
	pools map[string]*pool

	// leasesSynced tells whether the lease informer has delivered every
	// stored lease; leaseNames lists their names from its store.
	leasesSynced cache.InformerSynced
	leaseNames   func() []string
	// preloaded is set once the index holds the names of every stored
	// lease, read from the storage's keys (see Preload).
	preloaded atomic.Bool

	metrics *metrics.Metrics

	// owners indexes the leases by owner, to reclaim retained addresses;
	// nil reclaims nothing.
	owners cache.Indexer
	// counts are the Retained leases by pool and the Reserved ones by
	// namespace.
	counts leaseCounts
	// maxReservations caps the Reserved leases of a namespace; 0 for no
	// cap (see LimitReservations).
	maxReservations int64
	// networkLabels reads the labels of NetworkAttachmentDefinitions; nil
	// while nothing follows them (see UseNetworkLabels).
	networkLabels NetworkLabels
	// ownerLookup reads whether a lease's owner exists (see
	// UseOwnerLookup); nil reads nothing.
	ownerLookup OwnerLookup
}

// pool is one MacPool as the allocator sees it.
type pool struct {
	state    *macindex.Pool
	selector labels.Selector // nil for a pool without namespaceSelector
	// networks is nil for a pool without networkSelector.
	networks       *networkMatcher
	conflictPolicy v1alpha1.ConflictPolicy
	// ranges are the pool's spec.ranges and exclude its spec.exclude; state
	// allocates from ranges without exclude.
	ranges, exclude []mac.Range
	// retention is spec.retention.duration.
	retention time.Duration
}

// New builds the service and registers its informer handlers. leases may hold
// MacLeases of any version, or only their metadata: the index needs only
// their names, which are the MACs. The informers are started by the caller;
// Allocate waits until they have synced.
func New(client versioned.Interface, leaseWriter Leases, leases cache.SharedIndexInformer, pools macinformers.MacPoolInformer,
	namespaces corelisters.NamespaceLister, namespacesSynced cache.InformerSynced, liveNamespaces typedcorev1.NamespacesGetter,
	reservationTTL time.Duration, metrics *metrics.Metrics) (*Service, error) {
	s := &Service{
		metrics:        metrics,
		client:         client,
		leases:         leaseWriter,
		namespaces:     namespaces,
		liveNamespaces: liveNamespaces,
		reservationTTL: reservationTTL,
		taken:          macindex.NewTakenSet(),
		pools:          map[string]*pool{},
	}
	leaseRegistration, err := leases.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { s.observeLease(obj, true) },
		DeleteFunc: func(obj interface{}) { s.observeLease(obj, false) },
	})
	if err != nil {
		return nil, fmt.Errorf("watching MacLeases: %w", err)
	}
	poolRegistration, err := pools.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { s.observePool(obj) },
		UpdateFunc: func(_, obj interface{}) { s.observePool(obj) },
		DeleteFunc: func(obj interface{}) { s.forgetPool(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("watching MacPools: %w", err)
	}
	if err := s.watchRetained(leases); err != nil {
		return nil, err
	}
	s.synced = []cache.InformerSynced{poolRegistration.HasSynced, namespacesSynced}
	s.leasesSynced = leaseRegistration.HasSynced
	s.leaseNames = func() []string {
		keys := leases.GetStore().ListKeys()
		names := make([]string, 0, len(keys))
		for _, key := range keys {
			if _, name, err := cache.SplitMetaNamespaceKey(key); err == nil {
				names = append(names, name)
			}
		}
		return names
	}
	return s, nil
}

// HasSynced reports whether the index holds every lease and pool; the server
// is not ready before, since an allocation could pick a leased address. The
// leases are there once preloaded from their names, or once the informer has
// delivered them.
func (s *Service) HasSynced() bool {
	if !s.preloaded.Load() && !s.leasesSynced() {
		return false
	}
	for _, synced := range s.synced {
		if !synced() {
			return false
		}
	}
	return true
}

func (s *Service) observeLease(obj interface{}, added bool) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	lease, err := meta.Accessor(obj)
	if err != nil {
		klog.ErrorS(err, "Ignoring an object that is not a MacLease", "type", fmt.Sprintf("%T", obj))
		return
	}
	// Validation makes the name the dash form of spec.macAddress.
	address, err := mac.Parse(lease.GetName())
	if err != nil {
		klog.ErrorS(err, "Ignoring a MacLease whose name is not a MAC", "lease", klog.KObj(lease))
		return
	}
	if added {
		s.taken.Add(address)
	} else {
		s.taken.Remove(address)
	}
}

func (s *Service) observePool(obj interface{}) {
	macPool, ok := obj.(*v1alpha1.MacPool)
	if !ok {
		return
	}
	ranges, err := parseRanges(macPool.Spec.Ranges)
	if err != nil {
		klog.ErrorS(err, "Ignoring a MacPool with an invalid range", "pool", macPool.Name)
		return
	}
	exclude, err := parseRanges(macPool.Spec.Exclude)
	if err != nil {
		klog.ErrorS(err, "Ignoring a MacPool with an invalid excluded range", "pool", macPool.Name)
		return
	}
	allocatable := macindex.WithoutExcluded(ranges, exclude)
	var selector labels.Selector
	if macPool.Spec.NamespaceSelector != nil {
		var err error
		if selector, err = metav1.LabelSelectorAsSelector(macPool.Spec.NamespaceSelector); err != nil {
			klog.ErrorS(err, "Ignoring a MacPool with an invalid namespace selector", "pool", macPool.Name)
			return
		}
	}
	networks, err := parseNetworkSelector(macPool.Spec.NetworkSelector)
	if err != nil {
		klog.ErrorS(err, "Ignoring a MacPool with an invalid network selector", "pool", macPool.Name)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	existing, found := s.pools[macPool.Name]
	if found {
		if err := existing.state.SetRanges(allocatable); err != nil {
			klog.ErrorS(err, "Keeping the old ranges of a MacPool", "pool", macPool.Name)
			return
		}
		existing.selector, existing.conflictPolicy = selector, macPool.Spec.ConflictPolicy
		existing.networks = networks
		existing.ranges, existing.exclude = ranges, exclude
		existing.retention = poolRetention(macPool)
		return
	}
	state, err := macindex.NewPool(macPool.Name, allocatable, s.taken, rand.Reader)
	if err != nil {
		klog.ErrorS(err, "Ignoring a MacPool", "pool", macPool.Name)
		return
	}
	s.pools[macPool.Name] = &pool{state: state, selector: selector, networks: networks, conflictPolicy: macPool.Spec.ConflictPolicy, ranges: ranges, exclude: exclude,
		retention: poolRetention(macPool)}
}

// snapshot copies the fields a pool update replaces, so that a request
// reads one consistent version of them without holding the lock; state is
// shared, it has a lock of its own.
func (p *pool) snapshot() *pool {
	copied := *p
	return &copied
}

func parseRanges(ranges []v1alpha1.MACRange) ([]mac.Range, error) {
	parsed := make([]mac.Range, 0, len(ranges))
	for _, r := range ranges {
		addressRange, err := mac.ParseRange(r.Start, r.End)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, addressRange)
	}
	return parsed, nil
}

func (s *Service) forgetPool(obj interface{}) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	if macPool, ok := obj.(*v1alpha1.MacPool); ok {
		s.mu.Lock()
		delete(s.pools, macPool.Name)
		s.mu.Unlock()
		if s.metrics != nil {
			s.metrics.DeletePool(macPool.Name)
		}
	}
}

// NotReadyError is a temporary inability to answer: the allocator is still
// loading, or kube-apiserver could not be asked about the namespace. The
// same request may succeed a moment later.
type NotReadyError struct {
	Reason string
}

func (e *NotReadyError) Error() string { return e.Reason + "; try again" }

// errLoading is the answer before every lease and pool is in the index.
var errLoading = &NotReadyError{Reason: "the MAC allocator is still loading existing leases and pools"}

// namespace reads a namespace from the informer or, when the informer has
// not seen it yet, from kube-apiserver: a namespace created just before its
// first pod is no reason to deny the pod.
func (s *Service) namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	ns, err := s.namespaces.Get(name)
	if err == nil {
		return ns, nil
	}
	if !apierrors.IsNotFound(err) || s.liveNamespaces == nil {
		return nil, &NotReadyError{Reason: fmt.Sprintf("reading namespace %q to choose its MAC pool: %v", name, err)}
	}
	ns, err = s.liveNamespaces.Namespaces().Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		return ns, nil
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("namespace %q does not exist: %w", name, err)
	default:
		return nil, &NotReadyError{Reason: fmt.Sprintf("reading namespace %q to choose its MAC pool: %v", name, err)}
	}
}

// poolFor picks the pool of an interface of an object in namespace on
// network (zero for none): see choosePool for the precedence, and the
// default pool when no other pool matches.
func (s *Service) poolFor(ctx context.Context, namespace string, network Network) (*pool, error) {
	ns, err := s.namespace(ctx, namespace)
	if err != nil {
		return nil, err
	}
	view, err := s.viewNetwork(ctx, namespace, network)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	chosen, err := s.choosePool(namespace, labels.Set(ns.Labels), view)
	if err != nil {
		return nil, err
	}
	if chosen == nil {
		return s.defaultPool(namespace)
	}
	if chosen.networks != nil && !chosen.networks.references[view.Network] {
		// Chosen by a label, which a tenant who may create
		// NetworkAttachmentDefinitions puts on a definition of its own:
		// the namespace's pool still decides how strict a requested MAC
		// held elsewhere is judged, so that its Reject cannot be escaped
		// to a network pool's Warn.
		own, err := s.choosePool(namespace, labels.Set(ns.Labels), networkView{})
		if err == nil && own == nil {
			own, err = s.defaultPool(namespace)
		}
		if err != nil {
			return nil, err
		}
		chosen.conflictPolicy = stricterPolicy(chosen.conflictPolicy, own.conflictPolicy)
	}
	return chosen, nil
}

// defaultPool is the pool of a namespace no other pool serves, under s.mu.
func (s *Service) defaultPool(namespace string) (*pool, error) {
	if defaultPool, ok := s.pools[macpool.DefaultPoolName]; ok {
		return defaultPool.snapshot(), nil
	}
	return nil, fmt.Errorf("no MacPool selects namespace %q and there is no %q MacPool", namespace, macpool.DefaultPoolName)
}

// stricterPolicy is the stricter of two conflict policies: Reject refuses a
// held MAC, Reassign replaces it, Warn admits it.
func stricterPolicy(a, b v1alpha1.ConflictPolicy) v1alpha1.ConflictPolicy {
	rank := func(policy v1alpha1.ConflictPolicy) int {
		switch policy {
		case v1alpha1.ConflictPolicyReject:
			return 2
		case v1alpha1.ConflictPolicyReassign:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// Allocate leases a free address of the pool that serves iface, on
// network in namespace, to owner. A dry-run allocation picks an address and
// leases nothing.
func (s *Service) Allocate(ctx context.Context, namespace string, owner Owner, iface string, network Network, dryRun bool) (mac.Address, error) {
	address, _, err := s.allocate(ctx, namespace, owner, iface, network, dryRun)
	return address, err
}

// allocate is Allocate, which also returns the lease it created (nil for a
// dry run): the version a failed admission may release.
func (s *Service) allocate(ctx context.Context, namespace string, owner Owner, iface string, network Network, dryRun bool) (mac.Address, *v1alpha1.MacLease, error) {
	if !s.HasSynced() {
		return 0, nil, errLoading
	}
	selected, err := s.poolFor(ctx, namespace, network)
	if err != nil {
		return 0, nil, err
	}
	if dryRun {
		candidate, err := selected.state.Candidate()
		if err != nil {
			return 0, nil, err
		}
		selected.state.Release(candidate)
		return candidate, nil, nil
	}
	owner = owner.withAttempt()
	started := time.Now()
	var created *v1alpha1.MacLease
	address, err := macindex.Allocate(ctx, selected.state, func(ctx context.Context, address mac.Address) error {
		lease, err := s.createLeaseReliably(ctx, namespace, address, selected.state.Name(), owner, iface)
		if err == nil {
			created = lease
		}
		return err
	}, apierrors.IsAlreadyExists)
	if s.metrics != nil {
		s.metrics.ObserveAllocation(selected.state.Name(), allocationResult(err), time.Since(started))
	}
	var exhausted *macindex.ExhaustedError
	if errors.As(err, &exhausted) {
		if retained := s.retainedIn(selected.state.Name()); retained > 0 {
			err = &RetainedExhaustedError{Exhausted: err, Pool: selected.state.Name(), Retained: retained}
		}
	}
	if err != nil {
		return address, nil, err
	}
	return address, created, nil
}

func allocationResult(err error) metrics.AllocationResult {
	var exhausted *macindex.ExhaustedError
	switch {
	case err == nil:
		return metrics.AllocationSuccess
	case errors.As(err, &exhausted):
		return metrics.AllocationExhausted
	case errors.Is(err, macindex.ErrTooManyConflicts):
		return metrics.AllocationConflict
	default:
		return metrics.AllocationError
	}
}

// createLease is one create of a Reserved lease; token marks the
// allocation it belongs to (see AttemptAnnotation). The lease is protected
// from the start: a tenant who deletes the reservation before its owner
// exists (the Pod may still be on its way through kube-apiserver) only marks
// it, and the lease controller keeps it until the reservation expires or
// nothing carries the MAC, whichever is later. Without the finalizer the
// delete would free the MAC at once, for the allocator to hand to another
// tenant while the Pod is created with it.
func (s *Service) createLease(ctx context.Context, namespace string, address mac.Address, poolName string, owner Owner, iface, token string) (*v1alpha1.MacLease, error) {
	expiresAt := metav1.NewTime(time.Now().Add(s.reservationTTL))
	lease := &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{
			Name:        address.Name(),
			Namespace:   namespace,
			Annotations: map[string]string{AttemptAnnotation: token},
			Finalizers:  []string{macpool.MACProtectionFinalizer},
		},
		Spec: v1alpha1.MacLeaseSpec{
			MACAddress: address.String(),
			Pool:       poolName,
			Owner:      &v1alpha1.LeaseOwner{APIVersion: owner.APIVersion, Kind: owner.Kind, Name: owner.Name},
			Interface:  iface,
		},
		Status: v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseReserved, ExpiresAt: &expiresAt},
	}
	return s.leases.Create(ctx, lease)
}
