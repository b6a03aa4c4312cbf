package kubevirt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kubevirtv1 "kubevirt.io/api/core/v1"
	sigsjson "sigs.k8s.io/json"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// fullDecode is how KubeVirt's controllers and this server's lease
// controller read a VirtualMachine (client-go's decoder: case-sensitive,
// with KubeVirt's own UnmarshalJSON methods below): the whole object. The
// webhook must see exactly what they see.
func fullDecode(raw []byte) (*kubevirtv1.VirtualMachine, error) {
	vm := &kubevirtv1.VirtualMachine{}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, vm); err != nil {
		return nil, err
	}
	return vm, nil
}

// readMetadata is the part of metadata that DecodeVirtualMachine decodes.
func readMetadata(meta metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: meta.Name, GenerateName: meta.GenerateName, UID: meta.UID,
		DeletionTimestamp: meta.DeletionTimestamp, Annotations: meta.Annotations}
}

// agree checks what DecodeVirtualMachine promises against a full decode of
// raw: where the full decode succeeds, it succeeds with the same metadata
// fields (those readMetadata keeps),
// the same presence of spec.template and the same interfaces and networks;
// where it fails, the full decode fails too. It returns both results when
// both succeeded.
func agree(t *testing.T, raw []byte) (full, admitted *kubevirtv1.VirtualMachine) {
	t.Helper()
	agreeUnstructured(t, raw)
	full, fullErr := fullDecode(raw)
	admitted, err := DecodeVirtualMachine(raw)
	switch {
	case err != nil && fullErr == nil:
		t.Fatalf("DecodeVirtualMachine refused what a full decode takes: %v\n%s", err, raw)
	case err != nil || fullErr != nil:
		return nil, nil
	}
	sameView(t, "DecodeVirtualMachine", full, admitted)
	return full, admitted
}

// agreeUnstructured checks ReadVirtualMachine against the converter the
// lease controller used on the whole object, on raw as an informer holds
// it (client-go's case-sensitive decode into a map): where the converter
// succeeds, ReadVirtualMachine succeeds with the same view, namespace
// included.
func agreeUnstructured(t *testing.T, raw []byte) {
	t.Helper()
	var object map[string]interface{}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, &object); err != nil || object == nil {
		return
	}
	converted := &kubevirtv1.VirtualMachine{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(object, converted); err != nil {
		return
	}
	read, err := ReadVirtualMachine(&unstructured.Unstructured{Object: object})
	if err != nil {
		t.Fatalf("ReadVirtualMachine refused what the converter takes: %v\n%s", err, raw)
	}
	if read.Namespace != converted.Namespace {
		t.Fatalf("ReadVirtualMachine: namespace %q, the converter gives %q", read.Namespace, converted.Namespace)
	}
	read.Namespace = ""
	sameView(t, "ReadVirtualMachine", converted, read)
}

// sameView fails unless got holds what the webhook and the controller read
// of want: the metadata readMetadata keeps, the presence of spec.template,
// and the template's interfaces and networks.
func sameView(t *testing.T, what string, want, got *kubevirtv1.VirtualMachine) {
	t.Helper()
	if meta := readMetadata(want.ObjectMeta); !equality.Semantic.DeepEqual(meta, got.ObjectMeta) {
		t.Fatalf("%s: metadata differs:\nfull     %+v\nadmitted %+v", what, meta, got.ObjectMeta)
	}
	if (want.Spec.Template == nil) != (got.Spec.Template == nil) {
		t.Fatalf("%s: spec.template: the full decode has one: %v, this one: %v", what, want.Spec.Template != nil, got.Spec.Template != nil)
	}
	if want.Spec.Template == nil {
		return
	}
	wantSpec, spec := &want.Spec.Template.Spec, &got.Spec.Template.Spec
	if !equality.Semantic.DeepEqual(wantSpec.Domain.Devices.Interfaces, spec.Domain.Devices.Interfaces) {
		t.Fatalf("%s: interfaces differ:\nfull     %+v\nadmitted %+v", what, wantSpec.Domain.Devices.Interfaces, spec.Domain.Devices.Interfaces)
	}
	if !equality.Semantic.DeepEqual(wantSpec.Networks, spec.Networks) {
		t.Fatalf("%s: networks differ:\nfull     %+v\nadmitted %+v", what, wantSpec.Networks, spec.Networks)
	}
}

// plannedPatch is what the webhook does with a decoded pair: the plan, and
// the patch once the pool has given MACs (ascending from 02:00:00:00:10:00,
// skipping those in use) to the interfaces that need one. It returns the
// plan's error instead when there is one.
func plannedPatch(vm, old *kubevirtv1.VirtualMachine) (*Plan, []byte, error) {
	plan, err := PlanMutation(vm, old)
	if err != nil {
		return nil, nil, err
	}
	var allocated []string
	next := mac.MustParse("02:00:00:00:10:00")
	for range plan.NeedAllocation {
		for _, used := plan.inUse[next]; used; _, used = plan.inUse[next] {
			next++
		}
		allocated = append(allocated, next.String())
		next++
	}
	assignments, err := plan.Assignments(allocated)
	if err != nil {
		return nil, nil, err
	}
	patch, err := Patch(assignments)
	return plan, patch, err
}

// samePlan checks that a full decode and DecodeVirtualMachine of the
// request's object and old object (nil on a CREATE) give the same plan, or
// the same denial, and byte for byte the same patch.
func samePlan(t *testing.T, raw, oldRaw []byte) (*Plan, []byte) {
	t.Helper()
	full, admitted := agree(t, raw)
	if full == nil {
		t.Fatalf("the object does not decode")
	}
	var fullOld, admittedOld *kubevirtv1.VirtualMachine
	if oldRaw != nil {
		if fullOld, admittedOld = agree(t, oldRaw); fullOld == nil {
			t.Fatalf("the old object does not decode")
		}
	}
	wantPlan, wantPatch, wantErr := plannedPatch(full, fullOld)
	plan, patch, err := plannedPatch(admitted, admittedOld)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("error %v, a full decode gives %v", err, wantErr)
	}
	if !reflect.DeepEqual(plan, wantPlan) {
		t.Fatalf("plan %+v, a full decode gives %+v", plan, wantPlan)
	}
	if !bytes.Equal(patch, wantPatch) {
		t.Fatalf("patch %s, a full decode gives %s", patch, wantPatch)
	}
	return plan, patch
}

// realisticVM is testdata/vm.json: a VirtualMachine as kube-apiserver sends
// it to the webhook, with two bridge interfaces on multus networks.
func realisticVM(t testing.TB) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/vm.json")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// edited decodes raw into a generic map, lets edit change it and encodes
// it again.
func edited(t testing.TB, raw []byte, edit func(vm map[string]interface{})) []byte {
	t.Helper()
	var vm map[string]interface{}
	if err := json.Unmarshal(raw, &vm); err != nil {
		t.Fatal(err)
	}
	edit(vm)
	out, err := json.Marshal(vm)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// interfacesOf is spec.template.spec.domain.devices.interfaces of a generic
// VirtualMachine.
func interfacesOf(vm map[string]interface{}) []interface{} {
	spec := vm["spec"].(map[string]interface{})["template"].(map[string]interface{})["spec"].(map[string]interface{})
	return spec["domain"].(map[string]interface{})["devices"].(map[string]interface{})["interfaces"].([]interface{})
}

// withMACs sets the MACs of the first interfaces of raw.
func withMACs(t testing.TB, raw []byte, macs ...string) []byte {
	return edited(t, raw, func(vm map[string]interface{}) {
		for i, address := range macs {
			interfacesOf(vm)[i].(map[string]interface{})["macAddress"] = address
		}
	})
}

// smallVM is a small VirtualMachine whose template spec is templateSpec.
func smallVM(templateSpec string) []byte {
	return []byte(`{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"vm","namespace":"ns","uid":"0b5e"},` +
		`"spec":{"runStrategy":"Halted","template":{"metadata":{"labels":{"a":"b"}},"spec":` + templateSpec + `}}}`)
}

const (
	podOnlySpec        = `{"domain":{"devices":{"interfaces":[{"name":"default","masquerade":{}}]},"resources":{"requests":{"memory":"64Mi"}}},"networks":[{"name":"default","pod":{}}]}`
	podBridgeSpec      = `{"domain":{"devices":{"interfaces":[{"name":"default","bridge":{}}]}},"networks":[{"name":"default","pod":{"vmNetworkCIDR":"10.0.2.0/24"}}]}`
	fourMultusSpec     = `{"domain":{"devices":{"interfaces":[{"name":"default","masquerade":{}},{"name":"a","bridge":{}},{"name":"b","sriov":{}},{"name":"c","bridge":{},"macAddress":"02:00:00:00:aa:01"},{"name":"d","binding":{"name":"l2bridge"}}]}},"networks":[{"name":"default","pod":{}},{"name":"a","multus":{"networkName":"red"}},{"name":"b","multus":{"networkName":"infra/blue"}},{"name":"c","multus":{"networkName":"green"}},{"name":"d","multus":{"networkName":"ns/plug","default":false}}]}`
	fourMultusMACsSpec = `{"domain":{"devices":{"interfaces":[{"name":"default","masquerade":{},"macAddress":"02:00:00:00:bb:00"},{"name":"a","bridge":{},"macAddress":"02-00-00-00-BB-01"},{"name":"b","sriov":{},"macAddress":"02:00:00:00:bb:02"},{"name":"c","bridge":{},"macAddress":"02:00:00:00:aa:01"},{"name":"d","binding":{"name":"l2bridge"},"macAddress":"02:00:00:00:bb:04"}]}},"networks":[{"name":"default","pod":{}},{"name":"a","multus":{"networkName":"red"}},{"name":"b","multus":{"networkName":"infra/blue"}},{"name":"c","multus":{"networkName":"green"}},{"name":"d","multus":{"networkName":"ns/plug","default":false}}]}`
)

func TestDecodeVirtualMachineAgreesWithFullDecode(t *testing.T) {
	realistic := realisticVM(t)
	realisticMACs := withMACs(t, realistic, "02:00:00:00:cc:01", "02:00:00:00:cc:02")
	deletingVM := edited(t, realisticMACs, func(vm map[string]interface{}) {
		metadata := vm["metadata"].(map[string]interface{})
		metadata["deletionTimestamp"] = "2026-12-01T03:00:00Z"
		metadata["finalizers"] = []interface{}{"kubevirt.io/virtualMachineControllerFinalize"}
	})
	unknownFields := edited(t, realistic, func(vm map[string]interface{}) {
		iface := interfacesOf(vm)[0].(map[string]interface{})
		iface["futureBinding"] = map[string]interface{}{"mode": "fast"}
		iface["bridge"].(map[string]interface{})["futureOption"] = true
	})
	for _, tc := range []struct {
		name      string
		vm, old   []byte
		wantPatch int // the number of MACs the patch writes, -1 for a denial
	}{
		{name: "realistic VM, CREATE", vm: realistic, wantPatch: 2},
		{name: "realistic VM with MACs, CREATE", vm: realisticMACs, wantPatch: 0},
		{name: "realistic VM re-applied without MACs, UPDATE", vm: realistic, old: realisticMACs, wantPatch: 2},
		{name: "realistic VM, UPDATE changing one MAC", vm: withMACs(t, realistic, "02:00:00:00:cc:09"), old: realisticMACs, wantPatch: 1},
		{name: "realistic VM being deleted, UPDATE", vm: deletingVM, old: realisticMACs, wantPatch: 0},
		{name: "interfaces with fields this KubeVirt does not know", vm: unknownFields, wantPatch: 2},
		{name: "no template", vm: []byte(`{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"vm"},"spec":{"runStrategy":"Halted"}}`)},
		{name: "template null", vm: []byte(`{"metadata":{"name":"vm"},"spec":{"template":null}}`), old: smallVM(podOnlySpec)},
		{name: "no spec", vm: []byte(`{"metadata":{"generateName":"vm-"}}`)},
		{name: "empty template spec", vm: smallVM(`{}`)},
		{name: "pod network, masquerade", vm: smallVM(podOnlySpec), wantPatch: 1},
		{name: "pod network, bridge", vm: smallVM(podBridgeSpec)},
		{name: "masquerade and four multus interfaces, one MAC set", vm: smallVM(fourMultusSpec), wantPatch: 4},
		{name: "four multus interfaces, all MACs set, UPDATE", vm: smallVM(fourMultusMACsSpec), old: smallVM(fourMultusSpec)},
		{name: "four multus interfaces re-applied without MACs, UPDATE", vm: smallVM(fourMultusSpec), old: smallVM(fourMultusMACsSpec), wantPatch: 4},
		{name: "the old object without template, UPDATE", vm: smallVM(fourMultusSpec), old: []byte(`{"metadata":{"name":"vm"},"spec":{}}`), wantPatch: 4},
		{name: "a MAC twice", vm: smallVM(`{"domain":{"devices":{"interfaces":[{"name":"a","bridge":{},"macAddress":"02:00:00:00:00:01"},{"name":"b","bridge":{},"macAddress":"02:00:00:00:00:01"}]}},"networks":[{"name":"a","multus":{"networkName":"x"}},{"name":"b","multus":{"networkName":"y"}}]}`), wantPatch: -1},
		{name: "an interface name twice", vm: smallVM(`{"domain":{"devices":{"interfaces":[{"name":"a","bridge":{}},{"name":"a","bridge":{}}]}},"networks":[{"name":"a","multus":{"networkName":"x"}}]}`), wantPatch: -1},
		// A tenant controls every member of a custom resource that keeps
		// unknown fields. kube-apiserver sorts the members it sends, so a
		// case variant like "Spec" comes before "spec": client-go ignores
		// it, and so must the webhook, or it would lease MACs for
		// interfaces that KubeVirt never sees while the real ones go
		// unleased (U+017F "ſpec" folds to "spec" in encoding/json).
		{name: "a case variant of spec in the template is not the spec",
			vm:        []byte(`{"spec":{"template":{"Spec":` + fourMultusSpec + `,"spec":{"domain":{"devices":{"interfaces":[{"name":"a","bridge":{}}]}}}}}}`),
			wantPatch: 0},
		{name: "a folded spec after the spec is not the spec",
			vm:        []byte(`{"spec":{"template":{"spec":` + fourMultusSpec + `,"ſpec":{}}}}`),
			wantPatch: 4},
		{name: "an upper-case null after the spec does not clear it", vm: []byte(`{"spec":{"template":{"spec":` + fourMultusSpec + `,"SPEC":null}}}`), wantPatch: 4},
		{name: "a case variant of template is not the template", vm: []byte(`{"spec":{"Template":{"spec":` + podOnlySpec + `},"template":{"metadata":{}}}}`)},
		{name: "metadata: generateName, UID, annotations repeated, labels, owners and managed fields",
			vm: []byte(`{"metadata":{"generateName":"vm-","namespace":"ns1","uid":"u1","annotations":{"a":"1"},"labels":{"x":"y"},"Annotations":{"b":"2"},` +
				`"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"c","uid":"u0"}],"managedFields":[{"manager":"kubectl","operation":"Update","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{}}}]},` +
				`"spec":{"template":{"spec":` + podOnlySpec + `}}}`),
			old: []byte(`{"metadata":{"name":"vm","uid":"u1","deletionTimestamp":null},"spec":{"template":{"spec":` + podOnlySpec + `}}}`), wantPatch: 1},
		{name: "case variants above the template spec are not the object's", vm: []byte(`{"Metadata":{"Name":"vm"},"SPEC":{"TEMPLATE":{"Spec":{"Domain":{"Devices":{"Interfaces":[{"Name":"a","Bridge":{}}]}},"Networks":[{"NAME":"a","Multus":{"NetworkName":"x"}}]}}}}`)},
		// Inside the template spec KubeVirt's UnmarshalJSON decodes with
		// encoding/json, case-insensitively; the webhook does the same.
		{name: "case variants inside the template spec are KubeVirt's too", vm: []byte(`{"metadata":{"name":"vm"},"spec":{"template":{"spec":{"Domain":{"Devices":{"Interfaces":[{"Name":"a","Bridge":{}}]}},"Networks":[{"NAME":"a","Multus":{"NetworkName":"x"}}]}}}}`), wantPatch: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, patch := samePlan(t, tc.vm, tc.old)
			var operations []interface{}
			if patch != nil {
				if err := json.Unmarshal(patch, &operations); err != nil {
					t.Fatal(err)
				}
			}
			got := len(operations)
			if plan == nil {
				got = -1
			}
			if got != tc.wantPatch {
				t.Errorf("the patch writes %d MACs (%s), want %d", got, patch, tc.wantPatch)
			}
		})
	}
}

func TestDecodeVirtualMachineErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		want string // the error; empty: none
	}{
		{name: "not JSON", raw: `{"metadata":`, want: "unexpected end of JSON input"},
		{name: "a list", raw: `[]`, want: "the object: a JSON array where an object is expected"},
		{name: "networks a string", raw: `{"spec":{"template":{"spec":{"networks":"x"}}}}`, want: "spec.template.spec.networks: a JSON string where a list is expected"},
		{name: "an interface name a number", raw: `{"spec":{"template":{"spec":{"domain":{"devices":{"interfaces":[{"name":1}]}}}}}}`,
			want: "spec.template.spec.domain.devices.interfaces.name: a JSON number where a string is expected"},
		{name: "a multus network a list", raw: `{"spec":{"template":{"spec":{"networks":[{"name":"a","multus":[]}]}}}}`,
			want: "spec.template.spec.networks.multus: a JSON array where an object is expected"},
		{name: "template spec a string", raw: `{"spec":{"template":{"spec":"x"}}}`, want: "spec.template.spec: a JSON string where an object is expected"},
		{name: "annotations a list", raw: `{"metadata":{"annotations":[]}}`, want: "metadata.annotations: a JSON array where an object is expected"},
		{name: "a bad deletionTimestamp", raw: `{"metadata":{"deletionTimestamp":"yesterday"}}`, want: `parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`},
		// Not read, so not decoded: kube-apiserver's schema validation
		// refuses these.
		{name: "runStrategy a number", raw: `{"spec":{"runStrategy":5,"template":{"spec":{"domain":{"resources":"lots"}}}}}`},
		{name: "status a string", raw: `{"status":"fine"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeVirtualMachine([]byte(tc.raw))
			if fmt.Sprint(err) != tc.want && !(err == nil && tc.want == "") {
				t.Errorf("error %q, want %q", fmt.Sprint(err), tc.want)
			}
			if tc.want != "" {
				if _, fullErr := fullDecode([]byte(tc.raw)); fullErr == nil {
					t.Errorf("a full decode takes it")
				}
			}
		})
	}
}

// TestDecodeVirtualMachineLeavesTheRestZero: a caller that reads a field
// DecodeVirtualMachine does not decode finds it zero, never a value from
// the request that nothing checked against a full decode.
func TestDecodeVirtualMachineLeavesTheRestZero(t *testing.T) {
	raw := edited(t, realisticVM(t), func(vm map[string]interface{}) {
		metadata := vm["metadata"].(map[string]interface{})
		metadata["uid"], metadata["deletionTimestamp"] = "0b5e", "2026-12-01T03:00:00Z"
		metadata["ownerReferences"] = []interface{}{map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "1"}}
		metadata["finalizers"] = []interface{}{"kubevirt.io/virtualMachineControllerFinalize"}
	})
	vm, err := DecodeVirtualMachine(raw)
	if err != nil {
		t.Fatal(err)
	}
	full, err := fullDecode(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := &kubevirtv1.VirtualMachine{ObjectMeta: readMetadata(full.ObjectMeta), Spec: kubevirtv1.VirtualMachineSpec{Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{}}}
	want.Spec.Template.Spec.Domain.Devices.Interfaces = full.Spec.Template.Spec.Domain.Devices.Interfaces
	want.Spec.Template.Spec.Networks = full.Spec.Template.Spec.Networks
	if !equality.Semantic.DeepEqual(vm, want) {
		t.Errorf("decoded %+v, want only %+v", vm, want)
	}
	if len(vm.Spec.Template.Spec.Domain.Devices.Interfaces) != 2 || len(vm.Spec.Template.Spec.Networks) != 2 || vm.Name != "fedora-db-01" ||
		vm.UID != "0b5e" || vm.DeletionTimestamp == nil || !strings.HasPrefix(vm.Annotations["description"], "inventory") {
		t.Errorf("missing what the webhook reads: %+v", vm)
	}
}

// FuzzDecodeVirtualMachine checks DecodeVirtualMachine against a full
// decode on any input: it refuses nothing a full decode takes, decodes
// the same metadata, template presence, interfaces and networks, and the
// webhook's plan and patch from the two are the same, on a CREATE and on
// an UPDATE whose old object is the same VirtualMachine.
func FuzzDecodeVirtualMachine(f *testing.F) {
	f.Add(realisticVM(f))
	f.Add(withMACs(f, realisticVM(f), "02:00:00:00:cc:01", "02:00:00:00:cc:02"))
	for _, spec := range []string{podOnlySpec, podBridgeSpec, fourMultusSpec, fourMultusMACsSpec, `{}`, `null`, `"x"`} {
		f.Add(smallVM(spec))
	}
	for _, raw := range []string{
		`{"spec":{"template":{"Spec":` + fourMultusSpec + `,"spec":{"domain":{"devices":{"interfaces":[{"name":"a","bridge":{}}]}}}}}}`,
		`{"spec":{"template":{"spec":` + fourMultusSpec + `,"SPEC":null}}}`,
		`{"spec":{"Template":{"spec":` + podOnlySpec + `},"template":{"metadata":{}}}}`,
		`{"Metadata":{"Name":"vm","deletionTimestamp":"2026-12-01T03:00:00Z"},"SPEC":{"TEMPLATE":{"Spec":{"Domain":{"Devices":{"Interfaces":[{"Name":"a","Bridge":{}}]}},"Networks":[{"NAME":"a","Multus":{"NetworkName":"x"}}]}}}}`,
		`{"metadata":{"annotations":{"kubemacpool.io/retention":"1h"}},"spec":{"template":{"spec":{"networks":[{"name":"a","multus":[]}]}}}}`,
		`{"spec":{"runStrategy":5,"template":{"spec":{"domain":{"resources":"lots"}}}}}`,
		`[]`, `null`, `{"metadata":`,
	} {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		full, admitted := agree(t, raw)
		if full == nil {
			return
		}
		for _, old := range [][2]*kubevirtv1.VirtualMachine{{nil, nil}, {full, admitted}} {
			wantPlan, wantPatch, wantErr := plannedPatch(full, old[0])
			plan, patch, err := plannedPatch(admitted, old[1])
			if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(plan, wantPlan) || !bytes.Equal(patch, wantPatch) {
				t.Fatalf("plan %+v, patch %s, error %v; a full decode gives %+v, %s, %v", plan, patch, err, wantPlan, wantPatch, wantErr)
			}
		}
	})
}
