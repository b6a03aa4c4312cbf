package collision

import (
	"slices"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// UnknownNetwork is the network of a MAC whose L2 scope is not known: a
// VirtualMachine interface on the pod network (masquerade), an interface
// whose network cannot be resolved, or a caller that gives no network
// (Update). It may meet any network, so it collides with every holder.
const UnknownNetwork = ""

// Holding is one MAC an object holds and the network it is on.
type Holding struct {
	// MAC in any spelling mac.Parse accepts.
	MAC string
	// Network is the multus network (NetworkAttachmentDefinition
	// "namespace/name") the MAC is on, or UnknownNetwork.
	Network string
}

// Meet reports whether holders of one MAC on networks a and b (each the
// networks one holder has the MAC on) can meet on one L2 network: they
// share a network, or either has the MAC on a network of unknown scope.
// Two multus networks of different names are taken to be different L2
// domains: that is the point of giving each network a pool of its own.
func Meet(a, b []string) bool {
	if slices.Contains(a, UnknownNetwork) || slices.Contains(b, UnknownNetwork) {
		return true
	}
	for _, network := range a {
		if _, found := slices.BinarySearch(b, network); found {
			return true
		}
	}
	return false
}

// normaliseHoldings returns the canonical form of each parseable MAC,
// unique and sorted, the sorted unique networks of each, and the MACs that
// did not parse. An object listing a MAC twice (two interfaces) does not
// collide with itself.
func normaliseHoldings(holdings []Holding) (valid []string, networks map[string][]string, invalid []string) {
	networks = map[string][]string{}
	for _, holding := range holdings {
		address, err := mac.Parse(holding.MAC)
		if err != nil {
			invalid = append(invalid, holding.MAC)
			continue
		}
		canonical := address.String()
		if _, seen := networks[canonical]; !seen {
			valid = append(valid, canonical)
		}
		on := networks[canonical]
		if i, found := slices.BinarySearch(on, holding.Network); !found {
			networks[canonical] = slices.Insert(on, i, holding.Network)
		}
	}
	slices.Sort(valid)
	return valid, networks, invalid
}
