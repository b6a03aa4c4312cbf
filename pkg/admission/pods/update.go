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
// deleted, each on the network it carried it on: a MAC the update moves to
// another network would skip that network's pool (its conflictPolicy, its
// collision domain), since a carried MAC is not asked for again.

// attached is what a Pod's networks annotation gave before an update: the
// MACs it carried, with the network of each, and the networks it named. A
// nil *attached is a create's: nothing before.
type attached struct {
	macs     map[mac.Address]string
	networks map[string]bool
}

// attachedBy reads an annotation as it was before an update; an annotation
// that does not parse (a Pod created while the webhook was not called may
// carry one) attached nothing this server can tell.
func attachedBy(annotation, namespace string) *attached {
	before := &attached{macs: map[mac.Address]string{}, networks: map[string]bool{}}
	if annotation == "" {
		return before
	}
	networks, err := multus.Parse(annotation, namespace)
	if err != nil {
		return before
	}
	for i := 0; i < networks.Len(); i++ {
		before.networks[networks.Key(i)] = true
		if address, err := mac.ParseUnicast(networks.Element(i).MAC); err == nil {
			before.macs[address] = networks.Key(i)
		}
	}
	return before
}

// carries tells a MAC the Pod had before: its own already, not asked for
// again.
func (a *attached) carries(address mac.Address) bool {
	if a == nil {
		return false
	}
	_, ok := a.macs[address]
	return ok
}

// named tells a network the Pod was attached to before. One without a MAC
// has the one its CNI plugin chose (the Pod predates this server, or its
// namespace was not managed): it is left so, not given another.
func (a *attached) named(key string) bool {
	return a != nil && a.networks[key]
}

// keepsCarriedMACs refuses an update that drops, changes or moves a MAC
// the Pod carried; nil when every one is still in networks on its network
// (nil: the annotation is gone). A moved MAC is refused rather than asked
// for on its new network: its lease records the network it was leased on
// (spec.interface), the one the lease controller checks for collisions, and
// a dynamic networks controller would have to unplug it from one interface
// and plug it into another, which nothing here can see happen.
func keepsCarriedMACs(networks *multus.Networks, before *attached) *admissionv1.AdmissionResponse {
	if before == nil {
		return nil
	}
	kept := map[mac.Address]string{}
	for i := 0; networks != nil && i < networks.Len(); i++ {
		if address, err := mac.ParseUnicast(networks.Element(i).MAC); err == nil {
			kept[address] = networks.Key(i)
		}
	}
	var dropped, moved []mac.Address
	for address, key := range before.macs {
		switch now, ok := kept[address]; {
		case !ok:
			dropped = append(dropped, address)
		case now != key:
			moved = append(moved, address)
		}
	}
	if len(dropped) != 0 {
		slices.Sort(dropped)
		return webhook.Deny(http.StatusUnprocessableEntity,
			"metadata.annotations[%s]: the MAC %s of network %s cannot be removed or changed: a Pod keeps its MACs until it is deleted",
			multus.NetworksAnnotation, dropped[0], before.macs[dropped[0]])
	}
	if len(moved) != 0 {
		slices.Sort(moved)
		return webhook.Deny(http.StatusUnprocessableEntity,
			"metadata.annotations[%s]: the MAC %s of network %s cannot be moved to network %s: a Pod keeps its MACs on their networks until it is deleted",
			multus.NetworksAnnotation, moved[0], before.macs[moved[0]], kept[moved[0]])
	}
	return nil
}
