package virtualmachines

import (
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"kubemacpool.io/kubemacpool/pkg/admission/webhook"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
)

// tooManyInterfaces denies a VM whose managed interfaces (each one a MAC and
// a lease) exceed limit, before any of them is leased. An update is denied
// only if it adds managed interfaces beyond the limit, so that a VM stored
// before the limit was lowered can still be changed and deleted. The answer
// is 422, as for any other property of the object alone. A limit of zero or
// less means none.
func tooManyInterfaces(vm, old *kubevirtv1.VirtualMachine, limit int) *admissionv1.AdmissionResponse {
	count := managedInterfaces(vm)
	if limit <= 0 || count <= limit || vm.DeletionTimestamp != nil {
		return nil
	}
	if old != nil && count <= managedInterfaces(old) {
		return nil
	}
	return webhook.Deny(http.StatusUnprocessableEntity,
		"spec.template.spec.domain.devices.interfaces: %d interfaces that get a MAC address exceed the limit of %d MAC addresses per object (--max-macs-per-object)",
		count, limit)
}

// managedInterfaces counts the interfaces Kubemacpool gives a MAC.
func managedInterfaces(vm *kubevirtv1.VirtualMachine) int {
	if vm == nil || vm.Spec.Template == nil {
		return 0
	}
	spec := &vm.Spec.Template.Spec
	count := 0
	for _, iface := range spec.Domain.Devices.Interfaces {
		if kubevirt.IsManaged(iface, spec.Networks) {
			count++
		}
	}
	return count
}
