package virtualmachines

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

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
