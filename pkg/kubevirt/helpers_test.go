package kubevirt

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// entry is one interface of a test VM and the network of the same name,
// if any.
type entry struct {
	iface   kubevirtv1.Interface
	network *kubevirtv1.Network
}

func podNetwork(name string) *kubevirtv1.Network {
	return &kubevirtv1.Network{Name: name, NetworkSource: kubevirtv1.NetworkSource{Pod: &kubevirtv1.PodNetwork{}}}
}

func multusNetwork(name string, isDefault bool) *kubevirtv1.Network {
	return &kubevirtv1.Network{Name: name, NetworkSource: kubevirtv1.NetworkSource{
		Multus: &kubevirtv1.MultusNetwork{NetworkName: "ns/" + name, Default: isDefault}}}
}

func masqueradeIface(name, macAddress string) kubevirtv1.Interface {
	return kubevirtv1.Interface{Name: name, MacAddress: macAddress, InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Masquerade: &kubevirtv1.InterfaceMasquerade{}}}
}

func bridgeIface(name, macAddress string) kubevirtv1.Interface {
	return kubevirtv1.Interface{Name: name, MacAddress: macAddress, InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Bridge: &kubevirtv1.InterfaceBridge{}}}
}

func sriovIface(name, macAddress string) kubevirtv1.Interface {
	return kubevirtv1.Interface{Name: name, MacAddress: macAddress, InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{SRIOV: &kubevirtv1.InterfaceSRIOV{}}}
}

func passtIface(name, macAddress string) kubevirtv1.Interface {
	return kubevirtv1.Interface{Name: name, MacAddress: macAddress, InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{PasstBinding: &kubevirtv1.InterfacePasstBinding{}}}
}

func pluginIface(name, macAddress string) kubevirtv1.Interface {
	return kubevirtv1.Interface{Name: name, MacAddress: macAddress, Binding: &kubevirtv1.PluginBinding{Name: "l2bridge"}}
}

// Shorthands for the common entries.
func masq(name, macAddress string) entry {
	return entry{masqueradeIface(name, macAddress), podNetwork(name)}
}
func podBridge(name, macAddress string) entry {
	return entry{bridgeIface(name, macAddress), podNetwork(name)}
}
func multusBridge(name, macAddress string) entry {
	return entry{bridgeIface(name, macAddress), multusNetwork(name, false)}
}
func multusSRIOV(name, macAddress string) entry {
	return entry{sriovIface(name, macAddress), multusNetwork(name, false)}
}

// multusOn is a bridge interface on the multus network networkName, as
// written in the VM ("name" or "namespace/name").
func multusOn(name, networkName, macAddress string) entry {
	return entry{bridgeIface(name, macAddress), &kubevirtv1.Network{Name: name, NetworkSource: kubevirtv1.NetworkSource{
		Multus: &kubevirtv1.MultusNetwork{NetworkName: networkName}}}}
}

func newVM(entries ...entry) *kubevirtv1.VirtualMachine {
	vm := &kubevirtv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "default"},
		Spec:       kubevirtv1.VirtualMachineSpec{Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{}},
	}
	spec := &vm.Spec.Template.Spec
	for _, e := range entries {
		spec.Domain.Devices.Interfaces = append(spec.Domain.Devices.Interfaces, e.iface)
		if e.network != nil {
			spec.Networks = append(spec.Networks, *e.network)
		}
	}
	return vm
}

// fiveInterfaces is the VM of the original bug reports: the pod network
// with masquerade and four multus networks, with the given MACs (empty: none).
func fiveInterfaces(macs ...string) *kubevirtv1.VirtualMachine {
	at := func(i int) string {
		if i < len(macs) {
			return macs[i]
		}
		return ""
	}
	return newVM(masq("default", at(0)), multusBridge("net1", at(1)), multusBridge("net2", at(2)),
		multusSRIOV("net3", at(3)), multusBridge("net4", at(4)))
}

var fiveMACs = []string{"02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03", "02:00:00:00:00:04", "02:00:00:00:00:05"}
