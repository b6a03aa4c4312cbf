package maclease

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/apiserver/pkg/util/dryrun"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/registry/status"
)

// REST is the storage of the main resource.
type REST struct {
	*genericregistry.Store
	// unguarded is the storage below namespaceGuard. A dry run never
	// writes, so the key's atomic create cannot refuse a key held
	// elsewhere; this is where a dry run looks instead.
	unguarded storage.Interface
	// bind is the in-process storage of a one-write bind.
	bind *status.REST
}

var (
	_ rest.ShortNamesProvider = &REST{}
	_ rest.CategoriesProvider = &REST{}
)

// ShortNames lets users type `kubectl get ml`.
func (*REST) ShortNames() []string { return []string{"ml", "mlease"} }

// Categories puts leases in `kubectl get kubemacpool`.
func (*REST) Categories() []string { return []string{"kubemacpool"} }

// NewStorage returns the storage of MacLeases and of their status.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, *status.REST, error) {
	resource := macpool.Resource("macleases")
	options, err := optsGetter.GetRESTOptions(resource, &macpool.MacLease{})
	if err != nil {
		return nil, nil, fmt.Errorf("getting storage options of %s: %w", resource, err)
	}
	prefix := "/" + options.ResourcePrefix

	strategy := NewStrategy(scheme)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &macpool.MacLease{} },
		NewListFunc:               func() runtime.Object { return &macpool.MacLeaseList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  resource,
		SingularQualifiedResource: macpool.Resource("maclease"),

		// The key is the MAC alone: see the package doc.
		KeyRootFunc: func(ctx context.Context) string { return prefix },
		KeyFunc: func(ctx context.Context, name string) (string, error) {
			if _, ok := genericapirequest.NamespaceFrom(ctx); !ok {
				return "", errors.NewBadRequest("a MacLease is namespaced: the request needs a namespace")
			}
			return genericregistry.NoNamespaceKeyFunc(ctx, prefix, name)
		},

		CreateStrategy:      strategy,
		UpdateStrategy:      strategy,
		DeleteStrategy:      strategy,
		ResetFieldsStrategy: strategy,

		TableConvertor: tableConvertor,
	}
	guarded := &guardedOptions{RESTOptionsGetter: optsGetter}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: guarded, AttrFunc: GetAttrs}); err != nil {
		return nil, nil, fmt.Errorf("completing storage of %s: %w", resource, err)
	}
	main := &REST{Store: store, unguarded: guarded.unguarded, bind: status.NewREST(store, NewBindStrategy(strategy))}
	return main, status.NewREST(store, NewStatusStrategy(strategy)), nil
}

// Binding is the storage of a bind: an update that may change the owner,
// the owner references and the status at once (see bindStrategy). It shares
// the main resource's guarded storage and is never installed in the API.
func (r *REST) Binding() rest.Updater { return r.bind }

// guardedOptions puts namespaceGuard around the storage the store is built
// on, inside CompleteWithOptions. Swapping it in afterwards would race with
// what that call already started on the storage (the object-count poller),
// and leave a moment in which the store is not guarded.
type guardedOptions struct {
	generic.RESTOptionsGetter
	// unguarded is the storage below the guard, once the store is built.
	unguarded storage.Interface
}

func (g *guardedOptions) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	options, err := g.RESTOptionsGetter.GetRESTOptions(resource, example)
	if err != nil {
		return options, err
	}
	decorate := options.Decorator
	options.Decorator = func(config *storagebackend.ConfigForResource, resourcePrefix string, keyFunc func(runtime.Object) (string, error),
		newFunc, newListFunc func() runtime.Object, attrs storage.AttrFunc, triggers storage.IndexerFuncs,
		indexers *cache.Indexers) (storage.Interface, factory.DestroyFunc, error) {
		underlying, destroy, err := decorate(config, resourcePrefix, keyFunc, newFunc, newListFunc, attrs, triggers, indexers)
		if err != nil {
			return nil, nil, err
		}
		g.unguarded = underlying
		return namespaceGuard{Interface: underlying}, destroy, nil
	}
	return options, nil
}

// Create refuses a dry-run create of a key that another namespace holds,
// as the real create does: 409 AlreadyExists with the name alone.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	if options != nil && dryrun.IsDryRun(options.DryRun) {
		if accessor, err := meta.Accessor(obj); err == nil && accessor.GetName() != "" {
			if err := r.refuseHeldElsewhere(ctx, accessor.GetName()); err != nil {
				return nil, err
			}
		}
	}
	return r.Store.Create(ctx, obj, createValidation, options)
}

// Update refuses a dry-run update that would create (server-side apply of
// a lease this namespace does not have) a key that another namespace holds;
// namespaceGuard does the same for the real one.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	if options != nil && dryrun.IsDryRun(options.DryRun) && (forceAllowCreate || r.UpdateStrategy.AllowCreateOnUpdate(ctx)) {
		if err := r.refuseHeldElsewhere(ctx, name); err != nil {
			return nil, false, err
		}
	}
	return r.Store.Update(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, options)
}

// refuseHeldElsewhere answers AlreadyExists, naming only the lease, when
// another namespace than the request's holds name.
func (r *REST) refuseHeldElsewhere(ctx context.Context, name string) error {
	key, err := r.KeyFunc(ctx, name)
	if err != nil {
		return err
	}
	existing := r.NewFunc()
	err = r.unguarded.Get(ctx, key, storage.GetOptions{}, existing)
	switch {
	case storage.IsNotFound(err):
		return nil
	case err != nil:
		return storeerr.InterpretGetError(err, r.DefaultQualifiedResource, name)
	case belongsElsewhere(ctx, existing):
		return errors.NewAlreadyExists(r.DefaultQualifiedResource, name)
	}
	return nil
}
