package apiserver

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	leasecontroller "kubemacpool.io/kubemacpool/pkg/controller/lease"
	macleasestorage "kubemacpool.io/kubemacpool/pkg/registry/macpool/maclease"
)

// leaseStorage is the part of the MacLease registry written in process.
type leaseStorage interface {
	rest.Creater
	rest.Getter
	rest.GracefulDeleter
}

// inProcessLeases writes the webhooks' leases straight into the MacLease
// registry. Through the loopback client every lease cost TLS, authentication,
// authorization, JSON both ways and managed fields, for a request this server
// made to itself; most of an admission's CPU went there.
//
// It keeps what the HTTP path guarantees: the registry's strategy validates
// and the namespace guard confines the call to the lease's namespace (both
// sit under rest.Creater), and the server's admission chain (namespace
// lifecycle, admission webhooks and policies, MacLeaseReservationScope,
// MacLeaseProtection, ResourceQuota) runs with the same attributes and the
// same identity, the loopback user, as a request through the loopback
// client.
type inProcessLeases struct {
	storage leaseStorage
	// binding updates owner, owner references and status in one write.
	binding rest.Updater
	admit   admission.Interface
	scheme  *runtime.Scheme
	objects admission.ObjectInterfaces
	audit   leaseAudit
}

var (
	_ allocation.Leases      = &inProcessLeases{}
	_ leasecontroller.Binder = &inProcessLeases{}
)

func newInProcessLeases(storage *macleasestorage.REST, admit admission.Interface, scheme *runtime.Scheme) *inProcessLeases {
	return &inProcessLeases{storage: storage, binding: storage.Binding(), admit: admit, scheme: scheme,
		objects: admission.NewObjectInterfacesFromScheme(scheme)}
}

var (
	leaseKind     = v1alpha1.SchemeGroupVersion.WithKind("MacLease")
	leaseResource = v1alpha1.SchemeGroupVersion.WithResource("macleases")
	// loopbackUser is who the loopback client authenticates as.
	loopbackUser = &user.DefaultInfo{Name: user.APIServerUser, Groups: []string{user.SystemPrivilegedGroup, user.AllAuthenticated}}
)

// requestContext is ctx as the handler chain would have made it for a
// loopback request on the lease: its namespace, user and request info. The
// audit context of the webhook call, if any, stays: the lease writes are
// recorded as annotations of that event.
func requestContext(ctx context.Context, verb, namespace, name string) context.Context {
	ctx = genericapirequest.WithNamespace(ctx, namespace)
	ctx = genericapirequest.WithUser(ctx, loopbackUser)
	return genericapirequest.WithRequestInfo(ctx, &genericapirequest.RequestInfo{
		IsResourceRequest: true,
		Verb:              verb,
		APIPrefix:         "apis",
		APIGroup:          leaseResource.Group,
		APIVersion:        leaseResource.Version,
		Namespace:         namespace,
		Resource:          leaseResource.Resource,
		Name:              name,
	})
}

func (l *inProcessLeases) Create(ctx context.Context, lease *v1alpha1.MacLease) (*v1alpha1.MacLease, error) {
	ctx = requestContext(ctx, "create", lease.Namespace, lease.Name)
	versioned := lease.DeepCopy()
	l.scheme.Default(versioned)
	internal := &macpool.MacLease{}
	if err := l.scheme.Convert(versioned, internal, nil); err != nil {
		return nil, fmt.Errorf("converting lease %s/%s: %w", lease.Namespace, lease.Name, err)
	}
	options := &metav1.CreateOptions{}
	attributes := admission.NewAttributesRecord(internal, nil, leaseKind, lease.Namespace, lease.Name, leaseResource, "",
		admission.Create, options, false, loopbackUser)
	if err := l.mutate(ctx, attributes); err != nil {
		return nil, err
	}
	created, err := l.storage.Create(ctx, internal, rest.AdmissionToValidateObjectFunc(l.admit, attributes, l.objects), options)
	if err != nil {
		return nil, err
	}
	l.audit.record(ctx, leaseCreatedAnnotation, lease.Namespace, lease.Name)
	return l.toVersioned(created)
}

func (l *inProcessLeases) Get(ctx context.Context, namespace, name string) (*v1alpha1.MacLease, error) {
	ctx = requestContext(ctx, "get", namespace, name)
	obj, err := l.storage.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return l.toVersioned(obj)
}

// heldByNodes tells a lease that records nodes which may still run a
// removed Pod with its MAC.
func heldByNodes(lease *macpool.MacLease) bool {
	_, found := lease.Annotations[macpool.NodeHoldsAnnotation]
	return found
}

// Delete deletes the version of the lease that preconditions name, as the
// registry's delete does: another version is a Conflict, and stays.
func (l *inProcessLeases) Delete(ctx context.Context, namespace, name string, preconditions metav1.Preconditions) error {
	ctx = requestContext(ctx, "delete", namespace, name)
	options := &metav1.DeleteOptions{Preconditions: &preconditions}
	attributes := admission.NewAttributesRecord(nil, nil, leaseKind, namespace, name, leaseResource, "",
		admission.Delete, options, false, loopbackUser)
	if err := l.mutate(ctx, attributes); err != nil {
		return err
	}
	obj, deleted, err := l.storage.Delete(ctx, name, rest.AdmissionToValidateObjectDeleteFunc(l.admit, attributes, l.objects), options)
	if err != nil {
		return err
	}
	l.audit.record(ctx, leaseDeletedAnnotation, namespace, name)
	if lease, ok := obj.(*macpool.MacLease); ok && !deleted && slices.Contains(lease.Finalizers, macpool.MACProtectionFinalizer) && !heldByNodes(lease) {
		// The webhooks delete only the leases of an admission they denied,
		// whose object will not carry the MAC: the lease goes now rather
		// than Terminating until its reservation expires. That holds only
		// because the delete above was of the version the admission
		// created (its preconditions): obj is that version, marked
		// deleted, and the update is of obj's version. A failure here
		// leaves it to the lease controller, at the expiry. So does a
		// lease with node holds, recorded meanwhile: a removed Pod of the
		// namespace may still run with its MAC (the controller's orphans.go).
		released := lease.DeepCopy()
		released.Finalizers = macpool.WithoutMACProtection(released.Finalizers)
		if _, err := l.update(ctx, released); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing the protection finalizer of the deleted lease %s/%s: %w", namespace, name, err)
		}
	}
	return nil
}

// Bind writes lease, as the lease controller prepared it (owner name,
// owner references, Bound status), in one update of the version it read: a
// lease changed since is a conflict, as through the API.
func (l *inProcessLeases) Bind(ctx context.Context, lease *macpool.MacLease) error {
	_, err := l.update(ctx, lease)
	return err
}

// update writes lease in one update of the version it was read at, through
// the binding storage, behind the mutating and validating admission chain
// as the loopback user.
func (l *inProcessLeases) update(ctx context.Context, lease *macpool.MacLease) (runtime.Object, error) {
	ctx = requestContext(ctx, "update", lease.Namespace, lease.Name)
	options := &metav1.UpdateOptions{}
	attributes := admission.NewAttributesRecord(lease, nil, leaseKind, lease.Namespace, lease.Name, leaseResource, "",
		admission.Update, options, false, loopbackUser)
	admitUpdate := func(ctx context.Context, updated, old runtime.Object) (runtime.Object, error) {
		final := admission.NewAttributesRecord(updated, old, leaseKind, lease.Namespace, lease.Name, leaseResource, "",
			admission.Update, options, false, loopbackUser)
		return updated, l.mutate(ctx, final)
	}
	updated, _, err := l.binding.Update(ctx, lease.Name, rest.DefaultUpdatedObjectInfo(lease, admitUpdate),
		rest.ValidateAllObjectFunc, rest.AdmissionToValidateObjectUpdateFunc(l.admit, attributes, l.objects), false, options)
	return updated, err
}

// mutate runs the mutating half of the admission chain, as the create and
// delete handlers do before they call the registry.
func (l *inProcessLeases) mutate(ctx context.Context, attributes admission.Attributes) error {
	if mutating, ok := l.admit.(admission.MutationInterface); ok && mutating.Handles(attributes.GetOperation()) {
		return mutating.Admit(ctx, attributes, l.objects)
	}
	return nil
}

func (l *inProcessLeases) toVersioned(obj runtime.Object) (*v1alpha1.MacLease, error) {
	out := &v1alpha1.MacLease{}
	if err := l.scheme.Convert(obj, out, nil); err != nil {
		return nil, fmt.Errorf("converting a stored %T: %w", obj, err)
	}
	return out, nil
}
