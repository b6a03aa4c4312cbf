package kubevirt

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/storage/names"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// The KubeVirt resources that the webhooks and the controllers read, at the
// version this package models.
var (
	VirtualMachines         = kubevirtv1.SchemeGroupVersion.WithResource("virtualmachines")
	VirtualMachineInstances = kubevirtv1.SchemeGroupVersion.WithResource("virtualmachineinstances")
)

const (
	KindVirtualMachine         = "VirtualMachine"
	KindVirtualMachineInstance = "VirtualMachineInstance"

	// LauncherLabel and LauncherLabelValue mark the pods virt-controller
	// creates to run a VirtualMachineInstance. Anyone who creates a pod can
	// set them: they are a claim, never proof.
	LauncherLabel      = "kubevirt.io"
	LauncherLabelValue = "virt-launcher"
)

// IsLauncherName reports whether name may be one that kube-apiserver
// generated for a virt-launcher pod of the VirtualMachineInstance vmi:
// virt-controller asks for "virt-launcher-<vmi>-" plus a random suffix, and
// a generated name keeps at most names.MaxGeneratedNameLength characters of
// what it asked for. Such a name does not come back, as a StatefulSet's
// Pod's does. The dash is not required, as older KubeVirt versions left it
// out.
func IsLauncherName(name, vmi string) bool {
	prefix := "virt-launcher-" + vmi
	if len(prefix) > names.MaxGeneratedNameLength {
		prefix = prefix[:names.MaxGeneratedNameLength]
	}
	return strings.HasPrefix(name, prefix)
}

// OwnerReference returns the first of references that points to an object
// of kind in KubeVirt's group, whatever its version, or nil.
func OwnerReference(references []metav1.OwnerReference, kind string) *metav1.OwnerReference {
	for i, reference := range references {
		group, err := schema.ParseGroupVersion(reference.APIVersion)
		if err == nil && group.Group == kubevirtv1.SchemeGroupVersion.Group && reference.Kind == kind {
			return &references[i]
		}
	}
	return nil
}

// ClaimsLauncher reports whether a pod with these labels and owner
// references says it is a virt-launcher pod: KubeVirt's label, or an owner
// reference of kind VirtualMachineInstance in any group. Both are the pod
// creator's to write; callers that need proof look the
// VirtualMachineInstance up by UID. A claim is read broadly because callers
// use it only to stay on the safe side (keep a lease longer).
func ClaimsLauncher(labels map[string]string, references []metav1.OwnerReference) bool {
	if labels[LauncherLabel] == LauncherLabelValue {
		return true
	}
	for _, reference := range references {
		if reference.Kind == KindVirtualMachineInstance {
			return true
		}
	}
	return false
}
