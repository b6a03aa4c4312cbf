package kubevirt

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// exported drops the unexported bookkeeping so plans compare by content.
func exported(p *Plan) Plan {
	return Plan{NeedAllocation: p.NeedAllocation, Requested: p.Requested, Kept: p.Kept, Released: p.Released}
}

func refs(names ...string) []InterfaceRef {
	var out []InterfaceRef
	for i, name := range names {
		if name != "" {
			out = append(out, InterfaceRef{Index: i, Name: name})
		}
	}
	return out
}

func fiveKept() []RequestedMAC {
	names := []string{"default", "net1", "net2", "net3", "net4"}
	var out []RequestedMAC
	for i, name := range names {
		out = append(out, RequestedMAC{Index: i, Name: name, MAC: fiveMACs[i]})
	}
	return out
}

func deleting(vm *kubevirtv1.VirtualMachine) *kubevirtv1.VirtualMachine {
	now := metav1.Now()
	vm.DeletionTimestamp = &now
	return vm
}

func TestPlanMutation(t *testing.T) {
	tests := []struct {
		name    string
		vm      *kubevirtv1.VirtualMachine
		old     *kubevirtv1.VirtualMachine
		want    Plan
		wantErr string // substring; empty means success
		field   string // FieldError.Field when wantErr is set
	}{
		// CREATE: which interfaces are managed.
		{name: "masquerade primary is managed", vm: newVM(masq("default", "")), want: Plan{NeedAllocation: refs("default")}},
		{name: "bridge on pod network is not managed", vm: newVM(podBridge("default", ""))},
		{name: "passt, sriov and binding plugin on pod network are not managed",
			vm: newVM(entry{passtIface("a", ""), podNetwork("a")}, entry{sriovIface("b", ""), podNetwork("b")}, entry{pluginIface("c", ""), podNetwork("c")})},
		{name: "multus bridge and sriov are managed",
			vm:   newVM(podBridge("default", ""), multusBridge("net1", ""), multusSRIOV("net2", "")),
			want: Plan{NeedAllocation: refs("", "net1", "net2")}},
		{name: "multus default network is managed",
			vm:   newVM(entry{bridgeIface("default", ""), multusNetwork("default", true)}),
			want: Plan{NeedAllocation: refs("default")}},
		{name: "interface without network: only masquerade is managed",
			vm:   newVM(entry{iface: bridgeIface("lost", "")}, entry{iface: masqueradeIface("lostmasq", "")}),
			want: Plan{NeedAllocation: refs("", "lostmasq")}},
		{name: "five interfaces need five MACs", vm: fiveInterfaces(),
			want: Plan{NeedAllocation: refs("default", "net1", "net2", "net3", "net4")}},
		{name: "explicit MACs are requested in canonical form",
			vm: newVM(masq("default", "02-00-00-00-00-0A"), multusBridge("net1", ""), podBridge("pod", "02:00:00:00:00:0b")),
			want: Plan{NeedAllocation: []InterfaceRef{{Index: 1, Name: "net1"}},
				Requested: []RequestedMAC{{Index: 0, Name: "default", MAC: "02:00:00:00:00:0a"}}}},
		{name: "nil template", vm: &kubevirtv1.VirtualMachine{}},
		{name: "being deleted: no changes and no validation",
			vm: deleting(newVM(masq("default", ""), multusBridge("net1", "02:00:00:00:00:01"), multusBridge("net2", "02:00:00:00:00:01")))},
		{name: "nil VirtualMachine", vm: nil, wantErr: "no VirtualMachine"},

		// UPDATE.
		{name: "re-apply without MACs keeps all five", vm: fiveInterfaces(), old: fiveInterfaces(fiveMACs...),
			want: Plan{Kept: fiveKept()}},
		{name: "re-apply with the same MACs changes nothing", vm: fiveInterfaces(fiveMACs...), old: fiveInterfaces(fiveMACs...)},
		{name: "re-apply with the same MACs in another spelling changes nothing",
			vm:  newVM(masq("default", strings.ToUpper("0a:00:00:00:00:0b")), multusBridge("net1", strings.ReplaceAll(fiveMACs[1], ":", "-"))),
			old: newVM(masq("default", "0a:00:00:00:00:0b"), multusBridge("net1", fiveMACs[1]))},
		{name: "adding an interface allocates one and keeps the rest",
			vm:   newVM(masq("default", ""), multusBridge("net1", ""), multusBridge("net2", ""), multusSRIOV("net3", ""), multusBridge("net4", ""), multusBridge("net5", "")),
			old:  fiveInterfaces(fiveMACs...),
			want: Plan{NeedAllocation: []InterfaceRef{{Index: 5, Name: "net5"}}, Kept: fiveKept()}},
		{name: "removing an interface releases its MAC",
			vm:  newVM(masq("default", ""), multusBridge("net1", ""), multusSRIOV("net3", ""), multusBridge("net4", "")),
			old: fiveInterfaces(fiveMACs...),
			want: Plan{
				Kept:     []RequestedMAC{{0, "default", fiveMACs[0], ""}, {1, "net1", fiveMACs[1], ""}, {2, "net3", fiveMACs[3], ""}, {3, "net4", fiveMACs[4], ""}},
				Released: []RequestedMAC{{2, "net2", fiveMACs[2], ""}}}},
		{name: "changing a MAC requests the new one and releases the old one",
			vm:  newVM(masq("default", fiveMACs[0]), multusBridge("net1", "02:00:00:00:00:99")),
			old: newVM(masq("default", fiveMACs[0]), multusBridge("net1", fiveMACs[1])),
			want: Plan{Requested: []RequestedMAC{{1, "net1", "02:00:00:00:00:99", ""}},
				Released: []RequestedMAC{{1, "net1", fiveMACs[1], ""}}}},
		{name: "a MAC moved to another interface on its network is neither requested nor released",
			vm:   newVM(masq("default", ""), multusOn("net2", "ns/net1", fiveMACs[1])),
			old:  newVM(masq("default", fiveMACs[0]), multusBridge("net1", fiveMACs[1])),
			want: Plan{Kept: []RequestedMAC{{0, "default", fiveMACs[0], ""}}}},
		// Moved to another network, a MAC is requested there, so that its
		// pool decides about it; From names the interface that held it.
		{name: "a MAC moved to an interface on another network is requested there",
			vm:  newVM(masq("default", ""), multusBridge("net2", fiveMACs[1])),
			old: newVM(masq("default", fiveMACs[0]), multusBridge("net1", fiveMACs[1])),
			want: Plan{Kept: []RequestedMAC{{0, "default", fiveMACs[0], ""}},
				Requested: []RequestedMAC{{1, "net2", fiveMACs[1], "net1"}}}},
		{name: "an interface moved to another network requests its MAC there",
			vm:   newVM(masq("default", fiveMACs[0]), multusOn("net1", "ns/secure", fiveMACs[1])),
			old:  newVM(masq("default", fiveMACs[0]), multusBridge("net1", fiveMACs[1])),
			want: Plan{Requested: []RequestedMAC{{1, "net1", fiveMACs[1], "net1"}}}},
		{name: "an interface moved to another network requests the MAC it keeps there",
			vm:  newVM(masq("default", ""), multusOn("net1", "ns/secure", "")),
			old: newVM(masq("default", fiveMACs[0]), multusBridge("net1", fiveMACs[1])),
			want: Plan{Kept: []RequestedMAC{{0, "default", fiveMACs[0], ""}, {1, "net1", fiveMACs[1], ""}},
				Requested: []RequestedMAC{{1, "net1", fiveMACs[1], "net1"}}}},
		{name: "an interface moved from a multus network to the pod network requests its MAC there",
			vm:   newVM(masq("default", fiveMACs[0])),
			old:  newVM(entry{bridgeIface("default", fiveMACs[0]), multusNetwork("default", true)}),
			want: Plan{Requested: []RequestedMAC{{0, "default", fiveMACs[0], "default"}}}},
		{name: "a network spelled with its namespace instead of without is the same network",
			vm:   newVM(multusOn("net1", "default/lab", ""), multusOn("net2", "other/lab", fiveMACs[2])),
			old:  newVM(multusOn("net1", "lab", fiveMACs[1]), multusOn("net2", "other/lab", fiveMACs[2])),
			want: Plan{Kept: []RequestedMAC{{0, "net1", fiveMACs[1], ""}}}},
		{name: "an interface that stops being managed releases its MAC",
			vm:   newVM(podBridge("default", fiveMACs[0])),
			old:  newVM(masq("default", fiveMACs[0])),
			want: Plan{Released: []RequestedMAC{{0, "default", fiveMACs[0], ""}}}},
		{name: "an interface that becomes managed requests its MAC",
			vm:   newVM(masq("default", fiveMACs[0])),
			old:  newVM(podBridge("default", fiveMACs[0])),
			want: Plan{Requested: []RequestedMAC{{0, "default", fiveMACs[0], ""}}}},
		{name: "an unmanaged interface keeps nothing from the stored object",
			vm:  newVM(podBridge("default", "")),
			old: newVM(podBridge("default", fiveMACs[0]))},
		{name: "an unusable stored MAC is not kept",
			vm:   newVM(masq("default", ""), multusBridge("net1", "")),
			old:  newVM(masq("default", "junk"), multusBridge("net1", "01:00:00:00:00:01")),
			want: Plan{NeedAllocation: refs("default", "net1")}},
		{name: "stored object without template", vm: newVM(masq("default", "")), old: &kubevirtv1.VirtualMachine{},
			want: Plan{NeedAllocation: refs("default")}},
		{name: "update of a VM being deleted changes nothing", vm: deleting(fiveInterfaces()), old: fiveInterfaces(fiveMACs...)},

		// Denials.
		{name: "duplicate MAC in the pool range",
			vm:      newVM(masq("default", "02:00:00:00:00:01"), multusBridge("net1", "02:00:00:00:00:01")),
			wantErr: "duplicate MAC address 02:00:00:00:00:01 found on interfaces: default and net1",
			field:   "spec.template.spec.domain.devices.interfaces[1].macAddress"},
		{name: "duplicate MAC outside the pool range, spelled differently",
			vm:      newVM(masq("default", ""), multusBridge("net1", "0a:00:00:00:00:01"), multusSRIOV("net2", "0A-00-00-00-00-01")),
			wantErr: "duplicate MAC address 0a:00:00:00:00:01 found on interfaces: net1 and net2",
			field:   "spec.template.spec.domain.devices.interfaces[2].macAddress"},
		{name: "duplicate MAC between a managed and an unmanaged interface",
			vm:      newVM(podBridge("default", "02:00:00:00:00:01"), multusBridge("net1", "02:00:00:00:00:01")),
			wantErr: "duplicate MAC address"},
		{name: "duplicate MAC between two unmanaged interfaces",
			vm:      newVM(podBridge("default", "0e:00:00:00:00:01"), entry{iface: bridgeIface("lost", "0e:00:00:00:00:01")}),
			wantErr: "duplicate MAC address"},
		{name: "duplicate MAC on update",
			vm:      fiveInterfaces(fiveMACs[0], fiveMACs[0]),
			old:     fiveInterfaces(fiveMACs...),
			wantErr: "duplicate MAC address"},
		{name: "kept MAC colliding with an explicit one",
			vm:      newVM(masq("default", ""), multusBridge("net1", ""), multusBridge("net2", fiveMACs[0])),
			old:     newVM(masq("default", fiveMACs[0]), multusBridge("net1", fiveMACs[1])),
			wantErr: "duplicate MAC address 02:00:00:00:00:01 found on interfaces: default and net2 (default keeps its MAC from the stored VirtualMachine",
			field:   "spec.template.spec.domain.devices.interfaces[2].macAddress"},
		{name: "invalid MAC on a managed interface",
			vm:      newVM(masq("default", ""), multusBridge("net1", "02:00:00:00:00")),
			wantErr: `invalid MAC address format for interface net1: invalid MAC address "02:00:00:00:00"`,
			field:   "spec.template.spec.domain.devices.interfaces[1].macAddress"},
		{name: "invalid MAC on an unmanaged interface",
			vm:      newVM(podBridge("default", "02:00:00:00:00:zz")),
			wantErr: "invalid MAC address format for interface default: invalid MAC address \"02:00:00:00:00:zz\": octet 6 is not two hex digits",
			field:   "spec.template.spec.domain.devices.interfaces[0].macAddress"},
		{name: "multicast MAC on a managed interface",
			vm:      newVM(masq("default", ""), multusBridge("net1", "01:00:5e:00:00:01")),
			wantErr: `interface net1: invalid MAC address "01:00:5e:00:00:01": multicast addresses`,
			field:   "spec.template.spec.domain.devices.interfaces[1].macAddress"},
		{name: "multicast MAC on an unmanaged interface is not ours to refuse",
			vm: newVM(podBridge("default", "01:00:5e:00:00:01"))},
		{name: "duplicate interface names",
			vm:      newVM(masq("eth0", ""), multusBridge("net1", ""), entry{iface: bridgeIface("eth0", "")}),
			wantErr: `every interface must have a unique name: "eth0" is used twice`,
			field:   "spec.template.spec.domain.devices.interfaces[2].name"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			var before, oldBefore *kubevirtv1.VirtualMachine
			if test.vm != nil {
				before = test.vm.DeepCopy()
			}
			if test.old != nil {
				oldBefore = test.old.DeepCopy()
			}
			plan, err := PlanMutation(test.vm, test.old)
			if !reflect.DeepEqual(test.vm, before) || !reflect.DeepEqual(test.old, oldBefore) {
				t.Fatal("PlanMutation modified its input")
			}
			if test.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), test.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, test.wantErr)
				}
				if plan != nil {
					t.Fatalf("plan %+v returned with an error", plan)
				}
				if test.field != "" {
					var fieldErr *FieldError
					if !errors.As(err, &fieldErr) || fieldErr.Field != test.field {
						t.Fatalf("error %v is not a FieldError for %s", err, test.field)
					}
					if !strings.HasPrefix(err.Error(), test.field+": ") {
						t.Fatalf("message %q does not start with the field", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got := exported(plan); !reflect.DeepEqual(got, test.want) {
				t.Fatalf("plan =\n%+v\nwant\n%+v", got, test.want)
			}
		})
	}
}

func TestAssignments(t *testing.T) {
	vm := newVM(masq("default", ""), multusBridge("net1", ""), podBridge("pod", "0e:00:00:00:00:01"), multusBridge("net2", ""))
	old := newVM(multusBridge("net1", fiveMACs[1]))
	plan, err := PlanMutation(vm, old)
	if err != nil {
		t.Fatal(err)
	}
	got, err := plan.Assignments([]string{"02-00-00-00-00-AA", "02:00:00:00:00:bb"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{0: "02:00:00:00:00:aa", 1: fiveMACs[1], 3: "02:00:00:00:00:bb"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Assignments = %v, want %v", got, want)
	}

	failures := []struct {
		name      string
		allocated []string
		wantErr   string
	}{
		{"too few", []string{"02:00:00:00:00:aa"}, "got 1 allocated MACs for 2 interfaces"},
		{"collides with an unmanaged interface", []string{"0e:00:00:00:00:01", "02:00:00:00:00:bb"}, "MAC 0e:00:00:00:00:01 allocated for interface default is already used by interface pod"},
		{"collides with a kept MAC", []string{"02:00:00:00:00:aa", fiveMACs[1]}, "already used by interface net1"},
		{"collides with another allocated MAC", []string{"02:00:00:00:00:aa", "02:00:00:00:00:AA"}, "already used by interface default"},
		{"multicast", []string{"03:00:00:00:00:01", "02:00:00:00:00:bb"}, "multicast"},
	}
	for _, test := range failures {
		t.Run(test.name, func(t *testing.T) {
			if _, err := plan.Assignments(test.allocated); err == nil || !strings.Contains(err.Error(), test.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, test.wantErr)
			}
		})
	}

	empty, err := PlanMutation(&kubevirtv1.VirtualMachine{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := empty.Assignments(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty plan Assignments = %v, %v", got, err)
	}
}
