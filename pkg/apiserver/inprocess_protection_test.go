package apiserver

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/authorization/union"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"kubemacpool.io/kubemacpool/pkg/admission/leaseprotection"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// TestInProcessWriteRemovesTheProtectionFinalizer checks, on a real etcd
// and behind the real MacLeaseProtection plugin, that the lease
// controller's in-process write may still remove the finalizer that the
// plugin keeps from everyone without update on macleases/finalizers, and
// that the storage then deletes the Terminating lease in that write.
func TestInProcessWriteRemovesTheProtectionFinalizer(t *testing.T) {
	// As the server's authorizer: system:masters is allowed outright, and
	// kube-apiserver (here: a denial) decides for anyone else.
	authorizer, err := union.New(
		union.NamedAuthorizer{AuthorizerName: "privileged groups", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)},
		union.NamedAuthorizer{AuthorizerName: "kube-apiserver", Authorizer: authorizerfactory.NewAlwaysDenyAuthorizer()})
	if err != nil {
		t.Fatal(err)
	}
	plugin := leaseprotection.New()
	plugin.SetAuthorizer(authorizer)
	if err := plugin.ValidateInitialization(); err != nil {
		t.Fatal(err)
	}
	leases := newTestLeasesAdmittedBy(t, admission.NewChainHandler(plugin))
	ctx := context.Background()

	protected := reservation("tenant", "02:00:00:00:00:0b")
	protected.Finalizers = []string{macpool.MACProtectionFinalizer}
	created, err := leases.Create(ctx, protected)
	if err != nil {
		t.Fatalf("creating a protected lease: %v", err)
	}
	if err := leases.Delete(genericapirequest.NewContext(), "tenant", created.Name); err != nil {
		t.Fatalf("deleting it: %v", err)
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
}
