package apiserver

import (
	"context"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/authorization/union"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"kubemacpool.io/kubemacpool/pkg/admission/leaseprotection"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// TestInProcessWriteRemovesTheProtectionFinalizer checks, on a real etcd
// and behind the real MacLeaseProtection plugin, that the server's own
// in-process writes may still remove the finalizer that the plugin keeps
// from everyone without update on macleases/finalizers: the lease
// controller's, after which the storage deletes the Terminating lease in
// that write, and the webhooks' cleanup of a denied admission.
func TestInProcessWriteRemovesTheProtectionFinalizer(t *testing.T) {
	plugin := leaseprotection.New()
	plugin.SetAuthorizer(serverAuthorizer(t))
	if err := plugin.ValidateInitialization(); err != nil {
		t.Fatal(err)
	}
	leases := newTestLeasesAdmittedBy(t, admission.NewChainHandler(plugin))
	ctx := context.Background()

	protected := func(t *testing.T, mac string) *macpool.MacLease {
		t.Helper()
		lease := reservation("tenant", mac)
		lease.Finalizers = []string{macpool.MACProtectionFinalizer}
		created, err := leases.Create(ctx, lease)
		if err != nil {
			t.Fatalf("creating a protected lease: %v", err)
		}
		return toInternal(t, created)
	}

	t.Run("the lease controller lets a Terminating lease go", func(t *testing.T) {
		created := protected(t, "02:00:00:00:00:0b")
		// As a tenant's delete: the finalizer keeps the lease.
		deleteCtx := genericapirequest.WithNamespace(genericapirequest.NewContext(), "tenant")
		if _, deleted, err := leases.storage.Delete(deleteCtx, created.Name, rest.ValidateAllObjectFunc, &metav1.DeleteOptions{}); err != nil || deleted {
			t.Fatalf("deleting it: deleted %v, %v; want it Terminating", deleted, err)
		}
		terminating, err := leases.Get(ctx, "tenant", created.Name)
		if err != nil || terminating.DeletionTimestamp == nil {
			t.Fatalf("after the delete: %v, %+v; want the lease Terminating", err, terminating)
		}
		released := toInternal(t, terminating)
		released.Finalizers = nil
		if err := leases.Bind(ctx, released); err != nil {
			t.Fatalf("the controller's write removing the finalizer: %v", err)
		}
		if _, err := leases.Get(ctx, "tenant", created.Name); !apierrors.IsNotFound(err) {
			t.Fatalf("after the finalizer's removal: %v, want NotFound", err)
		}
	})
	t.Run("the lease controller records node holds on a Terminating lease", func(t *testing.T) {
		created := protected(t, "02:00:00:00:00:0d")
		deleteCtx := genericapirequest.WithNamespace(genericapirequest.NewContext(), "tenant")
		if _, _, err := leases.storage.Delete(deleteCtx, created.Name, rest.ValidateAllObjectFunc, &metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		terminating, err := leases.Get(ctx, "tenant", created.Name)
		if err != nil {
			t.Fatal(err)
		}
		held := toInternal(t, terminating)
		held.Annotations = map[string]string{macpool.NodeHoldsAnnotation: "node-1 for a while"}
		if err := leases.Bind(ctx, held); !apierrors.IsInvalid(err) {
			t.Fatalf("a write of unreadable node holds: %v, want Invalid", err)
		}
		const holds = `[{"node":"node-1","pod":"web","stoppedBy":"2026-12-01T18:00:00Z"}]`
		held.Annotations[macpool.NodeHoldsAnnotation] = holds
		if err := leases.Bind(ctx, held); err != nil {
			t.Fatalf("the controller's write of node holds: %v", err)
		}
		stored, err := leases.Get(ctx, "tenant", created.Name)
		if err != nil || stored.DeletionTimestamp == nil || stored.Annotations[macpool.NodeHoldsAnnotation] != holds {
			t.Fatalf("after the write: %v, %+v; want the lease Terminating with the holds", err, stored)
		}
	})
	t.Run("a denied admission's cleanup leaves a lease with node holds to the controller", func(t *testing.T) {
		// The reservation got node holds meanwhile: a Pod of the namespace
		// that carried its MAC unleased left the API while its node may
		// still run it. The cleanup does not let the MAC go past them.
		created := protected(t, "02:00:00:00:00:0e")
		held := created.DeepCopy()
		held.Annotations = map[string]string{macpool.NodeHoldsAnnotation: `[{"node":"node-1","pod":"web","stoppedBy":"2026-12-01T18:00:00Z"}]`}
		if err := leases.Bind(ctx, held); err != nil {
			t.Fatalf("the controller's write of node holds: %v", err)
		}
		if err := leases.Delete(ctx, "tenant", created.Name, storedVersion(t, leases, "tenant", created.Name)); err != nil {
			t.Fatalf("deleting it: %v", err)
		}
		stored, err := leases.Get(ctx, "tenant", created.Name)
		if err != nil || stored.DeletionTimestamp == nil || !slices.Contains(stored.Finalizers, macpool.MACProtectionFinalizer) {
			t.Fatalf("after the delete: %v, %+v; want the lease Terminating with the protection finalizer", err, stored)
		}
	})
	t.Run("a denied admission's cleanup deletes the lease, finalizer and all", func(t *testing.T) {
		created := protected(t, "02:00:00:00:00:0c")
		if err := leases.Delete(ctx, "tenant", created.Name, metav1.Preconditions{UID: &created.UID, ResourceVersion: &created.ResourceVersion}); err != nil {
			t.Fatalf("deleting it: %v", err)
		}
		if _, err := leases.Get(ctx, "tenant", created.Name); !apierrors.IsNotFound(err) {
			t.Fatalf("after the delete: %v, want NotFound", err)
		}
	})
}

// serverAuthorizer is as the server's authorizer: system:masters (the
// loopback user) is allowed outright, and kube-apiserver (here: a denial)
// decides for anyone else.
func serverAuthorizer(t *testing.T) authorizer.Authorizer {
	t.Helper()
	authorizer, err := union.New(
		union.NamedAuthorizer{AuthorizerName: "privileged groups", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)},
		union.NamedAuthorizer{AuthorizerName: "kube-apiserver", Authorizer: authorizerfactory.NewAlwaysDenyAuthorizer()})
	if err != nil {
		t.Fatal(err)
	}
	return authorizer
}
