package collision

import "strings"

// Key prefixes. The kind is part of the key because a Pod and a VMI may
// share a namespace and name (virt-launcher pods do not, but nothing
// forbids it), and they are distinct holders of a MAC.
const (
	podPrefix = "pod/"
	vmiPrefix = "vmi/"
)

// PodKey is the Index key of a Pod.
func PodKey(namespace, name string) string { return podPrefix + namespace + "/" + name }

// VMIKey is the Index key of a VirtualMachineInstance.
func VMIKey(namespace, name string) string { return vmiPrefix + namespace + "/" + name }

// isVMI reports whether key names a VirtualMachineInstance. Only VMIs can
// be halves of a live migration; a Pod claiming migration IDs is ignored.
func isVMI(key string) bool { return strings.HasPrefix(key, vmiPrefix) }

// KeyNamespace is the namespace in a key of PodKey or VMIKey.
func KeyNamespace(key string) string {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}
