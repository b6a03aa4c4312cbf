package kubevirt

import (
	"strings"

	kubevirtv1 "kubevirt.io/api/core/v1"
)

// MultusNetwork returns the NetworkAttachmentDefinition that the interface
// named ifaceName is attached to: multus.networkName of the first network
// of that name, "name" (in namespace, the VirtualMachine's) or
// "namespace/name". ok is false for an interface on the pod network or on
// no network, and for an empty networkName.
func MultusNetwork(ifaceName string, networks []kubevirtv1.Network, namespace string) (nadNamespace, nadName string, ok bool) {
	for i := range networks {
		if networks[i].Name != ifaceName {
			continue
		}
		if networks[i].Multus == nil || networks[i].Multus.NetworkName == "" {
			return "", "", false
		}
		nadNamespace, nadName = namespace, networks[i].Multus.NetworkName
		if before, after, qualified := strings.Cut(nadName, "/"); qualified {
			nadNamespace, nadName = before, after
		}
		if nadNamespace == "" || nadName == "" {
			return "", "", false
		}
		return nadNamespace, nadName, true
	}
	return "", "", false
}
