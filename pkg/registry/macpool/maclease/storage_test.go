package maclease

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	etcd3testing "k8s.io/apiserver/pkg/storage/etcd3/testing"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/install"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	statusregistry "kubemacpool.io/kubemacpool/pkg/registry/status"
)

// The holder's namespace is a word no error message would contain by
// chance, so a leak of it is found by a substring search.
const (
	holderNamespace = "holder-zebra"
	otherNamespace  = "intruder"
	heldName        = "02-00-00-00-00-01"
)

type optionsGetter struct {
	config    *storagebackend.Config
	decorator generic.StorageDecorator
}

func (g optionsGetter) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{
		StorageConfig:           g.config.ForResource(resource),
		Decorator:               g.decorator,
		DeleteCollectionWorkers: 1,
		ResourcePrefix:          resource.Group + "/" + resource.Resource,
	}, nil
}

// newTestStorage runs an etcd of the test's own and returns the storage of
// MacLeases on it, decorated as the server decorates it.
func newTestStorage(t testing.TB, decorator generic.StorageDecorator) (*REST, *statusregistry.REST) {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	_, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	config.EventsHistoryWindow = storagebackend.DefaultEventsHistoryWindow
	config.Codec = serializer.NewCodecFactory(scheme).LegacyCodec(v1alpha1.SchemeGroupVersion)
	leases, statuses, err := NewStorage(scheme, optionsGetter{config: config, decorator: decorator})
	if err != nil {
		t.Fatalf("building the storage: %v", err)
	}
	t.Cleanup(func() { leases.Store.DestroyFunc() })
	return leases, statuses
}

func inNamespace(namespace string) context.Context {
	return genericapirequest.WithNamespace(genericapirequest.NewContext(), namespace)
}

func newLease(name string) *macpool.MacLease {
	return &macpool.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: macpool.MacLeaseSpec{
			MACAddress: strings.ReplaceAll(name, "-", ":"),
			Owner:      &macpool.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "secret-owner"},
		},
	}
}

var dryRun = []string{metav1.DryRunAll}

// TestNamespaceGuard drives every verb from another namespace at a lease
// that the holder's namespace holds. Reads, updates and deletes must answer
// NotFound, creates AlreadyExists, dry-run or not, and no answer may name the
// holder's namespace, UID or owner. The lease must come out untouched.
func TestNamespaceGuard(t *testing.T) {
	decorators := map[string]generic.StorageDecorator{
		"etcd":        generic.UndecoratedStorage,
		"watch cache": genericregistry.StorageWithCacher(),
	}
	for decoratorName, decorator := range decorators {
		t.Run(decoratorName, func(t *testing.T) {
			leases, statuses := newTestStorage(t, decorator)
			holder := inNamespace(holderNamespace)
			intruder := inNamespace(otherNamespace)
			created, err := leases.Create(holder, newLease(heldName), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("creating the held lease: %v", err)
			}
			held := created.(*macpool.MacLease)

			// A foreign copy of the held lease, as a client that guessed or
			// learnt its UID and version would send it.
			forged := func() *macpool.MacLease {
				lease := held.DeepCopy()
				lease.Namespace = otherNamespace
				lease.Labels = map[string]string{"changed": "true"}
				return lease
			}
			withoutPreconditions := func() *macpool.MacLease {
				lease := forged()
				lease.UID, lease.ResourceVersion = "", ""
				return lease
			}
			withUID := func() *macpool.MacLease {
				lease := forged()
				lease.ResourceVersion = ""
				return lease
			}
			withGuessedUID := func() *macpool.MacLease {
				lease := withUID()
				lease.UID = "guessed"
				return lease
			}
			withGuessedVersion := func() *macpool.MacLease {
				lease := withoutPreconditions()
				lease.ResourceVersion = "1"
				return lease
			}
			uidPrecondition := &metav1.Preconditions{UID: &held.UID}
			guessed := types.UID("guessed")
			guessedUIDPrecondition := &metav1.Preconditions{UID: &guessed}
			versionPrecondition := &metav1.Preconditions{ResourceVersion: &held.ResourceVersion}

			update := func(lease *macpool.MacLease, forceAllowCreate bool, dry []string) error {
				_, _, err := leases.Update(intruder, heldName, rest.DefaultUpdatedObjectInfo(lease), rest.ValidateAllObjectFunc,
					rest.ValidateAllObjectUpdateFunc, forceAllowCreate, &metav1.UpdateOptions{DryRun: dry})
				return err
			}
			updateStatus := func(lease *macpool.MacLease, dry []string) error {
				lease.Status.Phase = macpool.MacLeasePhaseBound
				_, _, err := statuses.Update(intruder, heldName, rest.DefaultUpdatedObjectInfo(lease), rest.ValidateAllObjectFunc,
					rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{DryRun: dry})
				return err
			}
			remove := func(preconditions *metav1.Preconditions, dry []string) error {
				_, _, err := leases.Delete(intruder, heldName, rest.ValidateAllObjectFunc, &metav1.DeleteOptions{Preconditions: preconditions, DryRun: dry})
				return err
			}
			create := func(dry []string) error {
				_, err := leases.Create(intruder, newLease(heldName), rest.ValidateAllObjectFunc, &metav1.CreateOptions{DryRun: dry})
				return err
			}

			cases := []struct {
				verb string
				call func() error
				want func(error) bool
			}{
				{"get", func() error { _, err := leases.Get(intruder, heldName, &metav1.GetOptions{}); return err }, apierrors.IsNotFound},
				{"get from the watch cache", func() error {
					_, err := leases.Get(intruder, heldName, &metav1.GetOptions{ResourceVersion: "0"})
					return err
				}, apierrors.IsNotFound},
				{"get status", func() error { _, err := statuses.Get(intruder, heldName, &metav1.GetOptions{}); return err }, apierrors.IsNotFound},
				{"update", func() error { return update(withoutPreconditions(), false, nil) }, apierrors.IsNotFound},
				{"update with the holder's UID", func() error { return update(withUID(), false, nil) }, apierrors.IsNotFound},
				{"update with the holder's UID and resourceVersion", func() error { return update(forged(), false, nil) }, apierrors.IsNotFound},
				{"update with a guessed UID", func() error { return update(withGuessedUID(), false, nil) }, apierrors.IsNotFound},
				{"update with a guessed resourceVersion", func() error { return update(withGuessedVersion(), false, nil) }, apierrors.IsNotFound},
				{"dry-run update with a guessed UID", func() error { return update(withGuessedUID(), false, dryRun) }, apierrors.IsNotFound},
				{"update status with a guessed UID", func() error { return updateStatus(withGuessedUID(), nil) }, apierrors.IsNotFound},
				{"dry-run update status with a guessed UID", func() error { return updateStatus(withGuessedUID(), dryRun) }, apierrors.IsNotFound},
				{"create on update (server-side apply) with a guessed UID", func() error { return update(withGuessedUID(), true, nil) }, apierrors.IsAlreadyExists},
				{"delete with a guessed UID", func() error { return remove(guessedUIDPrecondition, nil) }, apierrors.IsNotFound},
				{"dry-run delete with a guessed UID", func() error { return remove(guessedUIDPrecondition, dryRun) }, apierrors.IsNotFound},
				{"dry-run update", func() error { return update(withoutPreconditions(), false, dryRun) }, apierrors.IsNotFound},
				{"dry-run update with the holder's UID", func() error { return update(withUID(), false, dryRun) }, apierrors.IsNotFound},
				{"update status", func() error { return updateStatus(withoutPreconditions(), nil) }, apierrors.IsNotFound},
				{"update status with the holder's UID", func() error { return updateStatus(forged(), nil) }, apierrors.IsNotFound},
				{"dry-run update status with the holder's UID", func() error { return updateStatus(forged(), dryRun) }, apierrors.IsNotFound},
				{"create on update (server-side apply)", func() error { return update(withoutPreconditions(), true, nil) }, apierrors.IsAlreadyExists},
				{"dry-run create on update (server-side apply)", func() error { return update(withoutPreconditions(), true, dryRun) }, apierrors.IsAlreadyExists},
				{"create", func() error { return create(nil) }, apierrors.IsAlreadyExists},
				{"dry-run create", func() error { return create(dryRun) }, apierrors.IsAlreadyExists},
				{"delete", func() error { return remove(nil, nil) }, apierrors.IsNotFound},
				{"delete with the holder's UID", func() error { return remove(uidPrecondition, nil) }, apierrors.IsNotFound},
				{"delete with the holder's resourceVersion", func() error { return remove(versionPrecondition, nil) }, apierrors.IsNotFound},
				{"dry-run delete", func() error { return remove(nil, dryRun) }, apierrors.IsNotFound},
				{"dry-run delete with the holder's UID", func() error { return remove(uidPrecondition, dryRun) }, apierrors.IsNotFound},
			}
			for _, tc := range cases {
				t.Run(tc.verb, func(t *testing.T) {
					err := tc.call()
					if !tc.want(err) {
						t.Fatalf("got %v (reason %q), want another answer", err, apierrors.ReasonForError(err))
					}
					expectNoLeak(t, err, held)
				})
			}

			t.Run("list", func(t *testing.T) {
				for _, resourceVersion := range []string{"", "0"} {
					list, err := leases.List(intruder, &metainternalversion.ListOptions{ResourceVersion: resourceVersion})
					if err != nil {
						t.Fatalf("listing: %v", err)
					}
					if items := list.(*macpool.MacLeaseList).Items; len(items) != 0 {
						t.Errorf("resourceVersion %q: the other namespace lists %d leases, want none", resourceVersion, len(items))
					}
				}
			})

			t.Run("delete collection", func(t *testing.T) {
				deleted, err := leases.DeleteCollection(intruder, rest.ValidateAllObjectFunc, &metav1.DeleteOptions{}, &metainternalversion.ListOptions{})
				if err != nil {
					t.Fatalf("deleting the collection: %v", err)
				}
				if items := deleted.(*macpool.MacLeaseList).Items; len(items) != 0 {
					t.Errorf("deleted %d leases of another namespace", len(items))
				}
			})

			t.Run("watch", func(t *testing.T) {
				w, err := leases.Watch(intruder, &metainternalversion.ListOptions{ResourceVersion: held.ResourceVersion})
				if err != nil {
					t.Fatalf("watching: %v", err)
				}
				defer w.Stop()
				// An update of the held lease, then a lease of the watcher's
				// own: the first event must be the latter.
				if _, _, err := leases.Update(holder, heldName, rest.DefaultUpdatedObjectInfo(withLabel(held)), rest.ValidateAllObjectFunc,
					rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{}); err != nil {
					t.Fatalf("updating the held lease in its namespace: %v", err)
				}
				if _, err := leases.Create(intruder, newLease("02-00-00-00-00-02"), rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
					t.Fatalf("creating a lease of the watcher's namespace: %v", err)
				}
				select {
				case event := <-w.ResultChan():
					object := event.Object
					if cached, ok := object.(runtime.CacheableObject); ok {
						object = cached.GetObject()
					}
					lease, ok := object.(*macpool.MacLease)
					if event.Type != watch.Added || !ok || lease.Namespace != otherNamespace {
						t.Fatalf("first event is %s %#v, want the watcher's own lease", event.Type, object)
					}
				case <-time.After(wait.ForeverTestTimeout):
					t.Fatal("no event for the watcher's own lease")
				}
			})

			// The held lease came out of it all unchanged, but for the
			// holder's own update in the watch case.
			got, err := leases.Get(holder, heldName, &metav1.GetOptions{})
			if err != nil {
				t.Fatalf("the held lease is gone: %v", err)
			}
			lease := got.(*macpool.MacLease)
			if lease.UID != held.UID || lease.Namespace != holderNamespace || lease.Status.Phase != "" {
				t.Errorf("the held lease changed: %+v", lease)
			}

			t.Run("the holder's own preconditions still apply", func(t *testing.T) {
				stale := lease.DeepCopy()
				stale.UID = types.UID("not-the-uid")
				_, _, err := leases.Update(holder, heldName, rest.DefaultUpdatedObjectInfo(stale), rest.ValidateAllObjectFunc,
					rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
				if !apierrors.IsConflict(err) {
					t.Errorf("update with a wrong UID: got %v, want a conflict", err)
				}
				wrong := types.UID("not-the-uid")
				_, _, err = leases.Delete(holder, heldName, rest.ValidateAllObjectFunc, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrong}})
				if !apierrors.IsConflict(err) {
					t.Errorf("delete with a wrong UID: got %v, want a conflict", err)
				}
				_, _, err = leases.Delete(holder, heldName, rest.ValidateAllObjectFunc, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &lease.UID}})
				if err != nil {
					t.Errorf("delete with the right UID: %v", err)
				}
			})
		})
	}
}

func withLabel(lease *macpool.MacLease) *macpool.MacLease {
	updated := lease.DeepCopy()
	updated.ResourceVersion = ""
	updated.Labels = map[string]string{"touched": "by-holder"}
	return updated
}

// expectNoLeak fails if an answer names anything of the holder but the
// lease's name, which the client sent.
func expectNoLeak(t *testing.T, err error, held *macpool.MacLease) {
	t.Helper()
	if err == nil {
		return
	}
	for _, secret := range []string{holderNamespace, string(held.UID), "secret-owner"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the answer %q names %q of the holder", err, secret)
		}
	}
}
