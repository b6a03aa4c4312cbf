package virtualmachines

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	versionedfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

func vmRequest(operation admissionv1.Operation, object, old []byte) *admissionv1.AdmissionRequest {
	request := &admissionv1.AdmissionRequest{
		UID: "request", Operation: operation, Namespace: "ns",
		Kind:   metav1.GroupVersionKind{Group: "kubevirt.io", Version: "v1", Kind: "VirtualMachine"},
		Object: runtime.RawExtension{Raw: object},
	}
	if old != nil {
		request.OldObject = runtime.RawExtension{Raw: old}
	}
	return request
}

// A request whose object or old object is not a VirtualMachine gets a 400
// that names the field, before anything is leased (the mutator has no
// allocation service: reaching one would panic).
func TestMutateRefusesWhatIsNotAVirtualMachine(t *testing.T) {
	good := benchmarkVM(t, false)
	for _, tc := range []struct {
		name        string
		operation   admissionv1.Operation
		object, old string
		want        string
	}{
		{name: "not JSON", operation: admissionv1.Create, object: `{"spec":`,
			want: "kubemacpool: the object is not a VirtualMachine: unexpected end of JSON input"},
		{name: "interfaces an object", operation: admissionv1.Create, object: `{"spec":{"template":{"spec":{"domain":{"devices":{"interfaces":{}}}}}}}`,
			want: "kubemacpool: the object is not a VirtualMachine: spec.template.spec.domain.devices.interfaces: a JSON object where a list is expected"},
		{name: "a bad old object", operation: admissionv1.Update, object: string(good), old: `{"spec":{"template":{"spec":{"networks":[{"pod":7}]}}}}`,
			want: "kubemacpool: the old object is not a VirtualMachine: spec.template.spec.networks.pod: a JSON number where an object is expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var old []byte
			if tc.old != "" {
				old = []byte(tc.old)
			}
			response := (&Mutator{MaxMACs: 32}).Mutate(context.Background(), vmRequest(tc.operation, []byte(tc.object), old))
			if response.Allowed || response.Result.Code != http.StatusBadRequest || response.Result.Message != tc.want {
				t.Errorf("got %+v, want 400 %q", response.Result, tc.want)
			}
		})
	}
}

// The patch of a realistic VirtualMachine adds the two MACs and changes
// nothing else, fields this KubeVirt version does not know included: the
// webhook decodes a part of the object, and must never write that part
// back.
func TestMutatePatchesOnlyTheMACs(t *testing.T) {
	var vm map[string]interface{}
	if err := json.Unmarshal(benchmarkVM(t, false), &vm); err != nil {
		t.Fatal(err)
	}
	interfaces, _, _ := unstructured.NestedSlice(vm, "spec", "template", "spec", "domain", "devices", "interfaces")
	interfaces[0].(map[string]interface{})["futureBinding"] = map[string]interface{}{"mode": "fast", "queues": 4.0}
	interfaces[1].(map[string]interface{})["bridge"] = map[string]interface{}{"futureOption": true}
	if err := unstructured.SetNestedSlice(vm, interfaces, "spec", "template", "spec", "domain", "devices", "interfaces"); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(vm)
	if err != nil {
		t.Fatal(err)
	}
	response := (&Mutator{Allocations: memoryService(t), MaxMACs: 32}).Mutate(context.Background(), vmRequest(admissionv1.Create, raw, nil))
	if !response.Allowed {
		t.Fatalf("denied: %+v", response.Result)
	}
	patch, err := jsonpatch.DecodePatch(response.Patch)
	if err != nil {
		t.Fatal(err)
	}
	patched, err := patch.Apply(raw)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]interface{}
	if err := json.Unmarshal(patched, &got); err != nil {
		t.Fatal(err)
	}
	gotInterfaces, _, _ := unstructured.NestedSlice(got, "spec", "template", "spec", "domain", "devices", "interfaces")
	for i, iface := range gotInterfaces {
		address, _ := iface.(map[string]interface{})["macAddress"].(string)
		if _, err := mac.ParseUnicast(address); err != nil {
			t.Errorf("interface %d: MAC %q: %v", i, address, err)
		}
		delete(iface.(map[string]interface{}), "macAddress")
	}
	if err := unstructured.SetNestedSlice(got, gotInterfaces, "spec", "template", "spec", "domain", "devices", "interfaces"); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, vm) {
		t.Errorf("the patch %s changed more than the MACs:\n%s", response.Patch, patched)
	}
}

// An UPDATE that moves a MAC the VM carries to another network asks that
// network's pool, which never decided about it: pool "secure" serves
// network ns/secure and rejects MACs others hold, the default pool (network
// ns/lab) warns. The VM "vm" leases 02:00:00:00:00:01 for interface net1;
// VM "victim" leases 02:00:00:00:00:05, which "vm" carries on network lab
// with the warning of its pool. An update that changes no network asks for
// nothing, and the VM's own MAC follows its interface anywhere.
func TestMutateUpdateAsksTheNewNetworksPoolForAMovedMAC(t *testing.T) {
	// excluded is the VM's own too, but in the spec.exclude of the pool of
	// network secure.
	const own, victims, excluded = "02:00:00:00:00:01", "02:00:00:00:00:05", "02:00:00:00:00:07"
	vm := func(iface, network, address string) []byte {
		t.Helper()
		object := &kubevirtv1.VirtualMachine{
			ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns", UID: "uid-vm"},
			Spec: kubevirtv1.VirtualMachineSpec{Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{Spec: kubevirtv1.VirtualMachineInstanceSpec{
				Domain: kubevirtv1.DomainSpec{Devices: kubevirtv1.Devices{Interfaces: []kubevirtv1.Interface{{Name: iface, MacAddress: address,
					InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Bridge: &kubevirtv1.InterfaceBridge{}}}}}},
				Networks: []kubevirtv1.Network{{Name: iface, NetworkSource: kubevirtv1.NetworkSource{Multus: &kubevirtv1.MultusNetwork{NetworkName: network}}}},
			}}},
		}
		raw, err := json.Marshal(object)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	tests := []struct {
		name         string
		old, updated []byte
		wantCode     int32
		wantWarnings int
		// naming is the MAC a denial names; victims when empty.
		naming string
	}{{
		name: "an update that changes no network asks for nothing",
		old:  vm("net1", "lab", victims), updated: vm("net1", "lab", victims),
	}, {
		name: "a carried MAC moved to a network whose pool rejects it",
		old:  vm("net1", "lab", victims), updated: vm("net1", "secure", victims), wantCode: http.StatusConflict,
	}, {
		name: "a carried MAC kept by an interface moved to a network whose pool rejects it",
		old:  vm("net1", "lab", victims), updated: vm("net1", "secure", ""), wantCode: http.StatusConflict,
	}, {
		name: "a carried MAC moved to another interface on a network whose pool warns",
		old:  vm("net1", "lab", victims), updated: vm("net2", "ns/other", victims), wantWarnings: 1,
	}, {
		name: "the VM's own MAC moved with its interface to another network",
		old:  vm("net1", "lab", own), updated: vm("net1", "secure", own),
	}, {
		name: "the VM's own MAC moved to another interface on another network",
		old:  vm("net1", "lab", own), updated: vm("net2", "secure", own),
	}, {
		name: "the VM's own MAC kept by an interface moved to another network",
		old:  vm("net1", "lab", own), updated: vm("net1", "secure", ""),
	}, {
		name: "the VM's own MAC moved with its interface to a network whose pool excludes it",
		old:  vm("net1", "lab", excluded), updated: vm("net1", "secure", excluded), wantCode: http.StatusUnprocessableEntity, naming: excluded,
	}, {
		name: "the VM's own MAC moved to another interface on a network whose pool excludes it",
		old:  vm("net1", "lab", excluded), updated: vm("net2", "secure", excluded), wantCode: http.StatusUnprocessableEntity, naming: excluded,
	}, {
		name: "the VM's own MAC kept by an interface moved to a network whose pool excludes it",
		old:  vm("net1", "lab", excluded), updated: vm("net1", "secure", ""), wantCode: http.StatusUnprocessableEntity, naming: excluded,
	}, {
		name: "the VM's own excluded MAC, kept on its network",
		old:  vm("net1", "lab", excluded), updated: vm("net1", "lab", excluded),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lease := func(address, owner string, uid types.UID) *v1alpha1.MacLease {
				lease := &v1alpha1.MacLease{
					ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(address, ":", "-"), Namespace: "ns",
						OwnerReferences: []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: owner, UID: uid}}},
					Spec: v1alpha1.MacLeaseSpec{MACAddress: address, Pool: macpool.DefaultPoolName, Interface: "net1",
						Owner: &v1alpha1.LeaseOwner{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: owner}},
					Status: v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseBound},
				}
				return lease
			}
			client := versionedfake.NewSimpleClientset(
				&v1alpha1.MacPool{ObjectMeta: metav1.ObjectMeta{Name: macpool.DefaultPoolName}, Spec: v1alpha1.MacPoolSpec{
					ConflictPolicy: v1alpha1.ConflictPolicyWarn, Ranges: []v1alpha1.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:ff"}}}},
				&v1alpha1.MacPool{ObjectMeta: metav1.ObjectMeta{Name: "secure"}, Spec: v1alpha1.MacPoolSpec{
					ConflictPolicy:  v1alpha1.ConflictPolicyReject,
					Ranges:          []v1alpha1.MACRange{{Start: "0a:00:00:00:00:00", End: "0a:00:00:00:00:ff"}},
					Exclude:         []v1alpha1.MACRange{{Start: excluded, End: excluded}},
					NetworkSelector: &v1alpha1.NetworkSelector{Networks: []v1alpha1.NetworkReference{{Namespace: "ns", Name: "secure"}}}}},
				lease(own, "vm", "uid-vm"), lease(victims, "victim", "uid-victim"), lease(excluded, "vm", "uid-vm"))
			service := syncedService(t, client, allocation.ClientLeases(client), kubefake.NewClientset().CoreV1())
			response := (&Mutator{Allocations: service, MaxMACs: 32}).Mutate(context.Background(), vmRequest(admissionv1.Update, tt.updated, tt.old))
			if tt.wantCode != 0 {
				naming := tt.naming
				if naming == "" {
					naming = victims
				}
				if response.Allowed || response.Result.Code != tt.wantCode || !strings.Contains(response.Result.Message, naming) {
					t.Fatalf("allowed=%v %+v, want %d naming %s", response.Allowed, response.Result, tt.wantCode, naming)
				}
				return
			}
			if !response.Allowed {
				t.Fatalf("denied: %+v", response.Result)
			}
			if len(response.Warnings) != tt.wantWarnings {
				t.Errorf("warnings %q, want %d", response.Warnings, tt.wantWarnings)
			}
		})
	}
}

// A create that carries a deletionTimestamp is a create like any other:
// kube-apiserver wipes the field before it stores the VM, but a create
// through server-side apply only after the mutating webhooks have seen it.
// Taken for a VM being deleted, the create would lease nothing and be
// stored live with whatever MACs it asks for, past conflictPolicy Reject.
func TestMutateCreateWithADeletionTimestampIsJudged(t *testing.T) {
	const victims = "02:00:00:00:00:05"
	create := func(address string) []byte {
		t.Helper()
		now := metav1.Now()
		object := &kubevirtv1.VirtualMachine{
			ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns", DeletionTimestamp: &now, Finalizers: []string{"example.com/hold"}},
			Spec: kubevirtv1.VirtualMachineSpec{Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{Spec: kubevirtv1.VirtualMachineInstanceSpec{
				Domain: kubevirtv1.DomainSpec{Devices: kubevirtv1.Devices{Interfaces: []kubevirtv1.Interface{{Name: "net1", MacAddress: address,
					InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Bridge: &kubevirtv1.InterfaceBridge{}}}}}},
				Networks: []kubevirtv1.Network{{Name: "net1", NetworkSource: kubevirtv1.NetworkSource{Multus: &kubevirtv1.MultusNetwork{NetworkName: "lab"}}}},
			}}},
		}
		raw, err := json.Marshal(object)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	client := versionedfake.NewSimpleClientset(
		&v1alpha1.MacPool{ObjectMeta: metav1.ObjectMeta{Name: macpool.DefaultPoolName}, Spec: v1alpha1.MacPoolSpec{
			ConflictPolicy: v1alpha1.ConflictPolicyReject, Ranges: []v1alpha1.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:ff"}}}},
		&v1alpha1.MacLease{ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(victims, ":", "-"), Namespace: "ns"},
			Spec: v1alpha1.MacLeaseSpec{MACAddress: victims, Pool: macpool.DefaultPoolName, Interface: "net1",
				Owner: &v1alpha1.LeaseOwner{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "victim"}}})
	service := syncedService(t, client, allocation.ClientLeases(client), kubefake.NewClientset().CoreV1())
	m := &Mutator{Allocations: service, MaxMACs: 32}

	response := m.Mutate(context.Background(), vmRequest(admissionv1.Create, create(victims), nil))
	if response.Allowed || response.Result.Code != http.StatusConflict {
		t.Errorf("a MAC another VM holds, under Reject: allowed=%v %+v, want a 409", response.Allowed, response.Result)
	}
	response = m.Mutate(context.Background(), vmRequest(admissionv1.Create, create(""), nil))
	if !response.Allowed || response.Patch == nil {
		t.Errorf("an interface without a MAC: allowed=%v %+v, patch %s, want one allocated", response.Allowed, response.Result, response.Patch)
	}
}
