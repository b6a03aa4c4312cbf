package pods

import (
	"net/http"
	"slices"

	admissionv1 "k8s.io/api/admission/v1"

	"kubemacpool.io/kubemacpool/pkg/admission/webhook"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/multus"
)

// A running Pod's networks are set up from its networks annotation when its
// sandbox is made, and a dynamic networks controller (such as multus's)
// hot-plugs and unplugs interfaces when the annotation changes. So an update
// of the annotation is admitted like a create for what it adds: a network
// added with a MAC has it leased, one added without gets one. What it
// removes is refused: nothing tells this server whether an interface really
// went (no dynamic networks controller may run), and a MAC dropped from the
// annotation of a Pod that still uses it would be handed to another tenant's
// Pod by the lease controller's release. A Pod keeps its MACs until it is
// deleted.

// macsOf returns the MACs an annotation gives, with the network of each;
// nothing for an annotation that does not parse (a Pod created while the
// webhook was not called may carry one).
func macsOf(annotation, namespace string) map[mac.Address]string {
	if annotation == "" {
		return nil
	}
	networks, err := multus.Parse(annotation, namespace)
	if err != nil {
		return nil
	}
	macs := map[mac.Address]string{}
	for i := 0; i < networks.Len(); i++ {
		if address, err := mac.ParseUnicast(networks.Element(i).MAC); err == nil {
			macs[address] = networks.Key(i)
		}
	}
	return macs
}

// keepsCarriedMACs refuses an update that drops or changes a MAC the Pod
// carried; nil when every one is still in networks (nil: the annotation is
// gone).
func keepsCarriedMACs(networks *multus.Networks, carried map[mac.Address]string) *admissionv1.AdmissionResponse {
	kept := map[mac.Address]bool{}
	for i := 0; networks != nil && i < networks.Len(); i++ {
		if address, err := mac.ParseUnicast(networks.Element(i).MAC); err == nil {
			kept[address] = true
		}
	}
	var dropped []mac.Address
	for address := range carried {
		if !kept[address] {
			dropped = append(dropped, address)
		}
	}
	if len(dropped) == 0 {
		return nil
	}
	slices.Sort(dropped)
	return webhook.Deny(http.StatusUnprocessableEntity,
		"metadata.annotations[%s]: the MAC %s of network %s cannot be removed or changed: a Pod keeps its MACs until it is deleted",
		multus.NetworksAnnotation, dropped[0], carried[dropped[0]])
}
