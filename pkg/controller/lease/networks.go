package lease

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"kubemacpool.io/kubemacpool/pkg/admission/vminterfaces"
	"kubemacpool.io/kubemacpool/pkg/collision"
)

// vmiHoldings are the MACs a VirtualMachineInstance's status reports, each
// on the multus network that spec.networks gives the interface of that
// name. An interface on the pod network, one the status does not name (the
// guest agent reports the guest's own), or a spec that does not decode is
// of unknown scope: it may meet any network, so it still collides.
func vmiHoldings(vmi *unstructured.Unstructured) []collision.Holding {
	interfaces, _, _ := unstructured.NestedSlice(vmi.Object, "status", "interfaces")
	var networks []kubevirtv1.Network
	if raw, found, _ := unstructured.NestedSlice(vmi.Object, "spec", "networks"); found {
		decoded := struct {
			Networks []kubevirtv1.Network `json:"networks"`
		}{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(map[string]interface{}{"networks": raw}, &decoded); err == nil {
			networks = decoded.Networks
		}
	}
	var holdings []collision.Holding
	for _, iface := range interfaces {
		fields, ok := iface.(map[string]interface{})
		if !ok {
			continue
		}
		address, ok := fields["mac"].(string)
		if !ok || address == "" {
			continue
		}
		holding := collision.Holding{MAC: address, Network: collision.UnknownNetwork}
		if name, ok := fields["name"].(string); ok && name != "" {
			if namespace, network, multus := vminterfaces.MultusNetwork(name, networks, vmi.GetNamespace()); multus {
				holding.Network = namespace + "/" + network
			}
		}
		holdings = append(holdings, holding)
	}
	return holdings
}
