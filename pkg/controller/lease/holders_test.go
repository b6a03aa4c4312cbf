package lease

import (
	"reflect"
	goruntime "runtime"
	"testing"
	"time"
	"weak"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// A VirtualMachine the original Kubemacpool managed is adopted on its MACs
// alone: its transaction-timestamp annotation and legacy finalizer, even
// while it is being deleted, change nothing.
func TestVMHolderIgnoresWhatTheOriginalLeft(t *testing.T) {
	now := metav1.Now()
	vm := &kubevirtv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{
			Name: "old", Namespace: "ns", UID: "uid-1",
			Annotations:       map[string]string{"kubemacpool.io/transaction-timestamp": "not even a time"},
			Finalizers:        []string{"k8s.v1.cni.cncf.io/kubeMacPool"},
			DeletionTimestamp: &now,
		},
		Spec: kubevirtv1.VirtualMachineSpec{Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{
			Spec: kubevirtv1.VirtualMachineInstanceSpec{
				Domain: kubevirtv1.DomainSpec{Devices: kubevirtv1.Devices{Interfaces: []kubevirtv1.Interface{{
					Name: "default", MacAddress: "02:00:00:00:00:2a",
					InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Masquerade: &kubevirtv1.InterfaceMasquerade{}},
				}}}},
				Networks: []kubevirtv1.Network{{Name: "default", NetworkSource: kubevirtv1.NetworkSource{Pod: &kubevirtv1.PodNetwork{}}}},
			},
		}},
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(vm)
	if err != nil {
		t.Fatal(err)
	}
	h, err := vmHolder(&unstructured.Unstructured{Object: content})
	if err != nil {
		t.Fatalf("vmHolder: %v", err)
	}
	want := map[string]string{"02:00:00:00:00:2a": "default"}
	if !reflect.DeepEqual(h.interfaces, want) {
		t.Errorf("interfaces = %v, want %v", h.interfaces, want)
	}
}

// A lease made by the webhook for an object created with generateName names
// the prefix; the object it binds to has the full name. VirtualMachines are
// created with generateName too.
func TestOwnedBy(t *testing.T) {
	tests := []struct {
		holderKind, holderName string
		kind, name             string
		want                   bool
	}{
		{"Pod", "web-x7k2p", "Pod", "web-", true},
		{"VirtualMachine", "vm-q8z4m", "VirtualMachine", "vm-", true},
		{"VirtualMachine", "vm", "VirtualMachine", "vm", true},
		{"VirtualMachine", "other", "VirtualMachine", "vm-", false},
		{"Pod", "vm-q8z4m", "VirtualMachine", "vm-", false},
		{"VirtualMachine", "vm", "VirtualMachine", "", false},
	}
	for _, tt := range tests {
		h := &holder{kind: tt.holderKind, name: tt.holderName}
		if got := h.ownedBy(tt.kind, tt.name); got != tt.want {
			t.Errorf("%s %s ownedBy(%s, %q) = %v, want %v", tt.holderKind, tt.holderName, tt.kind, tt.name, got, tt.want)
		}
	}
}

// vmHolder reads an object once: the same object gives the same holder, a
// new version of the VM (a new object) is read again, and the entry goes
// once the object is collected.
func TestVMHolderReadsAnObjectOnce(t *testing.T) {
	vmObject := func(address string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]interface{}{
			"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
			"metadata": map[string]interface{}{"name": "vm", "namespace": "ns", "uid": "uid-1"},
			"spec": map[string]interface{}{"template": map[string]interface{}{"spec": map[string]interface{}{
				"domain":   map[string]interface{}{"devices": map[string]interface{}{"interfaces": []interface{}{map[string]interface{}{"name": "red", "bridge": map[string]interface{}{}, "macAddress": address}}}},
				"networks": []interface{}{map[string]interface{}{"name": "red", "multus": map[string]interface{}{"networkName": "red-net"}}},
			}}},
		}}
	}
	first := vmObject("02:00:00:00:00:01")
	h1, err := vmHolder(first)
	if err != nil {
		t.Fatal(err)
	}
	again, err := vmHolder(first)
	if err != nil || again != h1 {
		t.Fatalf("the same object read again: %p, %v; want the holder read first, %p", again, err, h1)
	}
	second := vmObject("02:00:00:00:00:02")
	h2, err := vmHolder(second)
	if err != nil {
		t.Fatal(err)
	}
	if h2 == h1 || h2.interfaces["02:00:00:00:00:02"] != "red" || len(h2.interfaces) != 1 {
		t.Fatalf("a new version: %+v, want its own read", h2)
	}

	keys := []weak.Pointer[unstructured.Unstructured]{weak.Make(first), weak.Make(second)}
	cached := func() int {
		n := 0
		for _, key := range keys {
			if _, ok := vmHolders.Load(key); ok {
				n++
			}
		}
		return n
	}
	if cached() != 2 {
		t.Fatalf("%d of the two objects' holders cached", cached())
	}
	first, second = nil, nil
	deadline := time.Now().Add(10 * time.Second)
	for cached() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d cached holders left after their objects were collected", cached())
		}
		goruntime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
