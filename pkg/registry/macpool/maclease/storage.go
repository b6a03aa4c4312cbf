package maclease

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/registry/status"
)

// REST is the storage of the main resource.
type REST struct {
	*genericregistry.Store
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
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return nil, nil, fmt.Errorf("completing storage of %s: %w", resource, err)
	}
	store.Storage.Storage = namespaceGuard{Interface: store.Storage.Storage}

	return &REST{Store: store}, status.NewREST(store, NewStatusStrategy(strategy)), nil
}
