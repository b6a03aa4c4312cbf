package kubevirt

import (
	"fmt"

	kubevirtv1 "kubevirt.io/api/core/v1"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// IsManaged reports whether Kubemacpool gives iface its MAC: it has the
// masquerade binding, or the network of the same name has a multus source.
// When several networks share the name (KubeVirt refuses that later) the
// first one counts, as it does for an interface without a network: not
// managed unless masquerade.
func IsManaged(iface kubevirtv1.Interface, networks []kubevirtv1.Network) bool {
	if iface.Masquerade != nil {
		return true
	}
	for i := range networks {
		if networks[i].Name == iface.Name {
			return networks[i].Multus != nil
		}
	}
	return false
}

// ManagedMACs returns canonical MAC => interface name for the managed
// interfaces of vm that carry a usable (unicast) MAC; the lease controller
// binds leases for these and releases the rest. A MAC that does not parse or
// is multicast is left out: the webhook would never have admitted it, and no
// lease can be bound for it. Every such MAC is in the map, even when two
// interfaces share a name (an object stored before the webhook ran, or past
// KubeVirt's own validation): keyed by name, the second interface's MAC
// would look free to the lease controller while the VM still carries it. A
// MAC on two interfaces names the first. A nil vm or template yields an
// empty, non-nil map.
func ManagedMACs(vm *kubevirtv1.VirtualMachine) map[string]string {
	macs := map[string]string{}
	for _, entry := range managedEntries(vm) {
		address := entry.addr.String()
		if _, seen := macs[address]; !seen {
			macs[address] = entry.name
		}
	}
	return macs
}

// managedEntry is a managed interface of a stored object with a usable MAC.
type managedEntry struct {
	index int
	name  string
	addr  mac.Address
}

// managedEntries lists the managed interfaces of vm with a unicast MAC, in
// interface order, duplicates of names included.
func managedEntries(vm *kubevirtv1.VirtualMachine) []managedEntry {
	if vm == nil || vm.Spec.Template == nil {
		return nil
	}
	spec := &vm.Spec.Template.Spec
	var entries []managedEntry
	for i, iface := range spec.Domain.Devices.Interfaces {
		if iface.MacAddress == "" || !IsManaged(iface, spec.Networks) {
			continue
		}
		addr, err := mac.ParseUnicast(iface.MacAddress)
		if err != nil {
			continue
		}
		entries = append(entries, managedEntry{index: i, name: iface.Name, addr: addr})
	}
	return entries
}

// interfaceField is the path of interface i's field in API-server notation.
func interfaceField(i int, field string) string {
	return fmt.Sprintf("spec.template.spec.domain.devices.interfaces[%d].%s", i, field)
}
