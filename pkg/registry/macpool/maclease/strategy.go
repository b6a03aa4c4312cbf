package maclease

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

// leaseStrategy is the create, update and delete behaviour of the main resource.
type leaseStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

// NewStrategy returns the strategy of the main resource.
func NewStrategy(typer runtime.ObjectTyper) leaseStrategy {
	return leaseStrategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator}
}

func (leaseStrategy) NamespaceScoped() bool { return true }

// GetResetFields tells server-side apply that status belongs to the status
// subresource.
func (leaseStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return status.MainResetFields(v1alpha1.SchemeGroupVersion.String())
}

// PrepareForCreate keeps the status a client sent: a lease created by an
// administrator or the webhook may start Reserved with an expiry.
func (leaseStrategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {}

func (leaseStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	obj.(*macpool.MacLease).Status = old.(*macpool.MacLease).Status
}

func (leaseStrategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateMacLease(obj.(*macpool.MacLease))
}

func (leaseStrategy) WarningsOnCreate(ctx context.Context, obj runtime.Object) []string { return nil }

func (leaseStrategy) AllowCreateOnUpdate(ctx context.Context) bool { return false }

func (leaseStrategy) AllowUnconditionalUpdate(ctx context.Context) bool { return true }

func (leaseStrategy) Canonicalize(obj runtime.Object) {}

func (leaseStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateMacLeaseUpdate(obj.(*macpool.MacLease), old.(*macpool.MacLease))
}

func (leaseStrategy) WarningsOnUpdate(ctx context.Context, obj, old runtime.Object) []string {
	return nil
}

// statusStrategy lets the status subresource change status only.
type statusStrategy struct {
	leaseStrategy
}

// NewStatusStrategy returns the strategy of the status subresource.
func NewStatusStrategy(main leaseStrategy) statusStrategy {
	return statusStrategy{main}
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return status.SubresourceResetFields(v1alpha1.SchemeGroupVersion.String())
}

func (statusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	newLease, oldLease := obj.(*macpool.MacLease), old.(*macpool.MacLease)
	newLease.Spec = oldLease.Spec
	newLease.Labels = oldLease.Labels
	newLease.Annotations = oldLease.Annotations
}

func (statusStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateMacLeaseStatusUpdate(obj.(*macpool.MacLease), old.(*macpool.MacLease))
}

// GetAttrs returns the labels and selectable fields of a lease.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	lease, ok := obj.(*macpool.MacLease)
	if !ok {
		return nil, nil, fmt.Errorf("expected a MacLease, got %T", obj)
	}
	return labels.Set(lease.Labels), SelectableFields(lease), nil
}

// SelectableFields are the fields a client may select leases by: the
// object metadata's and macpool.MacLeaseFields.
func SelectableFields(lease *macpool.MacLease) fields.Set {
	return generic.AddObjectMetaFieldsSet(fields.Set(macpool.MacLeaseFields(lease)), &lease.ObjectMeta, true)
}

// Match is the filter used for list and watch.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
