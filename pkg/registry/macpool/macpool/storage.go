package macpool

import (
	"context"
	"fmt"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

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
	// The overlap warnings read the other pools from the watch cache
	// (resourceVersion 0): pools are few and rarely written.
	*strategy.others = func(ctx context.Context) ([]macpool.MacPool, error) {
		listed, err := store.List(genericapirequest.WithNamespace(ctx, metav1.NamespaceNone), &metainternalversion.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return nil, err
		}
		return listed.(*macpool.MacPoolList).Items, nil
	}
	return &REST{Store: store}, status.NewREST(store, NewStatusStrategy(strategy)), nil
}
