package pods

import (
	"context"
	"errors"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
)

func kubeVirtObject(kind, name string, uid types.UID, owners ...metav1.OwnerReference) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("kubevirt.io/v1")
	obj.SetKind(kind)
	obj.SetNamespace("tenant")
	obj.SetName(name)
	obj.SetUID(uid)
	obj.SetOwnerReferences(owners)
	return obj
}

func ownedBy(kind, name string, uid types.UID) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "kubevirt.io/v1", Kind: kind, Name: name, UID: uid}
}

func TestLaunchersOfVirtualMachine(t *testing.T) {
	vm := kubeVirtObject("VirtualMachine", "vm", "uid-vm")
	vmi := kubeVirtObject("VirtualMachineInstance", "vm", "uid-vmi", ownedBy("VirtualMachine", "vm", "uid-vm"))
	standalone := kubeVirtObject("VirtualMachineInstance", "lonely", "uid-lonely")
	orphan := kubeVirtObject("VirtualMachineInstance", "orphan", "uid-orphan", ownedBy("VirtualMachine", "gone", "uid-gone"))
	stale := kubeVirtObject("VirtualMachineInstance", "stale", "uid-stale", ownedBy("VirtualMachine", "vm", "uid-old-vm"))

	const kubevirt = "system:serviceaccount:kubevirt:kubevirt-controller"
	cases := []struct {
		name     string
		owners   []metav1.OwnerReference
		labels   map[string]string
		user     string
		identity string
		want     bool
	}{
		{"the launcher of a VM's VMI, created by KubeVirt", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "vm", "uid-vmi")}, nil, kubevirt, kubevirt, true},
		{"the same pod created by a tenant", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "vm", "uid-vmi")}, nil, "tenant", kubevirt, false},
		{"the same pod by anybody when no identity is configured", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "vm", "uid-vmi")}, nil, "tenant", "", true},
		{"a forged label alone", nil, map[string]string{"kubevirt.io": "virt-launcher"}, kubevirt, kubevirt, false},
		{"an owner reference to a VMI that does not exist", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "ghost", "uid-ghost")}, nil, kubevirt, kubevirt, false},
		{"an owner reference with another UID than the VMI's", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "vm", "uid-forged")}, nil, kubevirt, kubevirt, false},
		{"an owner reference of another group", []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "VirtualMachineInstance", Name: "vm", UID: "uid-vmi"}}, nil, kubevirt, kubevirt, false},
		{"the launcher of a standalone VMI", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "lonely", "uid-lonely")}, nil, kubevirt, kubevirt, false},
		{"a VMI whose VM is gone", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "orphan", "uid-orphan")}, nil, kubevirt, kubevirt, false},
		{"a VMI owned by an earlier VM of the same name", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "stale", "uid-stale")}, nil, kubevirt, kubevirt, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), vm, vmi, standalone, orphan, stale)
			launchers := &Launchers{KubeVirt: client, Identity: tc.identity}
			pod := &metav1.ObjectMeta{Namespace: "tenant", Name: "virt-launcher-x", Labels: tc.labels, OwnerReferences: tc.owners}
			request := &admissionv1.AdmissionRequest{Namespace: "tenant", UserInfo: authenticationv1.UserInfo{Username: tc.user}}
			got, err := launchers.ofVirtualMachine(context.Background(), request, pod)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != tc.want {
				t.Errorf("ofVirtualMachine = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLaunchersUnavailable(t *testing.T) {
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	client.PrependReactor("get", "virtualmachineinstances", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	launchers := &Launchers{KubeVirt: client}
	pod := &metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "vm", "uid-vmi")}}
	_, err := launchers.ofVirtualMachine(context.Background(), &admissionv1.AdmissionRequest{Namespace: "tenant"}, pod)
	var unavailable *UnavailableError
	if !errors.As(err, &unavailable) {
		t.Fatalf("got %v, want an UnavailableError: a failed check must not skip the pod", err)
	}
}
