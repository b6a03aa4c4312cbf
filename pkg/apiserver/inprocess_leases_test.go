package apiserver

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/audit"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	etcd3testing "k8s.io/apiserver/pkg/storage/etcd3/testing"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	macleasestorage "kubemacpool.io/kubemacpool/pkg/registry/macpool/maclease"
)

// etcdOptions serves the registry's storage options from a test etcd, with
// the watch cache the server runs.
type etcdOptions struct{ config *storagebackend.Config }

func (o etcdOptions) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{
		StorageConfig:  o.config.ForResource(resource),
		Decorator:      genericregistry.StorageWithCacher(),
		ResourcePrefix: resource.Group + "/" + resource.Resource,
	}, nil
}

// recordingAdmission is an admission chain that records what it is asked
// and refuses creates of one name.
type recordingAdmission struct {
	refuse string
	calls  []admission.Attributes
}

func (a *recordingAdmission) Handles(admission.Operation) bool { return true }

func (a *recordingAdmission) Admit(ctx context.Context, attributes admission.Attributes, _ admission.ObjectInterfaces) error {
	a.calls = append(a.calls, attributes)
	return nil
}

func (a *recordingAdmission) Validate(ctx context.Context, attributes admission.Attributes, _ admission.ObjectInterfaces) error {
	a.calls = append(a.calls, attributes)
	if attributes.GetOperation() == admission.Create && attributes.GetName() == a.refuse {
		return admission.NewForbidden(attributes, apierrors.NewForbidden(leaseResource.GroupResource(), attributes.GetName(), nil))
	}
	return nil
}

func newTestLeases(t *testing.T) (*inProcessLeases, *recordingAdmission) {
	t.Helper()
	admit := &recordingAdmission{refuse: "02-00-00-00-00-09"}
	return newTestLeasesAdmittedBy(t, admit), admit
}

// newTestLeasesAdmittedBy stores leases on a test etcd behind admit.
func newTestLeasesAdmittedBy(t *testing.T, admit admission.Interface) *inProcessLeases {
	t.Helper()
	storage, _ := newTestLeaseStorage(t)
	return newInProcessLeases(storage, admit, Scheme)
}

// newTestLeaseStorage is the MacLease registry on a test etcd of its own,
// and the storage options it was built with.
func newTestLeaseStorage(t *testing.T) (*macleasestorage.REST, generic.RESTOptions) {
	t.Helper()
	_, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	config.EventsHistoryWindow = storagebackend.DefaultEventsHistoryWindow
	config.Codec = Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)
	options := etcdOptions{config}
	storage, _, err := macleasestorage.NewStorage(Scheme, options)
	if err != nil {
		t.Fatalf("building the lease storage: %v", err)
	}
	t.Cleanup(func() { storage.Store.DestroyFunc() })
	restOptions, err := options.GetRESTOptions(macpool.Resource("macleases"), &macpool.MacLease{})
	if err != nil {
		t.Fatal(err)
	}
	return storage, restOptions
}

// storedVersion is the precondition of a delete of the lease as it is
// stored now.
func storedVersion(t *testing.T, leases *inProcessLeases, namespace, name string) metav1.Preconditions {
	t.Helper()
	stored, err := leases.Get(context.Background(), namespace, name)
	if err != nil {
		t.Fatalf("reading lease %s/%s: %v", namespace, name, err)
	}
	return metav1.Preconditions{UID: &stored.UID, ResourceVersion: &stored.ResourceVersion}
}

func toInternal(t *testing.T, lease *v1alpha1.MacLease) *macpool.MacLease {
	t.Helper()
	out := &macpool.MacLease{}
	if err := Scheme.Convert(lease, out, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

func reservation(namespace, mac string) *v1alpha1.MacLease {
	return &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(mac, ":", "-"), Namespace: namespace},
		Spec: v1alpha1.MacLeaseSpec{MACAddress: mac, Pool: "default",
			Owner: &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "secret-owner"}},
		Status: v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseReserved},
	}
}

// TestInProcessLeases checks that the webhooks' and the controller's writes,
// which no longer go through HTTP, keep what the API guarantees: the
// admission chain runs as the loopback user, the namespace guard confines
// every verb to the lease's namespace without leaking the holder, and a
// refusal stores nothing.
func TestInProcessLeases(t *testing.T) {
	leases, admit := newTestLeases(t)
	ctx := context.Background()
	held, err := leases.Create(ctx, reservation("holder-zebra", "02:00:00:00:00:01"))
	if err != nil {
		t.Fatalf("creating a lease: %v", err)
	}
	if held.Status.Phase != v1alpha1.MacLeasePhaseReserved || held.UID == "" {
		t.Errorf("created lease: phase %q, UID %q; want Reserved with a UID", held.Status.Phase, held.UID)
	}
	if len(admit.calls) != 2 {
		t.Fatalf("admission was asked %d times for a create, want mutate and validate", len(admit.calls))
	}
	for _, call := range admit.calls {
		if call.GetOperation() != admission.Create || call.GetResource() != leaseResource || call.GetNamespace() != "holder-zebra" ||
			call.GetUserInfo().GetName() != loopbackUser.Name {
			t.Errorf("admission attributes: %s %v in %q as %q", call.GetOperation(), call.GetResource(), call.GetNamespace(), call.GetUserInfo().GetName())
		}
	}

	noLeak := func(t *testing.T, err error) {
		t.Helper()
		for _, secret := range []string{"holder-zebra", string(held.UID), "secret-owner"} {
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("the answer %q names %q of the holder", err, secret)
			}
		}
	}
	t.Run("another namespace cannot create the same MAC", func(t *testing.T) {
		_, err := leases.Create(ctx, reservation("intruder", "02:00:00:00:00:01"))
		if !apierrors.IsAlreadyExists(err) {
			t.Fatalf("got %v, want AlreadyExists", err)
		}
		noLeak(t, err)
	})
	t.Run("another namespace cannot read it", func(t *testing.T) {
		_, err := leases.Get(ctx, "intruder", held.Name)
		if !apierrors.IsNotFound(err) {
			t.Fatalf("got %v, want NotFound", err)
		}
		noLeak(t, err)
	})
	t.Run("another namespace cannot bind it", func(t *testing.T) {
		forged := toInternal(t, held)
		forged.Namespace = "intruder"
		forged.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "x", UID: types.UID("x")}}
		err := leases.Bind(ctx, forged)
		if !apierrors.IsNotFound(err) {
			t.Fatalf("got %v, want NotFound", err)
		}
		noLeak(t, err)
	})
	t.Run("another namespace cannot delete it", func(t *testing.T) {
		err := leases.Delete(ctx, "intruder", held.Name, storedVersion(t, leases, "holder-zebra", held.Name))
		if !apierrors.IsNotFound(err) {
			t.Fatalf("got %v, want NotFound", err)
		}
		noLeak(t, err)
		if _, err := leases.Get(ctx, "holder-zebra", held.Name); err != nil {
			t.Fatalf("the lease is gone after a foreign delete: %v", err)
		}
	})
	t.Run("a create the admission chain refuses stores nothing", func(t *testing.T) {
		_, err := leases.Create(ctx, reservation("holder-zebra", "02:00:00:00:00:09"))
		if !apierrors.IsForbidden(err) {
			t.Fatalf("got %v, want Forbidden", err)
		}
		if _, err := leases.Get(ctx, "holder-zebra", "02-00-00-00-00-09"); !apierrors.IsNotFound(err) {
			t.Fatalf("a refused lease was stored: %v", err)
		}
	})
	t.Run("an invalid lease is refused with the field", func(t *testing.T) {
		invalid := reservation("holder-zebra", "02:00:00:00:00:03")
		invalid.Spec.MACAddress = "02:00:00:00:00:04"
		_, err := leases.Create(ctx, invalid)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.macAddress") {
			t.Fatalf("got %v, want Invalid naming spec.macAddress", err)
		}
	})
	t.Run("the holder binds it in one write", func(t *testing.T) {
		bound := toInternal(t, held)
		bound.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "web-0", UID: types.UID("pod-uid")}}
		bound.Spec.Owner.Name = "web-0"
		bound.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseBound}
		if err := leases.Bind(ctx, bound); err != nil {
			t.Fatalf("binding: %v", err)
		}
		got, err := leases.Get(ctx, "holder-zebra", held.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Phase != v1alpha1.MacLeasePhaseBound || got.Spec.Owner.Name != "web-0" || len(got.OwnerReferences) != 1 ||
			got.ResourceVersion == held.ResourceVersion {
			t.Errorf("after the bind: %+v", got)
		}
		if err := leases.Bind(ctx, bound); !apierrors.IsConflict(err) {
			t.Errorf("a second bind of the version read before: got %v, want Conflict", err)
		}
	})
	t.Run("the holder deletes it", func(t *testing.T) {
		if err := leases.Delete(genericapirequest.NewContext(), "holder-zebra", held.Name, storedVersion(t, leases, "holder-zebra", held.Name)); err != nil {
			t.Fatal(err)
		}
		if _, err := leases.Get(ctx, "holder-zebra", held.Name); !apierrors.IsNotFound(err) {
			t.Fatalf("after the delete: %v", err)
		}
	})
}

// TestStoredLeaseNames reads the names of the stored leases from etcd's keys
// alone, across pages, and nothing from other resources.
func TestStoredLeaseNames(t *testing.T) {
	storage, restOptions := newTestLeaseStorage(t)
	leases := newInProcessLeases(storage, nil, Scheme)
	want := map[string]bool{}
	for i, namespace := range []string{"a", "b", "a"} {
		lease := reservation(namespace, fmt.Sprintf("02:00:00:00:00:%02x", i+1))
		if _, err := leases.Create(context.Background(), lease); err != nil {
			t.Fatal(err)
		}
		want[lease.Name] = true
	}
	// Two pages and a bit.
	defer func(page int64) { storedNamesPage = page }(storedNamesPage)
	storedNamesPage = 1
	names, err := storedLeaseNames(restOptions)(context.Background())
	if err != nil {
		t.Fatalf("listing the stored names: %v", err)
	}
	if len(names) != len(want) {
		t.Fatalf("got names %v, want %v", names, want)
	}
	for _, name := range names {
		if !want[name] {
			t.Errorf("unexpected name %q", name)
		}
	}
}

// A denied admission's cleanup deletes the lease version it created and no
// other: a lease written since (a retried call of the same admission request
// took it over, and may have admitted its object with the MAC) or created
// anew under the name is a Conflict, and stays as it is, protection
// finalizer included, for the lease controller to release with its proof
// that nothing carries the MAC.
func TestInProcessDeleteOfAnotherVersionKeepsTheLease(t *testing.T) {
	leases, _ := newTestLeases(t)
	ctx := context.Background()
	tests := []struct {
		name string
		mac  string
		// stale is the precondition of the cleanup, given the lease as
		// created and as stored now.
		stale func(created, stored *v1alpha1.MacLease) metav1.Preconditions
	}{
		{name: "written since it was created", mac: "02:00:00:00:00:21",
			stale: func(created, _ *v1alpha1.MacLease) metav1.Preconditions {
				return metav1.Preconditions{UID: &created.UID, ResourceVersion: &created.ResourceVersion}
			}},
		{name: "another lease of the name", mac: "02:00:00:00:00:22",
			stale: func(_, stored *v1alpha1.MacLease) metav1.Preconditions {
				earlier := types.UID("uid-of-an-earlier-lease")
				return metav1.Preconditions{UID: &earlier, ResourceVersion: &stored.ResourceVersion}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lease := reservation("tenant", tt.mac)
			lease.Finalizers = []string{macpool.MACProtectionFinalizer}
			lease.Annotations = map[string]string{macpool.AllocationAttemptAnnotation: "request-1/earlier"}
			created, err := leases.Create(ctx, lease)
			if err != nil {
				t.Fatal(err)
			}
			// As a retried call of the same request takes it over, in its
			// own audit event.
			taken := created.DeepCopy()
			taken.Annotations[macpool.AllocationAttemptAnnotation] = "request-1/retried"
			retried := audit.WithAuditContext(ctx)
			stored, err := leases.Rewrite(retried, taken, allocation.TakeOver)
			if err != nil {
				t.Fatalf("taking the lease over: %v", err)
			}
			if got, want := audit.AuditContextFrom(retried).GetEventAnnotations(), map[string]string{
				leaseTakenOverAnnotation: "tenant/" + created.Name}; !maps.Equal(got, want) {
				t.Errorf("the takeover's audit annotations %v, want %v", got, want)
			}

			err = leases.Delete(ctx, "tenant", created.Name, tt.stale(created, stored))

			if !apierrors.IsConflict(err) {
				t.Errorf("the cleanup: %v, want a Conflict", err)
			}
			kept, err := leases.Get(ctx, "tenant", created.Name)
			if err != nil {
				t.Fatalf("after the cleanup: %v; want the lease kept", err)
			}
			if kept.DeletionTimestamp != nil || !slices.Contains(kept.Finalizers, macpool.MACProtectionFinalizer) || kept.ResourceVersion != stored.ResourceVersion {
				t.Errorf("after the cleanup: deleted at %v, finalizers %v, version %s; want the lease as it was (version %s), protected",
					kept.DeletionTimestamp, kept.Finalizers, kept.ResourceVersion, stored.ResourceVersion)
			}
		})
	}
}
