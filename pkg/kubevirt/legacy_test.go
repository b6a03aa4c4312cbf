package kubevirt

import (
	"reflect"
	"testing"

	kubevirtv1 "kubevirt.io/api/core/v1"
)

// What the original Kubemacpool left on the VirtualMachines it managed.
const (
	transactionTimestampAnnotation = "kubemacpool.io/transaction-timestamp"
	legacyFinalizer                = "k8s.v1.cni.cncf.io/kubeMacPool"
)

// originalVM is a VirtualMachine as the original left it: MACs on every
// managed interface, its transaction timestamp and, if it is old enough,
// its finalizer.
func originalVM(timestamp string) *kubevirtv1.VirtualMachine {
	vm := newVM(masq("default", fiveMACs[0]), multusBridge("net1", fiveMACs[1]))
	vm.Annotations = map[string]string{transactionTimestampAnnotation: timestamp}
	vm.Finalizers = []string{legacyFinalizer}
	return vm
}

// The original's annotation and finalizer are neither read nor written:
// they change neither the plan nor the patch, and never cause a denial.
func TestTheOriginalsAnnotationAndFinalizerAreHarmless(t *testing.T) {
	const before, after = "2024-03-01T10:00:00.123456789Z", "2024-03-01T10:05:00.987654321Z"
	tests := []struct {
		name string
		vm   *kubevirtv1.VirtualMachine
		old  *kubevirtv1.VirtualMachine
		want Plan
	}{
		{name: "create, as when restoring from a backup",
			vm:   originalVM(before),
			want: Plan{Requested: []RequestedMAC{{Index: 0, Name: "default", MAC: fiveMACs[0]}, {Index: 1, Name: "net1", MAC: fiveMACs[1]}}}},
		{name: "update that changes only the timestamp", vm: originalVM(after), old: originalVM(before)},
		{name: "update that removes the timestamp", vm: func() *kubevirtv1.VirtualMachine {
			vm := originalVM(before)
			vm.Annotations = nil
			return vm
		}(), old: originalVM(before)},
		{name: "an unparsable timestamp", vm: originalVM("not a time"), old: originalVM(before)},
		{name: "update that removes the legacy finalizer", vm: func() *kubevirtv1.VirtualMachine {
			vm := originalVM(before)
			vm.Finalizers = nil
			return vm
		}(), old: originalVM(before)},
		{name: "the finalizer removed while deleting", vm: func() *kubevirtv1.VirtualMachine {
			vm := deleting(originalVM(before))
			vm.Finalizers = nil
			return vm
		}(), old: deleting(originalVM(before))},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			plan, err := PlanMutation(test.vm, test.old)
			if err != nil {
				t.Fatalf("PlanMutation: %v", err)
			}
			if got := exported(plan); !reflect.DeepEqual(got, test.want) {
				t.Errorf("plan = %+v, want %+v", got, test.want)
			}
			assignments, err := plan.Assignments(nil)
			if err != nil {
				t.Fatalf("Assignments: %v", err)
			}
			if patch, err := Patch(assignments); patch != nil || err != nil {
				t.Errorf("Patch = %s, %v; want no patch: the VM keeps its MACs, annotation and finalizers", patch, err)
			}
		})
	}
}
