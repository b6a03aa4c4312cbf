package pods

import (
	"context"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"kubemacpool.io/kubemacpool/pkg/admission/webhook"
	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/multus"
)

// DefaultKubeVirtIdentity is the user virt-controller creates virt-launcher
// pods as in a standard KubeVirt install.
const DefaultKubeVirtIdentity = "system:serviceaccount:kubevirt:kubevirt-controller"

// Launchers proves that a pod is the virt-launcher pod of a VirtualMachine,
// whose MACs the VirtualMachine webhook has leased already. Every field of a
// pod is the creator's to write, so the kubevirt.io=virt-launcher label and
// an owner reference prove nothing by themselves: trusted, they would let any
// tenant skip its leases and conflictPolicy Reject.
type Launchers struct {
	// KubeVirt reads VirtualMachineInstances and VirtualMachines from
	// kube-apiserver, uncached, as the original does.
	KubeVirt dynamic.Interface
	// Identity is the user KubeVirt creates launcher pods as; a pod created
	// by anybody else is never a launcher. Empty accepts any creator of a
	// pod whose owner chain checks out.
	Identity string
}

// UnavailableError is a proof that could not be made because kube-apiserver
// did not answer: the request may succeed when repeated.
type UnavailableError struct{ err error }

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("checking whether the pod is a KubeVirt virt-launcher pod: %v; try again", e.err)
}

func (e *UnavailableError) Unwrap() error { return e.err }

// virtualMachineOf returns the VirtualMachine whose launcher pod, created by
// request, is: the pod's owner reference names a VirtualMachineInstance that
// exists with that UID, and the VMI's owner reference a VirtualMachine that
// exists with that UID. nil for any other pod; the launcher of a standalone
// VMI is a regular pod, whose MACs are its own to lease, as in the original.
//
// That chain proves only that KubeVirt runs the VMI for a VM the VMI names.
// A tenant who may create VMIs writes their owner references, so the MACs of
// the launcher are the VM's only when that VM's webhook leased them (see
// carriesOnlyMACsOf).
func (l *Launchers) virtualMachineOf(ctx context.Context, request *admissionv1.AdmissionRequest, pod *metav1.ObjectMeta) (metav1.Object, error) {
	vm, _, err := l.launcherOf(ctx, request, pod)
	return vm, err
}

// launcherOf returns the VirtualMachine of virtualMachineOf, and the
// VirtualMachineInstance whose launcher the pod is, owned by a VM or not:
// created by KubeVirt's identity, naming a VMI that exists with that UID.
// Both are nil for any other pod.
func (l *Launchers) launcherOf(ctx context.Context, request *admissionv1.AdmissionRequest, pod *metav1.ObjectMeta) (vm, vmi metav1.Object, err error) {
	if l == nil || l.KubeVirt == nil {
		return nil, nil, nil
	}
	vmiReference := kubevirt.OwnerReference(pod.OwnerReferences, kubevirt.KindVirtualMachineInstance)
	if vmiReference == nil {
		return nil, nil, nil
	}
	if l.Identity != "" && request.UserInfo.Username != l.Identity {
		return nil, nil, nil
	}
	vmi, err = l.get(ctx, kubevirt.VirtualMachineInstances, request.Namespace, vmiReference)
	if vmi == nil || err != nil {
		return nil, nil, err
	}
	vmReference := kubevirt.OwnerReference(vmi.GetOwnerReferences(), kubevirt.KindVirtualMachine)
	if vmReference == nil {
		return nil, vmi, nil
	}
	vm, err = l.get(ctx, kubevirt.VirtualMachines, request.Namespace, vmReference)
	if err != nil {
		return nil, nil, err
	}
	return vm, vmi, nil
}

// runningMACs are the candidates kubevirt.RunningMACs gives for vmi.
// KubeVirt is not the only writer of a VMI's status (a VMI has no status
// subresource): heldByLaunchers checks them against the leases.
func runningMACs(vmi metav1.Object) map[mac.Address]bool {
	object, ok := vmi.(*unstructured.Unstructured)
	if !ok {
		return nil
	}
	return kubevirt.RunningMACs(object)
}

// heldByLaunchers keeps of candidates (runningMACs) those leased to a
// launcher Pod of vmi or to vmi itself, in namespace. A VMI has no status
// subresource: whoever may update it writes its status, so the status
// alone would let a tenant's launcher carry any MAC, another namespace's
// included, past the pool's conflictPolicy. The lease of the first
// launcher, read through the namespace, is what the webhook admitted; a
// Pod counts as a launcher of vmi only when its owner reference names vmi
// with its UID. The leases are read through the transaction of the call,
// which takes over one an earlier call of the same request made (see
// Transaction.LeasedTo) before the MAC counts as held.
func (l *Launchers) heldByLaunchers(ctx context.Context, transaction *allocation.Transaction, namespace string, vmi metav1.Object,
	candidates map[mac.Address]bool) (map[mac.Address]bool, error) {
	if len(candidates) == 0 {
		return nil, nil
	}
	pods, err := l.KubeVirt.Resource(podsResource).Namespace(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: kubevirtv1.CreatedByLabel + "=" + string(vmi.GetUID())})
	if err != nil {
		return nil, &UnavailableError{err: fmt.Errorf("listing the virt-launcher pods of %s/%s: %w", namespace, vmi.GetName(), err)}
	}
	held := map[mac.Address]bool{}
	for address := range candidates {
		leased, err := transaction.LeasedTo(ctx, address, kubevirt.KindVirtualMachineInstance, vmi.GetName(), vmi.GetUID())
		if err != nil {
			return nil, err
		}
		for i := 0; !leased && i < len(pods.Items); i++ {
			pod := &pods.Items[i]
			if reference := kubevirt.OwnerReference(pod.GetOwnerReferences(), kubevirt.KindVirtualMachineInstance); reference == nil || reference.UID != vmi.GetUID() {
				continue
			}
			if leased, err = transaction.LeasedTo(ctx, address, "Pod", pod.GetName(), pod.GetUID()); err != nil {
				return nil, err
			}
		}
		if leased {
			held[address] = true
		}
	}
	return held, nil
}

var podsResource = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// mutateLauncher admits the launcher pod of vm, whose MACs are the VM's:
// the guest's, chosen by KubeVirt from the VMI. Those leased to vm (its
// webhook's leases, bound to its UID or reserved for its name) and static
// reservations of the namespace need nothing. Any other MAC is requested for
// vm under its pool's conflictPolicy and exclusions, as the VM's webhook would
// have: a tenant who may create VMIs writes their owner references, so a VMI
// that names the tenant's VM as its owner gets a launcher with whatever MACs
// the VMI asks for; and a VM whose MAC has no lease yet (created while its
// namespace was not managed, not adopted yet) gets one, so that the launcher
// of its migration finds it leased. Nothing is allocated and nothing is
// patched: a network without a MAC is left to KubeVirt and its CNI plugin,
// and a held MAC that conflictPolicy Reassign would replace is refused, since
// the guest keeps it. On an update only the MACs the update adds are asked
// about: those the pod carried before were admitted with it, and KubeVirt
// drops the MACs of interfaces it unplugs.
func (m *Mutator) mutateLauncher(ctx context.Context, request *admissionv1.AdmissionRequest, annotation string, found bool,
	vm metav1.Object, before *attached) *admissionv1.AdmissionResponse {
	if !found {
		return webhook.Allow(nil, nil)
	}
	networks, err := multus.Parse(annotation, request.Namespace)
	if err != nil {
		return webhook.Deny(http.StatusUnprocessableEntity, "metadata.annotations[%s]: %v", multus.NetworksAnnotation, err)
	}
	owner := allocation.Owner{APIVersion: kubevirtv1.SchemeGroupVersion.String(), Kind: kubevirt.KindVirtualMachine,
		Name: vm.GetName(), UID: vm.GetUID(), Request: request.UID}
	transaction := m.Allocations.Begin(request.Namespace, owner, request.DryRun != nil && *request.DryRun)
	deny := func(response *admissionv1.AdmissionResponse) *admissionv1.AdmissionResponse {
		transaction.Abort(ctx)
		return response
	}
	for i, network := range networks.Elements() {
		if network.MAC == "" {
			continue
		}
		address, err := mac.ParseUnicast(network.MAC)
		if err != nil {
			return deny(webhook.Deny(http.StatusUnprocessableEntity, "metadata.annotations[%s]: network %s: %v", multus.NetworksAnnotation, networks.Key(i), err))
		}
		if before.carries(address) {
			continue
		}
		leased, err := transaction.LeasedTo(ctx, address, kubevirt.KindVirtualMachine, vm.GetName(), vm.GetUID())
		if err != nil {
			return deny(denial(err))
		}
		if leased {
			continue
		}
		got, err := transaction.Request(ctx, networks.Key(i), multusNetwork(network), address)
		if err != nil {
			return deny(denial(err))
		}
		if got != address {
			return deny(webhook.Deny(http.StatusConflict, "metadata.annotations[%s]: MAC address %s requested for %s is already in use by another object; "+
				"a virt-launcher pod's MACs are its guest's and are not replaced (conflictPolicy Reassign)", multus.NetworksAnnotation, address, networks.Key(i)))
		}
	}
	return webhook.Allow(nil, transaction.Warnings())
}

// get reads the object reference names; nil when it does not exist (or not
// with that UID: a re-created object of the same name is another one).
func (l *Launchers) get(ctx context.Context, resource schema.GroupVersionResource, namespace string, reference *metav1.OwnerReference) (metav1.Object, error) {
	obj, err := l.KubeVirt.Resource(resource).Namespace(namespace).Get(ctx, reference.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// Also what kube-apiserver answers while KubeVirt is not installed.
		return nil, nil
	case err != nil:
		return nil, &UnavailableError{err: fmt.Errorf("reading %s %s/%s: %w", resource.Resource, namespace, reference.Name, err)}
	case obj.GetUID() != reference.UID:
		return nil, nil
	}
	return obj, nil
}
