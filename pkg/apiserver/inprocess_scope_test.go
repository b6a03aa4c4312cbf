package apiserver

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"kubemacpool.io/kubemacpool/pkg/admission/reservationscope"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	macfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
	macinformers "kubemacpool.io/kubemacpool/pkg/generated/informers/externalversions"
	macleasestorage "kubemacpool.io/kubemacpool/pkg/registry/macpool/maclease"
)

// TestTenantCannotKeepAForeignLeaseWithAFinalizer checks, on a real etcd and
// behind the real MacLeaseReservationScope, the lease a webhook made for a
// tenant's Pod that asked for a free MAC of another tenant's pool: its
// namespace admin may not add a finalizer of its own to it. Once admitted,
// that finalizer keeps the lease, and the address, after the lease
// controller's release, for as long as the tenant likes, with no object.
func TestTenantCannotKeepAForeignLeaseWithAFinalizer(t *testing.T) {
	ctx := context.Background()
	leases := newTestLeasesAdmittedBy(t, admission.NewChainHandler(startedReservationScope(t)))
	store := leases.storage.(*macleasestorage.REST)
	const foreign = "0e:00:00:0b:00:01" // inside tenant-b's pool, leased to a Pod of namespace a

	made := func(t *testing.T) *macpool.MacLease {
		t.Helper()
		lease := reservation("a", foreign)
		lease.Spec.Pool = ""
		lease.Finalizers = []string{macpool.MACProtectionFinalizer}
		created, err := leases.Create(ctx, lease)
		if err != nil {
			t.Fatalf("the webhook's create: %v", err)
		}
		return toInternal(t, created)
	}
	withFinalizer := func(lease *macpool.MacLease) *macpool.MacLease {
		kept := lease.DeepCopy()
		kept.Finalizers = append(kept.Finalizers, "tenant.example.com/keep")
		return kept
	}

	lease := made(t)
	tenantCtx := genericapirequest.WithUser(genericapirequest.WithNamespace(genericapirequest.NewContext(), "a"),
		&user.DefaultInfo{Name: "alice", Groups: []string{user.AllAuthenticated}})
	_, _, err := store.Update(tenantCtx, lease.Name, rest.DefaultUpdatedObjectInfo(withFinalizer(lease)), rest.ValidateAllObjectFunc,
		tenantUpdateValidation(leases, withFinalizer(lease)), false, &metav1.UpdateOptions{})
	if status, ok := err.(apierrors.APIStatus); !ok || status.Status().Code != http.StatusForbidden || !strings.Contains(err.Error(), `MacPool "tenant-b"`) {
		t.Fatalf("a namespace admin adding a finalizer to a lease inside another tenant's pool: %v, want 403 naming the pool", err)
	}

	// What the refusal prevents, written as the server (exempt): the
	// controller's release (its delete, then the protection finalizer's
	// removal) leaves the lease stored, and the address taken.
	stored, err := leases.Get(ctx, "a", lease.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := leases.Bind(ctx, withFinalizer(toInternal(t, stored))); err != nil {
		t.Fatalf("adding the finalizer as the server: %v", err)
	}
	if err := leases.Delete(ctx, "a", lease.Name, storedVersion(t, leases, "a", lease.Name)); err != nil {
		t.Fatalf("the release: %v", err)
	}
	if kept, err := leases.Get(ctx, "a", lease.Name); err != nil || kept.DeletionTimestamp == nil {
		t.Fatalf("after the release: %v, %+v; want the lease kept Terminating by the tenant's finalizer", err, kept)
	}
	other := reservation("b", foreign)
	other.Spec.Pool = "tenant-b"
	if _, err := leases.Create(ctx, other); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("tenant b leasing its own pool's address: %v, want AlreadyExists", err)
	}
}

// tenantUpdateValidation runs leases' admission chain on an update by alice.
func tenantUpdateValidation(leases *inProcessLeases, lease *macpool.MacLease) rest.ValidateObjectUpdateFunc {
	alice := &user.DefaultInfo{Name: "alice", Groups: []string{user.AllAuthenticated}}
	return func(ctx context.Context, obj, old runtime.Object) error {
		attributes := admission.NewAttributesRecord(obj, old, leaseKind, lease.Namespace, lease.Name, leaseResource, "",
			admission.Update, &metav1.UpdateOptions{}, false, alice)
		return leases.admit.(admission.ValidationInterface).Validate(ctx, attributes, leases.objects)
	}
}

// startedReservationScope is MacLeaseReservationScope on synced caches of
// namespaces a and b and of a pool for each, and RBAC that lets nobody but
// system:masters create macleases/exclude.
func startedReservationScope(t *testing.T) *reservationscope.Plugin {
	t.Helper()
	pools := []runtime.Object{}
	for _, tenant := range []string{"a", "b"} {
		pools = append(pools, &v1alpha1.MacPool{ObjectMeta: metav1.ObjectMeta{Name: "tenant-" + tenant},
			Spec: v1alpha1.MacPoolSpec{
				Ranges:            []v1alpha1.MACRange{{Start: "0e:00:00:0" + tenant + ":00:00", End: "0e:00:00:0" + tenant + ":ff:ff"}},
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": tenant}}}})
	}
	kube := kubefake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"tenant": "a"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "b", Labels: map[string]string{"tenant": "b"}}})
	kubeInformers := informers.NewSharedInformerFactory(kube, 0)
	macInformers := macinformers.NewSharedInformerFactory(macfake.NewSimpleClientset(pools...), 0)
	plugin := reservationscope.New()
	plugin.SetExternalKubeClientSet(kube)
	plugin.SetExternalKubeInformerFactory(kubeInformers)
	plugin.SetMacInformerFactory(macInformers)
	plugin.SetAuthorizer(serverAuthorizer(t))
	if err := plugin.ValidateInitialization(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	kubeInformers.Start(stop)
	macInformers.Start(stop)
	syncCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for informer, synced := range kubeInformers.WaitForCacheSync(syncCtx.Done()) {
		if !synced {
			t.Fatalf("%v did not sync", informer)
		}
	}
	for informer, synced := range macInformers.WaitForCacheSync(syncCtx.Done()) {
		if !synced {
			t.Fatalf("%v did not sync", informer)
		}
	}
	return plugin
}
