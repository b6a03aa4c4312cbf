package allocation

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/hashedindex"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/retention"
)

// LeaseRewriter replaces a lease, spec, metadata and status, in one write
// of the version it was read at (its resourceVersion); a lease changed since
// is a Conflict. The webhooks reclaim retained addresses with it, so two
// admissions racing for one address can never both win. why says what the
// write is for: the server records it in the webhook call's audit event.
type LeaseRewriter interface {
	Rewrite(ctx context.Context, lease *v1alpha1.MacLease, why RewriteReason) (*v1alpha1.MacLease, error)
}

// RewriteReason is what a webhook call rewrites a lease for.
type RewriteReason int

const (
	// Reclaim: a retained lease taken back by an object of its name.
	Reclaim RewriteReason = iota
	// Restore: a lease a failed admission reclaimed, put back as it was.
	Restore
	// TakeOver: a lease an earlier call of the same admission request made
	// or reclaimed, made this call's (see takeOver).
	TakeOver
)

// ownerIndex finds the leases of an owner by namespace, kind and name,
// through hashedindex: most owners hold one lease, and a plain index would
// keep a set for each.
const ownerIndex = "owner"

func ownerKey(namespace, kind, name string) string { return namespace + "/" + kind + "/" + name }

// indexOwner indexes a lease by its owner.
var indexOwner = hashedindex.IndexFunc(leaseOwnerKey)

// leaseOwnerKey is the ownerKey of a lease of the informer, internal (the
// server's) or v1alpha1, read without converting it.
func leaseOwnerKey(obj interface{}) (string, bool) {
	switch lease := obj.(type) {
	case *v1alpha1.MacLease:
		if lease.Spec.Owner != nil {
			return ownerKey(lease.Namespace, lease.Spec.Owner.Kind, lease.Spec.Owner.Name), true
		}
	case *macpool.MacLease:
		if lease.Spec.Owner != nil {
			return ownerKey(lease.Namespace, lease.Spec.Owner.Kind, lease.Spec.Owner.Name), true
		}
	}
	return "", false
}

// versionedLease reads a lease of the informer, internal (the server's) or
// v1alpha1; nil for anything else (metadata only).
func versionedLease(obj interface{}) *v1alpha1.MacLease {
	switch lease := obj.(type) {
	case *v1alpha1.MacLease:
		return lease
	case *macpool.MacLease:
		out := &v1alpha1.MacLease{}
		if err := v1alpha1.Convert_macpool_MacLease_To_v1alpha1_MacLease(lease, out, nil); err != nil {
			return nil
		}
		return out
	}
	return nil
}

// reclaimedLease is a lease an admission took back from retention, and the
// version it replaced: Abort writes that back.
type reclaimedLease struct {
	previous, written *v1alpha1.MacLease
}

// reclaimAttempts bounds the rereads after a conflict: each means another
// writer changed the lease in between.
const reclaimAttempts = 3

// reclaim gives owner the address its namespace retains for an object of
// its kind and exact name on iface, if there is one: the lease goes back to
// Reserved for this admission, in one write conditional on the version read,
// and then through the usual Reserved to Bound. Only leases of the request's
// namespace are looked at: another namespace never gets a retained address.
// A dry run changes nothing.
func (s *Service) reclaim(ctx context.Context, namespace string, owner Owner, iface string, dryRun bool) (mac.Address, *reclaimedLease, bool, error) {
	if s.owners == nil || owner.Generated || owner.Name == "" {
		return 0, nil, false, nil
	}
	rewriter, ok := s.leases.(LeaseRewriter)
	if !ok {
		return 0, nil, false, nil
	}
	candidates, err := hashedindex.ByValue(s.owners, ownerIndex, leaseOwnerKey, ownerKey(namespace, owner.Kind, owner.Name))
	if err != nil {
		return 0, nil, false, nil
	}
	for _, obj := range candidates {
		cached := versionedLease(obj)
		if cached == nil || cached.Spec.Interface != iface || s.reclaimable(cached, owner, iface) == notReclaimable {
			continue
		}
		address, err := mac.Parse(cached.Name)
		if err != nil {
			continue
		}
		if dryRun {
			if s.heldAwaiting(cached, owner, iface) {
				continue
			}
			return address, nil, true, nil
		}
		// The informer may be behind: decide on the stored lease.
		current, err := s.leases.Get(ctx, namespace, cached.Name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return 0, nil, false, temporary(fmt.Errorf("reading the retained lease %s for %s: %w", cached.Name, iface, err))
		}
		reclaimed, err := s.rewriteReclaimed(ctx, rewriter, current, owner, iface)
		if err != nil {
			return 0, nil, false, err
		}
		if reclaimed != nil {
			klog.InfoS("Reclaimed a retained MAC", "lease", klog.KObj(current), "owner", owner.Kind+"/"+owner.Name, "interface", iface)
			return address, reclaimed, true, nil
		}
	}
	return 0, nil, false, nil
}

// claimRetained reclaims existing, the lease of an address the admission
// asks for explicitly, when it is retained for this very object and
// interface. ok is false when it is not.
func (s *Service) claimRetained(ctx context.Context, existing *v1alpha1.MacLease, owner Owner, iface string, dryRun bool) (*reclaimedLease, bool, error) {
	rewriter, isRewriter := s.leases.(LeaseRewriter)
	if !isRewriter || owner.Generated || s.reclaimable(existing, owner, iface) == notReclaimable {
		return nil, false, nil
	}
	if dryRun {
		return nil, !s.heldAwaiting(existing, owner, iface), nil
	}
	reclaimed, err := s.rewriteReclaimed(ctx, rewriter, existing, owner, iface)
	return reclaimed, reclaimed != nil, err
}

// heldAwaiting tells a dry run about a lease still Bound to a gone object
// of the name that already has node holds: the controller retains it with
// them, and the create gets another address. A dry run does not wait.
func (s *Service) heldAwaiting(lease *v1alpha1.MacLease, owner Owner, iface string) bool {
	_, held := lease.Annotations[macpool.NodeHoldsAnnotation]
	return held && s.reclaimable(lease, owner, iface) == awaitingRetention
}

// reclaimability of a lease for one admission.
type reclaimability int

const (
	notReclaimable reclaimability = iota
	// alreadyOurs: this admission reclaimed it already (kube-apiserver
	// retried the call: the retried call takes it over, see takeOver).
	alreadyOurs
	// takeable: Retained, or reclaimed by an earlier admission that is over.
	takeable
	// awaitingRetention: bound without owner references (the retention
	// applies) to an object of this name, which is gone, since an object of
	// that name is being created (or the create fails), but the lease
	// controller has not seen it go. Only the controller knows whether a
	// node may still run the old object with the MAC (a StatefulSet Pod
	// removed with --force on a partitioned node, created again at once):
	// it writes the holds onto the lease before it retains it, so the
	// admission waits for the Retained lease.
	awaitingRetention
	// beingReclaimed: another admission of the same object reclaimed it a
	// moment ago and may still succeed.
	beingReclaimed
)

func (s *Service) reclaimable(lease *v1alpha1.MacLease, owner Owner, iface string) reclaimability {
	held := lease.Spec.Owner
	if held == nil || held.Kind != owner.Kind || held.Name != owner.Name || lease.Spec.Interface != iface {
		return notReclaimable
	}
	if lease.DeletionTimestamp != nil {
		// Deleted: it stays only while something still carries the MAC,
		// and is no one's to take back.
		return notReclaimable
	}
	if ownAttempt(lease, string(owner.Request), iface) {
		return alreadyOurs
	}
	if lease.Status.Phase == v1alpha1.MacLeasePhaseBound {
		if len(lease.OwnerReferences) == 0 && s.retentionOf(lease) > 0 {
			// Whatever holds it has so far: the controller may be about
			// to write more, and it retains the lease with them.
			return awaitingRetention
		}
		return notReclaimable
	}
	if _, held := lease.Annotations[macpool.NodeHoldsAnnotation]; held {
		// The object's last Pod was removed while its node may still run
		// it with the MAC (a StatefulSet Pod deleted with --force on a
		// partitioned node): taken back, the MAC would be on the network
		// twice. The new object gets another address; the lease controller
		// drops the holds once the nodes prove they stopped the Pod, and
		// the next object of the name gets the retained address again.
		return notReclaimable
	}
	switch lease.Status.Phase {
	case v1alpha1.MacLeasePhaseRetained:
		return takeable
	case v1alpha1.MacLeasePhaseReserved:
		if _, found := lease.Annotations[retention.RetainedUntilAnnotation]; !found {
			return notReclaimable
		}
		at, err := time.Parse(time.RFC3339, lease.Annotations[retention.ReclaimedAtAnnotation])
		if err != nil || time.Since(at) > retention.ReclaimGrace {
			return takeable
		}
		return beingReclaimed
	}
	return notReclaimable
}

// retentionOf is how long the pool of lease retains it for its owner.
func (s *Service) retentionOf(lease *v1alpha1.MacLease) time.Duration {
	s.mu.RLock()
	p, found := s.pools[lease.Spec.Pool]
	s.mu.RUnlock()
	if !found {
		return 0
	}
	return retention.Duration(p.retention, lease.Annotations[retention.ObjectAnnotation])
}

// rewriteReclaimed takes current for this admission, rereading it after a
// conflict. It returns nil when the lease turned out not to be reclaimable,
// and a *NotReadyError (try again) while another admission of the same object
// holds it.
func (s *Service) rewriteReclaimed(ctx context.Context, rewriter LeaseRewriter, current *v1alpha1.MacLease, owner Owner, iface string) (*reclaimedLease, error) {
	waited := false
	for attempt := 1; ; attempt++ {
		switch s.reclaimable(current, owner, iface) {
		case notReclaimable:
			return nil, nil
		case alreadyOurs:
			if !earlierCall(current, owner) {
				return &reclaimedLease{written: current}, nil
			}
			// Reclaimed by an earlier call of this request, which may
			// still fail and restore it to Retained: its restore is of
			// the version it wrote, which the takeover replaces.
			written, err := s.takeOver(ctx, current, owner)
			if err != nil {
				return nil, fmt.Errorf("reclaiming the retained MAC address %s for %s: %w", current.Spec.MACAddress, iface, err)
			}
			return &reclaimedLease{written: written}, nil
		case beingReclaimed:
			return nil, &NotReadyError{Reason: fmt.Sprintf(
				"the MAC address %s retained for %s %s on %s is being reclaimed by another request that creates the same object",
				current.Spec.MACAddress, owner.Kind, owner.Name, iface)}
		case awaitingRetention:
			if waited {
				return nil, errNotRetainedYet(current, owner)
			}
			waited = true
			next, err := s.awaitRetention(ctx, current, owner, iface)
			if next == nil || err != nil {
				return nil, err
			}
			current = next
			continue
		}
		written, err := rewriter.Rewrite(ctx, s.reclaimedVersion(current, owner), Reclaim)
		switch {
		case err == nil:
			return &reclaimedLease{previous: current, written: written}, nil
		case apierrors.IsNotFound(err):
			return nil, nil
		case !apierrors.IsConflict(err) || attempt == reclaimAttempts:
			return nil, temporary(fmt.Errorf("reclaiming the retained MAC address %s for %s: %w", current.Spec.MACAddress, iface, err))
		}
		name := current.Name
		if current, err = s.leases.Get(ctx, current.Namespace, name); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return nil, temporary(fmt.Errorf("reading the retained lease %s for %s: %w", name, iface, err))
		}
	}
}

// temporary makes a failed read or write of a lease being reclaimed a "try
// again" (503) when the same request may succeed later: a conflict (the
// lease changed under every attempt), or storage that failed or did not
// answer in time. Left as they are, a server error or a timeout would be a
// 422, which refuses the object, and a conflict a 409. A definite refusal
// (4xx) stays as it is.
func temporary(err error) error {
	if apierrors.IsConflict(err) || outcomeUnknown(err) {
		return &NotReadyError{Reason: err.Error()}
	}
	return err
}

// retentionWait bounds how long an admission waits for the lease controller
// to retain the lease of an object of the same name that is gone; the
// controller retains it milliseconds after it sees the object go. Past it
// the admission gets "try again": kube-apiserver's webhook timeout is 10 s.
var retentionWait = 2 * time.Second

// retentionPoll is how often the informer's copy of the lease is looked at
// while waiting (cachedAwaiting).
const retentionPoll = 20 * time.Millisecond

// OwnerLookup tells whether an object of a lease owner's kind and name
// exists, read from kube-apiserver: a lease still Bound to an object of the
// name being created is the one being replaced only once that object is
// gone.
type OwnerLookup interface {
	OwnerExists(ctx context.Context, namespace, kind, name string) (bool, error)
}

// UseOwnerLookup makes a reclaim of a Bound lease look the owner up first:
// while it exists the create fails (the name is taken) and there is nothing
// to wait for. Without one, the reclaim waits for the lease controller
// either way.
func (s *Service) UseOwnerLookup(owners OwnerLookup) { s.ownerLookup = owners }

// awaitRetention waits until the lease controller has retained lease, Bound
// to a gone object of the name owner is creating, and returns it as stored
// then; nil when it is not this admission's to wait for (the owner still
// exists, or the lease is gone).
func (s *Service) awaitRetention(ctx context.Context, lease *v1alpha1.MacLease, owner Owner, iface string) (*v1alpha1.MacLease, error) {
	if s.ownerLookup != nil {
		exists, err := s.ownerLookup.OwnerExists(ctx, lease.Namespace, owner.Kind, owner.Name)
		if err != nil {
			// kube-apiserver's message may name this server's identity
			// (a 403): the log has it, the requester does not.
			klog.ErrorS(err, "Looking up the owner of a retained MAC failed", "lease", klog.KObj(lease), "owner", owner.Kind+"/"+owner.Name)
			return nil, &NotReadyError{Reason: fmt.Sprintf("looking up %s %s, for which the MAC address %s is retained, failed",
				owner.Kind, owner.Name, lease.Spec.MACAddress)}
		}
		if exists {
			return nil, nil
		}
	}
	timer := time.NewTimer(s.retentionWaitFor(ctx))
	defer timer.Stop()
	poll := time.NewTicker(retentionPoll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, errNotRetainedYet(lease, owner)
		case <-timer.C:
			return nil, errNotRetainedYet(lease, owner)
		case <-poll.C:
		}
		if s.cachedAwaiting(lease, owner, iface) {
			continue
		}
		current, err := s.leases.Get(ctx, lease.Namespace, lease.Name)
		switch {
		case apierrors.IsNotFound(err):
			return nil, nil
		case err != nil:
			return nil, &NotReadyError{Reason: fmt.Sprintf("reading the retained lease %s: %v", lease.Name, err)}
		case s.reclaimable(current, owner, iface) != awaitingRetention:
			return current, nil
		}
	}
}

// cachedAwaiting tells whether the lease informer still shows lease Bound
// to the gone object, as it was read from storage: the wait reads storage
// only once the informer shows a change (or no longer has the lease), not
// every poll, which would cost each waiting admission a hundred reads.
func (s *Service) cachedAwaiting(lease *v1alpha1.MacLease, owner Owner, iface string) bool {
	if s.owners == nil {
		return false
	}
	obj, exists, err := s.owners.GetByKey(lease.Namespace + "/" + lease.Name)
	if err != nil || !exists {
		return false
	}
	cached := versionedLease(obj)
	return cached != nil && s.reclaimable(cached, owner, iface) == awaitingRetention
}

// retentionWaitFor is how long an admission with ctx may wait for the
// lease controller: retentionWait, ended early enough before the request's
// deadline (kube-apiserver's webhook timeout, shared by every interface the
// object asks for) that the "try again" reaches kube-apiserver before it
// gives up on the call and answers with its own timeout.
func (s *Service) retentionWaitFor(ctx context.Context) time.Duration {
	wait := retentionWait
	if deadline, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(deadline)-storageDeadlineMargin)
	}
	return max(wait, 0)
}

// errNotRetainedYet is the answer while the lease controller has not
// retained the lease of a gone object of the name being created.
func errNotRetainedYet(lease *v1alpha1.MacLease, owner Owner) error {
	return &NotReadyError{Reason: fmt.Sprintf(
		"the MAC address %s is retained for %s %s, whose removal the lease controller has not handled yet "+
			"(it first makes sure no node still runs the removed object with it)",
		lease.Spec.MACAddress, owner.Kind, owner.Name)}
}

// reclaimedVersion is current reserved for this admission: the usual
// reservation (attempt token, expiry after the reservation TTL), plus when
// the retention would have ended, so that the lease is Retained again if
// the object never appears, and when it was reclaimed.
func (s *Service) reclaimedVersion(current *v1alpha1.MacLease, owner Owner) *v1alpha1.MacLease {
	now := time.Now()
	retainedUntil := current.Annotations[retention.RetainedUntilAnnotation]
	if current.Status.Phase == v1alpha1.MacLeasePhaseRetained && current.Status.ExpiresAt != nil {
		retainedUntil = current.Status.ExpiresAt.UTC().Format(time.RFC3339)
	}
	lease := current.DeepCopy()
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	lease.Annotations[AttemptAnnotation] = owner.withAttempt().attempt
	lease.Annotations[retention.RetainedUntilAnnotation] = retainedUntil
	lease.Annotations[retention.ReclaimedAtAnnotation] = now.UTC().Format(time.RFC3339)
	lease.OwnerReferences = nil
	expiresAt := metav1.NewTime(now.Add(s.reservationTTL))
	lease.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseReserved, ExpiresAt: &expiresAt}
	return lease
}

// restore puts back what a failed admission reclaimed, if nobody changed it
// since (a retried call of the same request that took it over did, and may
// have admitted the object with the MAC): the next create of the object
// finds it Retained again at once. If that fails, the controller makes the
// reservation Retained again when it expires.
func (s *Service) restore(ctx context.Context, reclaimed []*reclaimedLease) error {
	rewriter, ok := s.leases.(LeaseRewriter)
	if !ok {
		return nil
	}
	var failed []error
	for _, r := range reclaimed {
		if r.previous == nil {
			continue
		}
		previous := r.previous.DeepCopy()
		previous.ResourceVersion = r.written.ResourceVersion
		if _, err := rewriter.Rewrite(ctx, previous, Restore); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			failed = append(failed, fmt.Errorf("restoring %s: %w", previous.Name, err))
		}
	}
	return errors.Join(failed...)
}

// RetainedExhaustedError is an exhausted pool of which some addresses are
// retained for deleted objects. They are not taken from their owners: the
// administrator decides (a shorter retention, a wider pool, or deleting
// Retained leases).
type RetainedExhaustedError struct {
	Exhausted error
	Pool      string
	Retained  int64
}

func (e *RetainedExhaustedError) Error() string {
	return fmt.Sprintf("%v; %d of them are retained for deleted objects (MacPool %q spec.retention) and are given to nobody else until their retention ends: "+
		"shorten the retention, widen the pool, or delete Retained leases (kubectl get macleases -A --field-selector status.phase=Retained)",
		e.Exhausted, e.Retained, e.Pool)
}

func (e *RetainedExhaustedError) Unwrap() error { return e.Exhausted }

// watchRetained indexes the leases by owner, for reclaims, and counts them
// by phase: the Retained ones by pool, for the pools' status, and the
// Reserved ones by namespace, for the limit on reservations.
func (s *Service) watchRetained(leases cache.SharedIndexInformer) error {
	if _, indexed := leases.GetIndexer().GetIndexers()[ownerIndex]; !indexed {
		if err := leases.AddIndexers(cache.Indexers{ownerIndex: indexOwner}); err != nil {
			return fmt.Errorf("indexing MacLeases by owner: %w", err)
		}
	}
	s.owners = leases.GetIndexer()
	_, err := leases.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { s.counts.observe(obj, false) },
		UpdateFunc: func(_, obj interface{}) { s.counts.observe(obj, false) },
		DeleteFunc: func(obj interface{}) { s.counts.observe(obj, true) },
	})
	if err != nil {
		return fmt.Errorf("counting MacLeases by phase: %w", err)
	}
	return nil
}

// retainedIn is the number of Retained leases of a pool.
func (s *Service) retainedIn(pool string) int64 { return s.counts.retained.of(pool) }

func poolRetention(pool *v1alpha1.MacPool) time.Duration {
	if pool.Spec.Retention == nil {
		return 0
	}
	return pool.Spec.Retention.Duration.Duration
}
