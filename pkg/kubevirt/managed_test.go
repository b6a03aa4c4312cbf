package kubevirt

import (
	"reflect"
	"testing"

	kubevirtv1 "kubevirt.io/api/core/v1"
)

func TestIsManaged(t *testing.T) {
	tests := []struct {
		name     string
		iface    kubevirtv1.Interface
		networks []*kubevirtv1.Network
		want     bool
	}{
		{name: "masquerade on pod network", iface: masqueradeIface("default", ""), networks: []*kubevirtv1.Network{podNetwork("default")}, want: true},
		{name: "bridge on pod network", iface: bridgeIface("default", ""), networks: []*kubevirtv1.Network{podNetwork("default")}},
		{name: "passt on pod network", iface: passtIface("default", ""), networks: []*kubevirtv1.Network{podNetwork("default")}},
		{name: "sriov on pod network", iface: sriovIface("default", ""), networks: []*kubevirtv1.Network{podNetwork("default")}},
		{name: "binding plugin on pod network", iface: pluginIface("default", ""), networks: []*kubevirtv1.Network{podNetwork("default")}},
		{name: "bridge on multus", iface: bridgeIface("net1", ""), networks: []*kubevirtv1.Network{podNetwork("default"), multusNetwork("net1", false)}, want: true},
		{name: "sriov on multus", iface: sriovIface("net1", ""), networks: []*kubevirtv1.Network{multusNetwork("net1", false)}, want: true},
		{name: "binding plugin on multus", iface: pluginIface("net1", ""), networks: []*kubevirtv1.Network{multusNetwork("net1", false)}, want: true},
		{name: "no binding on multus default", iface: kubevirtv1.Interface{Name: "default"}, networks: []*kubevirtv1.Network{multusNetwork("default", true)}, want: true},
		{name: "bridge without a network", iface: bridgeIface("lost", ""), networks: []*kubevirtv1.Network{multusNetwork("net1", false)}},
		{name: "masquerade without a network", iface: masqueradeIface("lost", ""), want: true},
		{name: "network matched by name, not position", iface: bridgeIface("net2", ""), networks: []*kubevirtv1.Network{multusNetwork("net1", false), podNetwork("net2")}},
		{name: "first of two networks with the name counts", iface: bridgeIface("net1", ""), networks: []*kubevirtv1.Network{podNetwork("net1"), multusNetwork("net1", false)}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			var networks []kubevirtv1.Network
			for _, network := range test.networks {
				networks = append(networks, *network)
			}
			if got := IsManaged(test.iface, networks); got != test.want {
				t.Fatalf("IsManaged = %v, want %v", got, test.want)
			}
		})
	}
}

func TestManagedMACs(t *testing.T) {
	tests := []struct {
		name string
		vm   *kubevirtv1.VirtualMachine
		want map[string]string
	}{
		{name: "nil", vm: nil, want: map[string]string{}},
		{name: "nil template", vm: &kubevirtv1.VirtualMachine{}, want: map[string]string{}},
		{
			name: "managed with MACs only, canonical",
			vm: newVM(masq("default", "02-00-00-00-00-0A"), multusBridge("net1", ""), multusSRIOV("net2", "0A:00:00:00:00:02"),
				podBridge("pod2", "02:00:00:00:00:99")),
			want: map[string]string{"02:00:00:00:00:0a": "default", "0a:00:00:00:00:02": "net2"},
		},
		{
			name: "invalid and multicast MACs are left out",
			vm:   newVM(masq("default", "nonsense"), multusBridge("net1", "01:00:5e:00:00:01"), multusBridge("net2", "02:00:00:00:00:02")),
			want: map[string]string{"02:00:00:00:00:02": "net2"},
		},
		{
			// Both carried: keyed by name, the second would look free.
			name: "every MAC of a repeated name",
			vm:   newVM(multusBridge("net1", "02:00:00:00:00:01"), entry{iface: bridgeIface("net1", "02:00:00:00:00:02")}),
			want: map[string]string{"02:00:00:00:00:01": "net1", "02:00:00:00:00:02": "net1"},
		},
		{
			name: "a MAC on two interfaces names the first",
			vm:   newVM(multusBridge("net1", "02:00:00:00:00:01"), multusBridge("net2", "02:00:00:00:00:01")),
			want: map[string]string{"02:00:00:00:00:01": "net1"},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if got := ManagedMACs(test.vm); !reflect.DeepEqual(got, test.want) {
				t.Fatalf("ManagedMACs = %v, want %v", got, test.want)
			}
		})
	}
}
