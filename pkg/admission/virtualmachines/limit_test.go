package virtualmachines

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// vmWith returns a VM with a masquerade interface, multus interfaces
// making managed interfaces in all, and unmanaged bridge interfaces on the
// pod network.
func vmWith(managed, unmanaged int) *kubevirtv1.VirtualMachine {
	vm := &kubevirtv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "vm"},
		Spec:       kubevirtv1.VirtualMachineSpec{Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{}},
	}
	spec := &vm.Spec.Template.Spec
	for i := range managed {
		name := fmt.Sprintf("multus%d", i)
		iface := kubevirtv1.Interface{Name: name, InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Bridge: &kubevirtv1.InterfaceBridge{}}}
		network := kubevirtv1.Network{Name: name, NetworkSource: kubevirtv1.NetworkSource{Multus: &kubevirtv1.MultusNetwork{NetworkName: name}}}
		if i == 0 {
			iface.Bridge, iface.Masquerade = nil, &kubevirtv1.InterfaceMasquerade{}
			network.Multus, network.Pod = nil, &kubevirtv1.PodNetwork{}
		}
		spec.Domain.Devices.Interfaces = append(spec.Domain.Devices.Interfaces, iface)
		spec.Networks = append(spec.Networks, network)
	}
	for i := range unmanaged {
		name := fmt.Sprintf("plain%d", i)
		spec.Domain.Devices.Interfaces = append(spec.Domain.Devices.Interfaces,
			kubevirtv1.Interface{Name: name, InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Bridge: &kubevirtv1.InterfaceBridge{}}})
		spec.Networks = append(spec.Networks, kubevirtv1.Network{Name: name, NetworkSource: kubevirtv1.NetworkSource{Pod: &kubevirtv1.PodNetwork{}}})
	}
	return vm
}

func TestTooManyInterfaces(t *testing.T) {
	deleting := vmWith(40, 0)
	deleting.DeletionTimestamp = &metav1.Time{}
	for _, tc := range []struct {
		name   string
		vm     *kubevirtv1.VirtualMachine
		old    *kubevirtv1.VirtualMachine
		limit  int
		denied int // the count named in the denial; 0 means allowed
	}{
		{name: "no template", vm: &kubevirtv1.VirtualMachine{}, limit: 32},
		{name: "at the limit", vm: vmWith(32, 0), limit: 32},
		{name: "one above", vm: vmWith(33, 0), limit: 32, denied: 33},
		{name: "unmanaged interfaces do not count", vm: vmWith(32, 10), limit: 32},
		{name: "update staying at the limit", vm: vmWith(32, 0), old: vmWith(32, 0), limit: 32},
		{name: "update growing above the limit", vm: vmWith(33, 0), old: vmWith(32, 0), limit: 32, denied: 33},
		{name: "update of a VM stored above the limit", vm: vmWith(40, 0), old: vmWith(40, 0), limit: 32},
		{name: "update shrinking a VM above the limit", vm: vmWith(35, 0), old: vmWith(40, 0), limit: 32},
		{name: "update growing a VM above the limit", vm: vmWith(41, 0), old: vmWith(40, 0), limit: 32, denied: 41},
		{name: "deletion", vm: deleting, old: vmWith(30, 0), limit: 32},
		{name: "no limit", vm: vmWith(100, 0), limit: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			response := tooManyInterfaces(tc.vm, tc.old, tc.limit)
			if tc.denied == 0 {
				if response != nil {
					t.Fatalf("denied: %v", response.Result)
				}
				return
			}
			if response == nil || response.Allowed {
				t.Fatal("allowed")
			}
			want := fmt.Sprintf("spec.template.spec.domain.devices.interfaces: %d interfaces that get a MAC address exceed the limit of %d MAC addresses per object (--max-macs-per-object)", tc.denied, tc.limit)
			if response.Result.Code != http.StatusUnprocessableEntity || response.Result.Message != want {
				t.Errorf("got %d %q, want 422 %q", response.Result.Code, response.Result.Message, want)
			}
		})
	}
}

// TestMutateChecksTheLimitFirst: the mutator has no allocation service, so
// reaching any allocation would panic; the denial must come before.
func TestMutateChecksTheLimitFirst(t *testing.T) {
	raw, err := json.Marshal(vmWith(33, 0))
	if err != nil {
		t.Fatal(err)
	}
	response := (&Mutator{MaxMACs: 32}).Mutate(context.Background(), &admissionv1.AdmissionRequest{
		Operation: admissionv1.Create, Namespace: "ns",
		Kind:   metav1.GroupVersionKind{Group: "kubevirt.io", Version: "v1", Kind: "VirtualMachine"},
		Object: runtime.RawExtension{Raw: raw},
	})
	if response.Allowed || response.Result.Code != http.StatusUnprocessableEntity || !strings.Contains(response.Result.Message, "limit of 32") {
		t.Errorf("got %+v", response.Result)
	}
}
