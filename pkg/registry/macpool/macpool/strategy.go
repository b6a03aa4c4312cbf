package macpool

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/validation"
	"kubemacpool.io/kubemacpool/pkg/registry/status"
)

// poolStrategy is the create, update and delete behaviour of the main resource.
type poolStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	// others lists the stored pools for the overlap warnings; nil skips
	// that check. A pointer, because the store is built after the
	// strategy and the lister reads the store.
	others *PoolLister
}

// NewStrategy returns the strategy of the main resource.
func NewStrategy(typer runtime.ObjectTyper) poolStrategy {
	return poolStrategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator, others: new(PoolLister)}
}

func (s poolStrategy) warnings(ctx context.Context, pool *macpool.MacPool) []string {
	var others PoolLister
	if s.others != nil {
		others = *s.others
	}
	return append(rangeWarnings(ctx, pool, others), networkWarnings(ctx, pool, others)...)
}

func (poolStrategy) NamespaceScoped() bool { return false }

func (poolStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return status.MainResetFields(v1alpha1.SchemeGroupVersion.String())
}

// PrepareForCreate drops any status a client sent: the allocator reports it.
func (poolStrategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	obj.(*macpool.MacPool).Status = macpool.MacPoolStatus{}
}

func (poolStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	newPool, oldPool := obj.(*macpool.MacPool), old.(*macpool.MacPool)
	newPool.Status = oldPool.Status
}

func (poolStrategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateMacPool(obj.(*macpool.MacPool))
}

// WarningsOnCreate says why a range is risky: not locally administered, or
// overlapping another pool's.
func (s poolStrategy) WarningsOnCreate(ctx context.Context, obj runtime.Object) []string {
	return s.warnings(ctx, obj.(*macpool.MacPool))
}

func (poolStrategy) AllowCreateOnUpdate(ctx context.Context) bool { return false }

func (poolStrategy) AllowUnconditionalUpdate(ctx context.Context) bool { return true }

func (poolStrategy) Canonicalize(obj runtime.Object) {}

func (poolStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateMacPoolUpdate(obj.(*macpool.MacPool), old.(*macpool.MacPool))
}

// WarningsOnUpdate warns like WarningsOnCreate, so an edit that makes a
// range risky is told so.
func (s poolStrategy) WarningsOnUpdate(ctx context.Context, obj, old runtime.Object) []string {
	return s.warnings(ctx, obj.(*macpool.MacPool))
}

// statusStrategy lets the status subresource change status only.
type statusStrategy struct {
	poolStrategy
}

// NewStatusStrategy returns the strategy of the status subresource.
func NewStatusStrategy(main poolStrategy) statusStrategy {
	return statusStrategy{main}
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return status.SubresourceResetFields(v1alpha1.SchemeGroupVersion.String())
}

func (statusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	newPool, oldPool := obj.(*macpool.MacPool), old.(*macpool.MacPool)
	newPool.Spec = oldPool.Spec
	newPool.Labels = oldPool.Labels
	newPool.Annotations = oldPool.Annotations
}

// WarningsOnUpdate is empty: a status write changes no range, and the
// allocator writes status often.
func (statusStrategy) WarningsOnUpdate(ctx context.Context, obj, old runtime.Object) []string {
	return nil
}

func (statusStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateMacPoolStatusUpdate(obj.(*macpool.MacPool), old.(*macpool.MacPool))
}

// GetAttrs returns the labels and selectable fields of a pool.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	pool, ok := obj.(*macpool.MacPool)
	if !ok {
		return nil, nil, fmt.Errorf("expected a MacPool, got %T", obj)
	}
	return labels.Set(pool.Labels), generic.ObjectMetaFieldsSet(&pool.ObjectMeta, false), nil
}

// Match is the filter used for list and watch.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
