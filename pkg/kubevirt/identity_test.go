package kubevirt

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestOwnerReference(t *testing.T) {
	vmi := metav1.OwnerReference{APIVersion: "kubevirt.io/v1", Kind: KindVirtualMachineInstance, Name: "vm", UID: "1"}
	tests := []struct {
		name       string
		references []metav1.OwnerReference
		kind       string
		want       *metav1.OwnerReference
	}{
		{name: "none", kind: KindVirtualMachineInstance},
		{name: "found", references: []metav1.OwnerReference{vmi}, kind: KindVirtualMachineInstance, want: &vmi},
		{name: "another version of the group", kind: KindVirtualMachineInstance,
			references: []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1alpha3", Kind: KindVirtualMachineInstance, Name: "old"}},
			want:       &metav1.OwnerReference{APIVersion: "kubevirt.io/v1alpha3", Kind: KindVirtualMachineInstance, Name: "old"}},
		{name: "the kind in another group", kind: KindVirtualMachineInstance,
			references: []metav1.OwnerReference{{APIVersion: "evil.example/v1", Kind: KindVirtualMachineInstance, Name: "vm"}}},
		{name: "another kind", references: []metav1.OwnerReference{vmi}, kind: KindVirtualMachine},
		{name: "an unparsable API version", kind: KindVirtualMachineInstance,
			references: []metav1.OwnerReference{{APIVersion: "a/b/c", Kind: KindVirtualMachineInstance}}},
		{name: "the first of two", kind: KindVirtualMachineInstance,
			references: []metav1.OwnerReference{vmi, {APIVersion: "kubevirt.io/v1", Kind: KindVirtualMachineInstance, Name: "second"}}, want: &vmi},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got := OwnerReference(test.references, test.kind)
			if (got == nil) != (test.want == nil) || got != nil && *got != *test.want {
				t.Errorf("OwnerReference = %v, want %v", got, test.want)
			}
		})
	}
}

func TestClaimsLauncher(t *testing.T) {
	tests := []struct {
		name       string
		labels     map[string]string
		references []metav1.OwnerReference
		want       bool
	}{
		{name: "a plain pod"},
		{name: "KubeVirt's label", labels: map[string]string{"kubevirt.io": "virt-launcher"}, want: true},
		{name: "another value of the label", labels: map[string]string{"kubevirt.io": "virt-handler"}},
		{name: "owned by a VMI", references: []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance"}}, want: true},
		// Read broadly: a claim only ever keeps a lease longer.
		{name: "owned by a VMI-kind object of another group", references: []metav1.OwnerReference{{APIVersion: "x.example/v1", Kind: "VirtualMachineInstance"}}, want: true},
		{name: "owned by a VM", references: []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine"}}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if got := ClaimsLauncher(test.labels, test.references); got != test.want {
				t.Errorf("ClaimsLauncher = %t, want %t", got, test.want)
			}
		})
	}
}

func TestIsLauncherName(t *testing.T) {
	long := strings.Repeat("v", 50)
	tests := []struct {
		name, pod, vmi string
		want           bool
	}{
		{name: "generated for the VMI", pod: "virt-launcher-lonely-x7k2q", vmi: "lonely", want: true},
		{name: "an older KubeVirt's, without the dash", pod: "virt-launcher-lonelyx7k2q", vmi: "lonely", want: true},
		{name: "a StatefulSet's Pod", pod: "db-0", vmi: "lonely"},
		{name: "another VMI's launcher", pod: "virt-launcher-other-x7k2q", vmi: "lonely"},
		{name: "the VMI's name without the prefix", pod: "lonely-x7k2q", vmi: "lonely"},
		// kube-apiserver keeps 58 characters of the generateName.
		{name: "generated for a long name, cut", pod: ("virt-launcher-" + long)[:58] + "x7k2q", vmi: long, want: true},
		{name: "another long name, different in the part kept", pod: ("virt-launcher-" + long)[:58] + "x7k2q", vmi: long[:40] + "w" + long[:9]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsLauncherName(tt.pod, tt.vmi); got != tt.want {
				t.Errorf("IsLauncherName(%q, %q) = %v, want %v", tt.pod, tt.vmi, got, tt.want)
			}
		})
	}
}
