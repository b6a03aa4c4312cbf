package maclease

import (
	"context"
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
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
		// Even with IgnoreNotFound: the only caller that sets it is a
		// dry-run update, and an empty object would let it run the
		// object's preconditions (a 409 instead of a 404) or create it.
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

// GuaranteedUpdate hides a lease of another namespace behind the answers an
// absent key gets. The preconditions are checked here, after the namespace:
// checked first (as storage does), a UID precondition on another
// namespace's lease answers 409 with that lease's UID in the message.
// An update that may create (server-side apply, create-on-update) runs up to
// the create and is then refused as AlreadyExists, like any create of a key
// held elsewhere; one that may not answers NotFound.
func (g namespaceGuard) GuaranteedUpdate(ctx context.Context, key string, destination runtime.Object, ignoreNotFound bool,
	preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc, cachedExistingObject runtime.Object) error {
	guardedUpdate := func(existing runtime.Object, res storage.ResponseMeta) (runtime.Object, *uint64, error) {
		if belongsElsewhere(ctx, existing) {
			if !ignoreNotFound {
				return nil, nil, storage.NewKeyNotFoundError(key, 0)
			}
			if _, _, err := tryUpdate(emptyLike(existing), storage.ResponseMeta{}); err != nil {
				return nil, nil, err
			}
			return nil, nil, storage.NewKeyExistsError(key, 0)
		}
		if err := preconditions.Check(key, existing); err != nil {
			return nil, nil, err
		}
		return tryUpdate(existing, res)
	}
	return g.Interface.GuaranteedUpdate(ctx, key, destination, ignoreNotFound, nil, guardedUpdate, cachedExistingObject)
}

// Delete checks the namespace inside the delete transaction (the
// validateDeletion callback runs on the object as stored), so the check
// cannot race with a re-create in another namespace. Preconditions are
// checked after it, for the reason given at GuaranteedUpdate.
func (g namespaceGuard) Delete(ctx context.Context, key string, out runtime.Object, preconditions *storage.Preconditions,
	validateDeletion storage.ValidateObjectFunc, cachedExistingObject runtime.Object, opts storage.DeleteOptions) error {
	guardedValidation := func(ctx context.Context, existing runtime.Object) error {
		if belongsElsewhere(ctx, existing) {
			return storage.NewKeyNotFoundError(key, 0)
		}
		if err := preconditions.Check(key, existing); err != nil {
			return err
		}
		if validateDeletion == nil {
			return nil
		}
		return validateDeletion(ctx, existing)
	}
	return g.Interface.Delete(ctx, key, out, nil, guardedValidation, cachedExistingObject, opts)
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

// emptyLike returns a new, empty object of obj's type: what storage hands
// an update of a key that does not exist.
func emptyLike(obj runtime.Object) runtime.Object {
	return reflect.New(reflect.TypeOf(obj).Elem()).Interface().(runtime.Object)
}
