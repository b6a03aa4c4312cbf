package kubevirt

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"
	sigsjson "sigs.k8s.io/json"
)

// DecodeVirtualMachine decodes the JSON of a VirtualMachine, as an admission
// request carries it, into a VirtualMachine that holds only what the
// webhook reads: of the metadata the name, generateName, UID,
// deletionTimestamp and annotations; whether spec.template is set; and the
// template's interfaces and networks. Everything else stays zero (labels,
// owners and managed fields too): a caller that needs another field must
// add it here and to agree in decode_test.go, which the fuzz test uses to
// compare this with a full decode. The rest of the JSON is skipped, not
// decoded: most of a VirtualMachine (domain, disks, volumes, data volume
// templates, managed fields, status) costs the webhook a scan, not a copy.
//
// The decoded fields keep their kubevirtv1 and metav1 types (interfaces and
// networks whole) and the rules of the decode every client-go consumer of
// the object makes (KubeVirt's controllers, this server's lease
// controller): members matched case-sensitively, a repeated key decoded
// again into what the first one left, and KubeVirt's own UnmarshalJSON
// methods, which decode the template spec with encoding/json,
// case-insensitively. So they are exactly what those consumers see. Interface fields this KubeVirt version does not
// know are dropped from the decoded value in both, and never from the
// object, since the webhook's patch only adds macAddress members. An error
// names the field and the JSON found there; invalid JSON anywhere is an
// error, a type error outside the decoded fields is not (kube-apiserver's
// schema validation refuses it).
func DecodeVirtualMachine(raw []byte) (*kubevirtv1.VirtualMachine, error) {
	var decoded admittedVM
	// Case-sensitive, as every client-go decoder (KubeVirt's controllers,
	// this server's lease controller) reads the object: with encoding/json's
	// case folding a tenant could add a member such as "ſpec" (U+017F) that
	// only this webhook would take for "spec", and have it lease MACs for
	// interfaces that KubeVirt never sees while the real ones go unleased.
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, &decoded); err != nil {
		return nil, decodeError(err)
	}
	return decoded.virtualMachine(), nil
}

// ReadVirtualMachine reads of an unstructured VirtualMachine (an
// informer's) what DecodeVirtualMachine reads of its JSON, as
// runtime.DefaultUnstructuredConverter reads it: members matched exactly,
// and the template spec handed to the UnmarshalJSON that KubeVirt's type
// has (encoding/json, case-insensitive). The rest of the object is not
// converted: converting all of it was a tenth of the server's CPU per
// VirtualMachine admitted, in the lease controller. namespace is not kept
// by DecodeVirtualMachine (an admission request names it) and is here.
func ReadVirtualMachine(object *unstructured.Unstructured) (*kubevirtv1.VirtualMachine, error) {
	var read admittedVM
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object, &read); err != nil {
		return nil, fmt.Errorf("reading VirtualMachine %s/%s: %w", object.GetNamespace(), object.GetName(), err)
	}
	vm := read.virtualMachine()
	vm.Namespace = read.Metadata.Namespace
	return vm, nil
}

// virtualMachine is the VirtualMachine with only what was read filled in.
func (d *admittedVM) virtualMachine() *kubevirtv1.VirtualMachine {
	meta := &d.Metadata
	vm := &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: meta.Name, GenerateName: meta.GenerateName, UID: meta.UID,
		DeletionTimestamp: meta.DeletionTimestamp, Annotations: meta.Annotations}}
	if template := d.Spec.Template; template != nil {
		vm.Spec.Template = &kubevirtv1.VirtualMachineInstanceTemplateSpec{}
		spec := &vm.Spec.Template.Spec
		spec.Domain.Devices.Interfaces = template.Spec.Domain.Devices.Interfaces
		spec.Networks = template.Spec.Networks
	}
	return vm
}

// admittedVM mirrors the JSON shape of kubevirtv1.VirtualMachine down to
// the fields DecodeVirtualMachine keeps; encoding/json skips every other
// member.
type admittedVM struct {
	Metadata admittedMeta `json:"metadata,omitempty"`
	Spec     struct {
		Template *struct {
			Spec admittedInstanceSpec `json:"spec,omitempty"`
		} `json:"template"`
	} `json:"spec"`
}

// admittedMeta is the part of metav1.ObjectMeta the webhook reads: labels,
// owner references and above all managed fields are skipped.
type admittedMeta struct {
	Name              string            `json:"name,omitempty"`
	Namespace         string            `json:"namespace,omitempty"`
	GenerateName      string            `json:"generateName,omitempty"`
	UID               types.UID         `json:"uid,omitempty"`
	DeletionTimestamp *metav1.Time      `json:"deletionTimestamp,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
}

// admittedInstanceSpec is spec.template.spec, kubevirtv1's
// VirtualMachineInstanceSpec cut down to its interfaces and networks.
type admittedInstanceSpec struct {
	Domain struct {
		Devices struct {
			Interfaces []kubevirtv1.Interface `json:"interfaces,omitempty"`
		} `json:"devices"`
	} `json:"domain"`
	Networks []kubevirtv1.Network `json:"networks,omitempty"`
}

// UnmarshalJSON decodes into a zero value and replaces s, as
// kubevirtv1.VirtualMachineInstanceSpec's UnmarshalJSON does: a repeated
// "spec" member replaces the first one instead of merging into it, and
// null clears it. Without this the two decodes could disagree on such
// input.
func (s *admittedInstanceSpec) UnmarshalJSON(data []byte) error {
	type plain admittedInstanceSpec
	var decoded plain
	if err := json.Unmarshal(data, &decoded); err != nil {
		return err
	}
	*s = admittedInstanceSpec(decoded)
	return nil
}

// decodeError turns a type error into one that names the field in the
// API server's notation and the kinds of JSON found and expected, without
// the Go type names of this package.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) || typeErr.Type == nil {
		return err
	}
	var path []string
	for _, name := range strings.Split(typeErr.Field, ".") {
		if name != "" && !inlined[name] {
			path = append(path, name)
		}
	}
	field := strings.Join(path, ".")
	if field == "" {
		field = "the object"
	}
	return fmt.Errorf("%s: a JSON %s where %s is expected", field, typeErr.Value, jsonKind(typeErr.Type))
}

// inlined are the Go names of the structs that kubevirtv1.Interface and
// kubevirtv1.Network embed: encoding/json names them in an error's field
// path, although their members are the object's own in JSON.
var inlined = func() map[string]bool {
	names := map[string]bool{}
	for _, t := range []reflect.Type{reflect.TypeFor[kubevirtv1.Interface](), reflect.TypeFor[kubevirtv1.Network]()} {
		for i := range t.NumField() {
			if field := t.Field(i); field.Anonymous {
				names[field.Name] = true
			}
		}
	}
	return names
}()

// jsonKind names the JSON value that decodes into t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return "another value"
	}
}
