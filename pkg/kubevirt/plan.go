package kubevirt

import (
	"errors"
	"fmt"

	kubevirtv1 "kubevirt.io/api/core/v1"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// InterfaceRef names an interface by its position in
// spec.template.spec.domain.devices.interfaces and by its name.
type InterfaceRef struct {
	Index int
	Name  string
}

// RequestedMAC is an interface with a MAC in canonical colon form.
type RequestedMAC struct {
	Index int
	Name  string
	MAC   string
	// From is, in Requested, the name of the stored object's interface
	// that carried the MAC on another network; empty for a MAC new to the
	// VirtualMachine. The VirtualMachine's lease of the MAC names that
	// interface, and is its own all the same.
	From string
}

// Plan is what the webhook has to do for one admission request. Indexes
// refer to the new object's interfaces, except in Released.
type Plan struct {
	// NeedAllocation are the managed interfaces without a MAC, neither in
	// the request nor kept from the stored object, in interface order: each
	// needs one from the pool.
	NeedAllocation []InterfaceRef
	// Requested are managed interfaces whose MAC the request sets and the
	// stored object's managed interfaces do not already hold, and those
	// whose MAC (set or kept) the stored object held on another network
	// (From names its interface there): the handler must lease these to
	// this VirtualMachine or deny. A MAC that merely moves between
	// interfaces on the same network is already leased to it and is not
	// listed. One that moves to another network is, because that network's
	// pool (its conflictPolicy, its exclusions) never decided about it: a
	// MAC admitted with a warning on a network whose pool warns must not
	// reach, unasked, one whose pool rejects it. An update that changes no
	// network lists nothing it did not list before.
	Requested []RequestedMAC
	// Kept are managed interfaces the request leaves without a MAC that get
	// the one of the stored object's interface of the same name; the patch
	// must write it back, otherwise the update would drop it.
	Kept []RequestedMAC
	// Released are the stored object's managed MACs that no managed
	// interface of the new object uses any more (interface removed, MAC
	// changed, interface no longer managed), with the stored object's index
	// and name, each MAC once. The lease controller releases them; the
	// webhook may log them. A MAC still used by another managed interface
	// is not listed, so acting on this list never frees a MAC in use.
	Released []RequestedMAC

	// inUse maps every MAC the new object ends with before allocation
	// (explicit, kept, managed or not) to its interface index, so that
	// Assignments can refuse pool MACs that would collide with them.
	inUse map[mac.Address]int
	names []string
}

// PlanMutation validates the interfaces of vm and decides what the webhook
// must do; oldVM is the stored object on UPDATE and nil on CREATE. An error
// is always a denial: a *FieldError naming the field and the reason, or a
// plain error for a nil vm; nothing here can fail for other causes. Neither
// object is modified.
func PlanMutation(vm, oldVM *kubevirtv1.VirtualMachine) (*Plan, error) {
	if vm == nil {
		return nil, errors.New("no VirtualMachine in the request")
	}
	plan := &Plan{}
	// Deletion: updates now only remove finalizers or record status;
	// refusing or patching them could keep the object from going away.
	if vm.DeletionTimestamp != nil || vm.Spec.Template == nil {
		return plan, nil
	}
	spec := &vm.Spec.Template.Spec
	interfaces := spec.Domain.Devices.Interfaces
	if err := checkUniqueNames(interfaces); err != nil {
		return nil, err
	}

	// The stored object's managed MACs by name (first wins), and the
	// interface that held each (first wins too).
	oldByName := map[string]mac.Address{}
	oldHeld := map[mac.Address]managedEntry{}
	oldEntries := managedEntries(oldVM)
	for _, entry := range oldEntries {
		if _, seen := oldByName[entry.name]; !seen {
			oldByName[entry.name] = entry.addr
		}
		if _, seen := oldHeld[entry.addr]; !seen {
			oldHeld[entry.addr] = entry
		}
	}

	// final holds each interface's MAC after kept ones are filled in.
	type slot struct {
		addr     mac.Address
		has      bool
		explicit bool
	}
	final := make([]slot, len(interfaces))
	managed := make([]bool, len(interfaces))
	for i, iface := range interfaces {
		managed[i] = IsManaged(iface, spec.Networks)
		if iface.MacAddress == "" {
			if !managed[i] {
				continue
			}
			if addr, ok := oldByName[iface.Name]; ok {
				final[i] = slot{addr: addr, has: true}
				plan.Kept = append(plan.Kept, RequestedMAC{Index: i, Name: iface.Name, MAC: addr.String()})
			} else {
				plan.NeedAllocation = append(plan.NeedAllocation, InterfaceRef{Index: i, Name: iface.Name})
			}
			continue
		}
		addr, err := mac.Parse(iface.MacAddress)
		if err != nil {
			return nil, &FieldError{Field: interfaceField(i, "macAddress"),
				Reason: fmt.Sprintf("invalid MAC address format for interface %s: %v", iface.Name, err)}
		}
		if managed[i] && addr.IsMulticast() {
			_, err := mac.ParseUnicast(iface.MacAddress)
			return nil, &FieldError{Field: interfaceField(i, "macAddress"),
				Reason: fmt.Sprintf("interface %s: %v", iface.Name, err)}
		}
		final[i] = slot{addr: addr, has: true, explicit: true}
	}

	// Duplicates, after kept MACs are in, over all interfaces.
	plan.inUse = map[mac.Address]int{}
	for i := range final {
		if !final[i].has {
			continue
		}
		if first, dup := plan.inUse[final[i].addr]; dup {
			reason := fmt.Sprintf("duplicate MAC address %s found on interfaces: %s and %s",
				final[i].addr, interfaces[first].Name, interfaces[i].Name)
			for _, k := range []int{first, i} {
				if !final[k].explicit {
					reason += fmt.Sprintf(" (%s keeps its MAC from the stored VirtualMachine because the request omits it)", interfaces[k].Name)
				}
			}
			return nil, &FieldError{Field: interfaceField(i, "macAddress"), Reason: reason}
		}
		plan.inUse[final[i].addr] = i
	}

	newHeld := map[mac.Address]bool{}
	for i := range final {
		if !managed[i] || !final[i].has {
			continue
		}
		newHeld[final[i].addr] = true
		held, carried := oldHeld[final[i].addr]
		switch {
		case !carried:
			if final[i].explicit {
				plan.Requested = append(plan.Requested, RequestedMAC{Index: i, Name: interfaces[i].Name, MAC: final[i].addr.String()})
			}
		case attachmentOf(interfaces[i].Name, spec.Networks, oldVM) != attachmentOf(held.name, oldVM.Spec.Template.Spec.Networks, oldVM):
			// Kept MACs too: the request may change an interface's network
			// and omit its MAC.
			plan.Requested = append(plan.Requested, RequestedMAC{Index: i, Name: interfaces[i].Name, MAC: final[i].addr.String(), From: held.name})
		}
	}
	listed := map[mac.Address]bool{}
	for _, entry := range oldEntries {
		if newHeld[entry.addr] || listed[entry.addr] {
			continue
		}
		listed[entry.addr] = true
		plan.Released = append(plan.Released, RequestedMAC{Index: entry.index, Name: entry.name, MAC: entry.addr.String()})
	}

	plan.names = make([]string, len(interfaces))
	for i, iface := range interfaces {
		plan.names[i] = iface.Name
	}
	return plan, nil
}

// attachment is the network an interface is on as the pools see it (see
// MultusNetwork): a NetworkAttachmentDefinition, or the zero value for the
// pod network or none.
type attachment struct{ namespace, name string }

// attachmentOf resolves the network of the interface named name among
// networks, unqualified names in the stored object's namespace (the
// object's own, on an UPDATE). It allocates nothing: PlanMutation calls it
// for every MAC an update keeps.
func attachmentOf(name string, networks []kubevirtv1.Network, stored *kubevirtv1.VirtualMachine) attachment {
	namespace := stored.Namespace
	if namespace == "" {
		// Only outside kube-apiserver: a name that cannot be a namespace
		// still keeps unqualified networks apart from the pod network.
		namespace = "-"
	}
	nadNamespace, nadName, _ := MultusNetwork(name, networks, namespace)
	return attachment{nadNamespace, nadName}
}

// checkUniqueNames refuses a repeated interface name: networks, kept MACs
// and leases are all matched by name, so a repeat makes them ambiguous.
func checkUniqueNames(interfaces []kubevirtv1.Interface) error {
	seen := make(map[string]int, len(interfaces))
	for i, iface := range interfaces {
		if first, dup := seen[iface.Name]; dup {
			return &FieldError{Field: interfaceField(i, "name"),
				Reason: fmt.Sprintf("every interface must have a unique name: %q is used twice (interfaces[%d] and interfaces[%d])", iface.Name, first, i)}
		}
		seen[iface.Name] = i
	}
	return nil
}
