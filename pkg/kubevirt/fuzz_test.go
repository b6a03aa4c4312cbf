package kubevirt

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// fuzzVM builds a VM from a compact description: entries separated by ';',
// each a kind byte followed by name=mac. Kinds: m masquerade on the pod
// network, b bridge on the pod network, p binding plugin on the pod network,
// M bridge on multus, s SR-IOV on multus, d multus default without binding,
// n bridge without network, q masquerade without network; anything else is
// passt on the pod network.
func fuzzVM(description string) *kubevirtv1.VirtualMachine {
	vm := newVM()
	if description == "-" {
		vm.Spec.Template = nil
		return vm
	}
	for i, part := range strings.Split(description, ";") {
		if i == 16 || part == "" {
			break
		}
		name, macAddress, _ := strings.Cut(part[1:], "=")
		var e entry
		switch part[0] {
		case 'm':
			e = masq(name, macAddress)
		case 'b':
			e = podBridge(name, macAddress)
		case 'p':
			e = entry{pluginIface(name, macAddress), podNetwork(name)}
		case 'M':
			e = multusBridge(name, macAddress)
		case 's':
			e = multusSRIOV(name, macAddress)
		case 'd':
			e = entry{kubevirtv1.Interface{Name: name, MacAddress: macAddress}, multusNetwork(name, true)}
		case 'n':
			e = entry{iface: bridgeIface(name, macAddress)}
		case 'q':
			e = entry{iface: masqueradeIface(name, macAddress)}
		default:
			e = entry{passtIface(name, macAddress), podNetwork(name)}
		}
		vm.Spec.Template.Spec.Domain.Devices.Interfaces = append(vm.Spec.Template.Spec.Domain.Devices.Interfaces, e.iface)
		if e.network != nil {
			vm.Spec.Template.Spec.Networks = append(vm.Spec.Template.Spec.Networks, *e.network)
		}
	}
	return vm
}

// FuzzPlanMutation checks that PlanMutation never panics, refuses only with
// a FieldError, and that a plan it accepts, completed with pool MACs and
// applied as a JSON patch, leaves every managed interface with a MAC and no
// two interfaces with the same one.
func FuzzPlanMutation(f *testing.F) {
	seeds := []struct {
		vm, old  string
		creating bool
	}{
		{"mdefault=;Mnet1=;Mnet2=;snet3=;Mnet4=", "", true},
		{"mdefault=;Mnet1=;Mnet2=;snet3=;Mnet4=;Mnet5=", "mdefault=02:00:00:00:00:01;Mnet1=02:00:00:00:00:02;Mnet2=02:00:00:00:00:03", false},
		{"mdefault=;Mnet1=;Mnet2=02:00:00:00:00:01", "mdefault=02:00:00:00:00:01", false},
		{"mdefault=0a:00:00:00:00:01;Mnet1=0A-00-00-00-00-01", "", true},
		{"bdefault=01:00:5e:00:00:01;Mnet1=01:00:5e:00:00:01", "", true},
		{"meth0=;neth0=", "", true},
		{"-", "mdefault=02:00:00:00:00:01", false},
		{"ddefault=;qx=;nx2=02:00:00:00:00:02;pp=;xz=", "ddefault=02:00:00:00:00:02", false},
		{"Mnet1=;Mnet2=", "Mnet1=02:00:00:00:00:01;Mnet2=02:00:00:00:00:01", false},
		{"mdefault=;Mnet2=02:00:00:00:00:02;Mnet1=", "mdefault=02:00:00:00:00:01;Mnet1=02:00:00:00:00:02", false},
	}
	for _, seed := range seeds {
		f.Add(seed.vm, seed.old, seed.creating)
	}
	f.Fuzz(func(t *testing.T, description, oldDescription string, creating bool) {
		vm := fuzzVM(description)
		var old *kubevirtv1.VirtualMachine
		if !creating {
			old = fuzzVM(oldDescription)
		}
		plan, err := PlanMutation(vm, old)
		if err != nil {
			var fieldErr *FieldError
			if !errors.As(err, &fieldErr) {
				t.Fatalf("error %v is not a FieldError", err)
			}
			return
		}
		if vm.Spec.Template == nil {
			if len(plan.NeedAllocation)+len(plan.Kept)+len(plan.Requested)+len(plan.Released) != 0 {
				t.Fatalf("plan for a VM without template: %+v", plan)
			}
			return
		}
		spec := &vm.Spec.Template.Spec
		interfaces := spec.Domain.Devices.Interfaces

		// Every managed interface without a MAC is either kept or allocated,
		// and nothing else is.
		filled := map[int]string{}
		for _, kept := range plan.Kept {
			filled[kept.Index] = kept.MAC
		}
		for _, ref := range plan.NeedAllocation {
			if _, dup := filled[ref.Index]; dup {
				t.Fatalf("interface %d both kept and allocated", ref.Index)
			}
			filled[ref.Index] = ""
		}
		for i, iface := range interfaces {
			_, planned := filled[i]
			wantPlanned := iface.MacAddress == "" && IsManaged(iface, spec.Networks)
			if planned != wantPlanned {
				t.Fatalf("interface %d (%q, mac %q): planned %v, want %v", i, iface.Name, iface.MacAddress, planned, wantPlanned)
			}
		}

		// Fake pool: ascending MACs, skipping those in this VM and those
		// the stored object holds, as the real pool skips leased ones.
		oldMACs := map[string]bool{}
		for text := range ManagedMACs(old) {
			oldMACs[text] = true
		}
		var allocated []string
		next := mac.MustParse("02:00:00:00:00:00")
		for range plan.NeedAllocation {
			for {
				next++
				if _, used := plan.inUse[next]; !used && !oldMACs[next.String()] {
					break
				}
			}
			allocated = append(allocated, next.String())
		}
		assignments, err := plan.Assignments(allocated)
		if err != nil {
			t.Fatalf("Assignments: %v", err)
		}

		// Final MACs are unique over all interfaces.
		final := map[mac.Address]int{}
		for i, iface := range interfaces {
			text := iface.MacAddress
			if assigned, ok := assignments[i]; ok {
				if text != "" {
					t.Fatalf("interface %d has MAC %q and was assigned %q", i, text, assigned)
				}
				text = assigned
			}
			if text == "" {
				continue
			}
			addr, err := mac.Parse(text)
			if err != nil {
				t.Fatalf("accepted unparsable MAC %q", text)
			}
			if first, dup := final[addr]; dup {
				t.Fatalf("interfaces %d and %d both end with %s", first, i, addr)
			}
			final[addr] = i
		}

		// Released MACs were managed in the old object and are not in the new.
		for _, released := range plan.Released {
			addr := mac.MustParse(released.MAC)
			if i, used := final[addr]; !oldMACs[released.MAC] || (used && IsManaged(interfaces[i], spec.Networks)) {
				t.Fatalf("released %+v wrongly", released)
			}
		}
		// A MAC the stored object held is requested again only on another
		// network, naming the interface that held it.
		for _, requested := range plan.Requested {
			if !oldMACs[requested.MAC] {
				continue
			}
			held := false
			for _, entry := range managedEntries(old) {
				held = held || entry.name == requested.From && entry.addr.String() == requested.MAC
			}
			if !held {
				t.Fatalf("requested %+v already held", requested)
			}
			oldNetworks := old.Spec.Template.Spec.Networks
			if attachmentOf(requested.Name, spec.Networks, old) == attachmentOf(requested.From, oldNetworks, old) {
				t.Fatalf("requested %+v on the network that held it", requested)
			}
		}

		// The patch applies to the JSON object; the result needs nothing more.
		// Names that are not UTF-8 do not survive JSON, so stop there.
		for _, iface := range interfaces {
			if !utf8.ValidString(iface.Name) {
				return
			}
		}
		document, err := json.Marshal(vm)
		if err != nil {
			t.Fatal(err)
		}
		patchJSON, err := Patch(assignments)
		if err != nil {
			t.Fatalf("Patch: %v", err)
		}
		if patchJSON != nil {
			patch, err := jsonpatch.DecodePatch(patchJSON)
			if err != nil {
				t.Fatal(err)
			}
			if document, err = patch.Apply(document); err != nil {
				t.Fatalf("applying %s: %v", patchJSON, err)
			}
		}
		var patched kubevirtv1.VirtualMachine
		if err := json.Unmarshal(document, &patched); err != nil {
			t.Fatal(err)
		}
		again, err := PlanMutation(&patched, &patched)
		if err != nil {
			t.Fatalf("patched VM refused: %v", err)
		}
		if len(again.NeedAllocation)+len(again.Kept)+len(again.Requested)+len(again.Released) != 0 {
			t.Fatalf("patched VM still needs %+v", exported(again))
		}
	})
}
