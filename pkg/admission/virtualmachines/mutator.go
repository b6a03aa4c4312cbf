package virtualmachines

import (
	"context"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/client-go/tools/record"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"kubemacpool.io/kubemacpool/pkg/admission/webhook"
	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// Path is where kube-apiserver calls the webhook.
const Path = "/mutate-virtualmachines"

// Mutator assigns MACs to the interfaces of VirtualMachines.
type Mutator struct {
	Allocations *allocation.Service
	// MaxMACs caps the managed interfaces of one VM (--max-macs-per-object).
	MaxMACs int
	// Events records the MACs that conflictPolicy Reassign replaced; nil
	// records none.
	Events record.EventRecorder
}

var _ webhook.Mutator = &Mutator{}

// Mutate answers one VirtualMachine admission request.
func (m *Mutator) Mutate(ctx context.Context, request *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if request.Kind.Kind != "VirtualMachine" || (request.Operation != admissionv1.Create && request.Operation != admissionv1.Update) {
		return webhook.Allow(nil, nil)
	}
	// Only metadata and the template's interfaces and networks are
	// decoded (see kubevirt.DecodeVirtualMachine): everything below reads
	// nothing else, and the rest is most of a VirtualMachine's JSON.
	vm, err := kubevirt.DecodeVirtualMachine(request.Object.Raw)
	if err != nil {
		return webhook.Deny(http.StatusBadRequest, "kubemacpool: the object is not a VirtualMachine: %v", err)
	}
	var old *kubevirtv1.VirtualMachine
	if request.Operation == admissionv1.Update {
		if old, err = kubevirt.DecodeVirtualMachine(request.OldObject.Raw); err != nil {
			return webhook.Deny(http.StatusBadRequest, "kubemacpool: the old object is not a VirtualMachine: %v", err)
		}
	} else {
		// A VM is created live: kube-apiserver wipes a deletionTimestamp the
		// client sent, but a create through server-side apply only after
		// the mutating webhooks. Taken for a VM being deleted, the create
		// would get no lease and no check, and be stored with any MAC.
		vm.DeletionTimestamp = nil
	}
	if denied := tooManyInterfaces(vm, old, m.MaxMACs); denied != nil {
		return denied
	}
	plan, err := kubevirt.PlanMutation(vm, old)
	if err != nil {
		return webhook.Deny(http.StatusUnprocessableEntity, "%v", err)
	}

	if vm.DeletionTimestamp == nil {
		if denied := webhook.InvalidRetention(vm.Annotations); denied != nil {
			return denied
		}
	}

	name := vm.Name
	if name == "" {
		name = vm.GenerateName
	}
	owner := allocation.Owner{APIVersion: kubevirtv1.SchemeGroupVersion.String(), Kind: "VirtualMachine", Name: name, Request: request.UID,
		Generated: vm.Name == ""}
	if old != nil {
		// An UPDATE: the MACs leased to this very VM are its own.
		owner.UID = old.UID
	}
	dryRun := request.DryRun != nil && *request.DryRun
	transaction := m.Allocations.Begin(request.Namespace, owner, dryRun)
	patch, err := assign(ctx, vm, request.Namespace, plan, transaction)
	if err != nil {
		transaction.Abort(ctx)
		return denial(err)
	}
	if !dryRun {
		webhook.RecordReassignments(m.Events, owner.APIVersion, owner.Kind, request.Namespace, name, owner.UID, transaction.Reassigned())
	}
	return webhook.Allow(patch, transaction.Warnings())
}

// assign leases the requested MACs, allocates the missing ones and returns
// the patch that writes allocated, kept and reassigned MACs into the VM.
func assign(ctx context.Context, vm *kubevirtv1.VirtualMachine, namespace string, plan *kubevirt.Plan, transaction *allocation.Transaction) ([]byte, error) {
	var networks []kubevirtv1.Network
	if vm.Spec.Template != nil {
		networks = vm.Spec.Template.Spec.Networks
	}
	networkOf := func(iface string) allocation.Network {
		nadNamespace, nadName, _ := kubevirt.MultusNetwork(iface, networks, namespace)
		return allocation.Network{Namespace: nadNamespace, Name: nadName}
	}
	reassigned := map[int]mac.Address{}
	for _, requested := range plan.Requested {
		address, err := mac.ParseUnicast(requested.MAC)
		if err != nil {
			return nil, err
		}
		var got mac.Address
		if requested.From != "" {
			// Its own already, but on another network: that network's pool
			// decides about it now.
			got, err = transaction.RequestMoved(ctx, requested.Name, requested.From, networkOf(requested.Name), address)
		} else {
			got, err = transaction.Request(ctx, requested.Name, networkOf(requested.Name), address)
		}
		if err != nil {
			return nil, err
		}
		if got != address {
			reassigned[requested.Index] = got
		}
	}
	allocated := make([]string, 0, len(plan.NeedAllocation))
	for _, iface := range plan.NeedAllocation {
		address, err := transaction.Allocate(ctx, iface.Name, networkOf(iface.Name))
		if err != nil {
			return nil, err
		}
		allocated = append(allocated, address.String())
	}
	assignments, err := plan.Assignments(allocated)
	if err != nil {
		return nil, err
	}
	if err := addReassigned(vm, assignments, reassigned); err != nil {
		return nil, err
	}
	return kubevirt.Patch(assignments)
}

// addReassigned writes the MACs Reassign gave into assignments, after
// checking that none of them is a MAC the VM ends with on another
// interface: the pool knows only leased MACs, not those of unmanaged
// interfaces, and a dry run leases nothing.
func addReassigned(vm *kubevirtv1.VirtualMachine, assignments map[int]string, reassigned map[int]mac.Address) error {
	if len(reassigned) == 0 {
		return nil
	}
	interfaces := vm.Spec.Template.Spec.Domain.Devices.Interfaces
	final := map[mac.Address]int{}
	for i, iface := range interfaces {
		text := iface.MacAddress
		if assigned, ok := assignments[i]; ok {
			text = assigned
		}
		if address, err := mac.Parse(text); err == nil {
			if _, replaced := reassigned[i]; !replaced {
				final[address] = i
			}
		}
	}
	for i, address := range reassigned {
		if other, taken := final[address]; taken {
			return fmt.Errorf("the MAC %s that replaced the one requested for interface %s is used by interface %s; try again", address, interfaces[i].Name, interfaces[other].Name)
		}
		final[address] = i
		assignments[i] = address.String()
	}
	return nil
}

func denial(err error) *admissionv1.AdmissionResponse {
	return webhook.Deny(webhook.StatusCode(err), "%v", err)
}
