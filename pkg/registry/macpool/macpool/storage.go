package macpool

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
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

// ShortNames lets users type `kubectl get mp`.
func (*REST) ShortNames() []string { return []string{"mp", "mpool"} }

// Categories puts pools in `kubectl get kubemacpool`.
func (*REST) Categories() []string { return []string{"kubemacpool"} }

// NewStorage returns the storage of MacPools and of their status.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, *status.REST, error) {
	strategy := NewStrategy(scheme)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &macpool.MacPool{} },
		NewListFunc:               func() runtime.Object { return &macpool.MacPoolList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  macpool.Resource("macpools"),
		SingularQualifiedResource: macpool.Resource("macpool"),

		CreateStrategy:      strategy,
		UpdateStrategy:      strategy,
		DeleteStrategy:      strategy,
		ResetFieldsStrategy: strategy,

		TableConvertor: tableConvertor,
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return nil, nil, fmt.Errorf("completing storage of macpools: %w", err)
	}
	return &REST{Store: store}, status.NewREST(store, NewStatusStrategy(strategy)), nil
}
