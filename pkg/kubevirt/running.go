package kubevirt

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// RunningMACs are the MACs a VMI's guest runs with: those KubeVirt reports
// in its status on an interface of its spec that has that MAC (the target
// launcher of a live migration carries them, and they were admitted with
// the first launcher). A MAC the guest agent reports for an interface of
// the guest's own has no interface of the spec, and the guest chooses it.
// The status is its writer's word: whoever may update a VMI writes it.
func RunningMACs(vmi *unstructured.Unstructured) map[mac.Address]bool {
	specified := map[string]mac.Address{}
	interfaces, _, _ := unstructured.NestedSlice(vmi.Object, "spec", "domain", "devices", "interfaces")
	for _, iface := range interfaces {
		fields, _ := iface.(map[string]interface{})
		name, _ := fields["name"].(string)
		text, _ := fields["macAddress"].(string)
		if address, err := mac.Parse(text); err == nil && name != "" {
			specified[name] = address
		}
	}
	running := map[mac.Address]bool{}
	statuses, _, _ := unstructured.NestedSlice(vmi.Object, "status", "interfaces")
	for _, status := range statuses {
		fields, _ := status.(map[string]interface{})
		name, _ := fields["name"].(string)
		text, _ := fields["mac"].(string)
		// A name the spec does not have matches nothing: the zero value
		// of the map is the MAC 00:00:00:00:00:00, which a status
		// (anybody's to write) could report on any invented name.
		if address, err := mac.Parse(text); err == nil && name != "" {
			if want, ok := specified[name]; ok && want == address {
				running[address] = true
			}
		}
	}
	return running
}
