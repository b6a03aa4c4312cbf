package kubevirt

import (
	"testing"

	kubevirtv1 "kubevirt.io/api/core/v1"
)

func TestMultusNetwork(t *testing.T) {
	multus := func(name, networkName string) kubevirtv1.Network {
		return kubevirtv1.Network{Name: name, NetworkSource: kubevirtv1.NetworkSource{Multus: &kubevirtv1.MultusNetwork{NetworkName: networkName}}}
	}
	pod := kubevirtv1.Network{Name: "default", NetworkSource: kubevirtv1.NetworkSource{Pod: &kubevirtv1.PodNetwork{}}}
	networks := []kubevirtv1.Network{pod, multus("red", "red-net"), multus("blue", "infra/blue-net"), multus("red", "other"),
		multus("empty", ""), multus("half", "infra/")}
	tests := []struct {
		iface           string
		namespace, name string
		ok              bool
	}{
		{iface: "default"},
		{iface: "missing"},
		{iface: "red", namespace: "vms", name: "red-net", ok: true},
		{iface: "blue", namespace: "infra", name: "blue-net", ok: true},
		{iface: "empty"},
		{iface: "half"},
	}
	for _, tc := range tests {
		t.Run(tc.iface, func(t *testing.T) {
			namespace, name, ok := MultusNetwork(tc.iface, networks, "vms")
			if namespace != tc.namespace || name != tc.name || ok != tc.ok {
				t.Errorf("MultusNetwork(%q) = %q, %q, %v; want %q, %q, %v", tc.iface, namespace, name, ok, tc.namespace, tc.name, tc.ok)
			}
		})
	}
}
