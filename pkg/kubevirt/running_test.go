package kubevirt

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// runningVMI is a VMI whose spec has the interfaces spec (name, macAddress)
// and whose status reports status (name, mac).
func runningVMI(spec, status [][2]string) *unstructured.Unstructured {
	var specified, reported []interface{}
	for _, iface := range spec {
		specified = append(specified, map[string]interface{}{"name": iface[0], "macAddress": iface[1]})
	}
	for _, iface := range status {
		reported = append(reported, map[string]interface{}{"name": iface[0], "mac": iface[1]})
	}
	return &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "kubevirt.io/v1", "kind": KindVirtualMachineInstance,
		"metadata": map[string]interface{}{"name": "vmi", "namespace": "ns"},
		"spec":     map[string]interface{}{"domain": map[string]interface{}{"devices": map[string]interface{}{"interfaces": specified}}},
		"status":   map[string]interface{}{"interfaces": reported},
	}}
}

// A MAC counts as running only when the status reports it on an interface
// of the spec that has that very MAC. The status is its writer's word (a
// VMI has no status subresource): an interface the spec does not have must
// not match anything, the all-zero MAC included, which is what a missing
// entry of the spec's interfaces reads as.
func TestRunningMACs(t *testing.T) {
	const x, y, zero = "02:00:00:00:00:01", "02:00:00:00:00:02", "00:00:00:00:00:00"
	tests := []struct {
		name   string
		spec   [][2]string
		status [][2]string
		want   []string
	}{
		{name: "reported on the spec's interface", spec: [][2]string{{"default", x}}, status: [][2]string{{"default", x}}, want: []string{x}},
		{name: "another MAC on the spec's interface", spec: [][2]string{{"default", x}}, status: [][2]string{{"default", y}}},
		{name: "an interface the spec does not have", spec: [][2]string{{"default", x}}, status: [][2]string{{"guest", x}}},
		{name: "no name", spec: [][2]string{{"", x}}, status: [][2]string{{"", x}}},
		{name: "the zero MAC on an interface the spec does not have", spec: [][2]string{{"default", x}}, status: [][2]string{{"ghost", zero}}},
		{name: "the zero MAC with no spec at all", status: [][2]string{{"ghost", zero}}},
		{name: "the zero MAC on a spec interface without a MAC", spec: [][2]string{{"default", ""}}, status: [][2]string{{"default", zero}}},
		{name: "the zero MAC the spec has", spec: [][2]string{{"default", zero}}, status: [][2]string{{"default", zero}}, want: []string{zero}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RunningMACs(runningVMI(tt.spec, tt.status))
			want := map[mac.Address]bool{}
			for _, text := range tt.want {
				address, err := mac.Parse(text)
				if err != nil {
					t.Fatal(err)
				}
				want[address] = true
			}
			if len(got) != len(want) {
				t.Fatalf("RunningMACs = %v, want %v", got, want)
			}
			for address := range want {
				if !got[address] {
					t.Errorf("RunningMACs = %v, want %v", got, want)
				}
			}
		})
	}
}
