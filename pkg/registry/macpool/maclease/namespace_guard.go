package maclease

import (
	"context"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/storage"
)

// namespaceGuard confines every storage call made for a namespaced request to
// that namespace. Keys carry no namespace (see the package doc), so without it
// a lease of namespace A could be read, changed or deleted by its name through
// namespace B. A lease of another namespace is reported as not found, exactly
// like an absent key, so that nothing about its holder leaks.
type namespaceGuard struct {
	storage.Interface
}

// requestNamespace is the namespace of a namespaced request, or "" for a
// cluster-wide list or watch (kubectl get -A).
func requestNamespace(ctx context.Context) string {
	namespace, _ := genericapirequest.NamespaceFrom(ctx)
	return namespace
}

// belongsElsewhere reports whether obj is a stored lease outside the request's
// namespace. An empty object (a key that does not exist, which
// GuaranteedUpdate hands over when ignoreNotFound is set) belongs nowhere.
func belongsElsewhere(ctx context.Context, obj runtime.Object) bool {
	namespace := requestNamespace(ctx)
	if namespace == "" || obj == nil {
		return false
	}
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	return accessor.GetNamespace() != "" && accessor.GetNamespace() != namespace
}

func (g namespaceGuard) Get(ctx context.Context, key string, opts storage.GetOptions, out runtime.Object) error {
	if err := g.Interface.Get(ctx, key, opts, out); err != nil {
		return err
	}
	if belongsElsewhere(ctx, out) {
		if opts.IgnoreNotFound {
			return clearObject(out)
		}
		return storage.NewKeyNotFoundError(key, 0)
	}
	return nil
}

func (g namespaceGuard) GetList(ctx context.Context, key string, opts storage.ListOptions, listObj runtime.Object) error {
	opts.Predicate = confineToNamespace(ctx, opts.Predicate)
	return g.Interface.GetList(ctx, key, opts, listObj)
}

func (g namespaceGuard) Watch(ctx context.Context, key string, opts storage.ListOptions) (watch.Interface, error) {
	opts.Predicate = confineToNamespace(ctx, opts.Predicate)
	return g.Interface.Watch(ctx, key, opts)
}

func (g namespaceGuard) GuaranteedUpdate(ctx context.Context, key string, destination runtime.Object, ignoreNotFound bool,
	preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc, cachedExistingObject runtime.Object) error {
	guardedUpdate := func(existing runtime.Object, res storage.ResponseMeta) (runtime.Object, *uint64, error) {
		if belongsElsewhere(ctx, existing) {
			return nil, nil, storage.NewKeyNotFoundError(key, 0)
		}
		return tryUpdate(existing, res)
	}
	return g.Interface.GuaranteedUpdate(ctx, key, destination, ignoreNotFound, preconditions, guardedUpdate, cachedExistingObject)
}

func (g namespaceGuard) Delete(ctx context.Context, key string, out runtime.Object, preconditions *storage.Preconditions,
	validateDeletion storage.ValidateObjectFunc, cachedExistingObject runtime.Object, opts storage.DeleteOptions) error {
	// validateDeletion runs inside the delete transaction on the object as
	// stored, so the check cannot race with a re-create in another namespace.
	guardedValidation := func(ctx context.Context, existing runtime.Object) error {
		if belongsElsewhere(ctx, existing) {
			return storage.NewKeyNotFoundError(key, 0)
		}
		if validateDeletion == nil {
			return nil
		}
		return validateDeletion(ctx, existing)
	}
	return g.Interface.Delete(ctx, key, out, preconditions, guardedValidation, cachedExistingObject, opts)
}

// confineToNamespace adds metadata.namespace=<request namespace> to the field
// selector of a namespaced list or watch.
func confineToNamespace(ctx context.Context, predicate storage.SelectionPredicate) storage.SelectionPredicate {
	namespace := requestNamespace(ctx)
	if namespace == "" {
		return predicate
	}
	inNamespace := fields.OneTermEqualSelector("metadata.namespace", namespace)
	if predicate.Field == nil || predicate.Field.Empty() {
		predicate.Field = inNamespace
	} else {
		predicate.Field = fields.AndSelectors(predicate.Field, inNamespace)
	}
	return predicate
}

// clearObject resets out to its zero value, as storage does for a missing
// key when IgnoreNotFound is set.
func clearObject(out runtime.Object) error {
	value, err := conversion.EnforcePtr(out)
	if err != nil {
		return fmt.Errorf("clearing %T: %w", out, err)
	}
	value.Set(reflect.Zero(value.Type()))
	return nil
}
