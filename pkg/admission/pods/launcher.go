package pods

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"kubemacpool.io/kubemacpool/pkg/kubevirt"
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

// ofVirtualMachine reports whether pod, created by request, is the launcher
// of a VirtualMachineInstance that exists with the UID its owner reference
// names and that a VirtualMachine, existing with the UID the VMI's owner
// reference names, owns. The launcher of a standalone VMI is not one: its
// MACs are the pod's to lease, as in the original.
func (l *Launchers) ofVirtualMachine(ctx context.Context, request *admissionv1.AdmissionRequest, pod *metav1.ObjectMeta) (bool, error) {
	if l == nil || l.KubeVirt == nil {
		return false, nil
	}
	vmiReference := kubevirt.OwnerReference(pod.OwnerReferences, kubevirt.KindVirtualMachineInstance)
	if vmiReference == nil {
		return false, nil
	}
	if l.Identity != "" && request.UserInfo.Username != l.Identity {
		return false, nil
	}
	vmi, err := l.get(ctx, kubevirt.VirtualMachineInstances, request.Namespace, vmiReference)
	if vmi == nil || err != nil {
		return false, err
	}
	vmReference := kubevirt.OwnerReference(vmi.GetOwnerReferences(), kubevirt.KindVirtualMachine)
	if vmReference == nil {
		return false, nil
	}
	vm, err := l.get(ctx, kubevirt.VirtualMachines, request.Namespace, vmReference)
	return vm != nil, err
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
