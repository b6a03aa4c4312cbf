package maclease

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/validation"
)

// bindStrategy is the update that binds a lease: the owner's references and
// full name, and the Bound status, in one write. Through the API that takes
// an update of the lease and another of its status, each a etcd write and a
// watch event; binding is the only work every Pod costs after its create, so
// the lease controller does it in one. It is not served: only the server's
// own controller reaches it, in process (see pkg/apiserver).
type bindStrategy struct {
	leaseStrategy
}

// NewBindStrategy returns the strategy of the in-process bind storage.
func NewBindStrategy(main leaseStrategy) bindStrategy { return bindStrategy{main} }

// GetResetFields resets nothing: a bind sets spec and status alike.
func (bindStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set { return nil }

// PrepareForUpdate keeps the object the controller wrote, status included.
func (bindStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {}

// ValidateUpdate is the main resource's update validation, which covers the
// status too: the address never changes, and every field stays valid.
func (bindStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateMacLeaseUpdate(obj.(*macpool.MacLease), old.(*macpool.MacLease))
}
