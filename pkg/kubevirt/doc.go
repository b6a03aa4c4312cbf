// Package kubevirt is what Kubemacpool knows of KubeVirt: the resources and
// kinds it reads, how a virt-launcher pod identifies itself (identity.go),
// which part of a VirtualMachine the admission webhook decodes (decode.go:
// metadata and the template's interfaces and networks, the rest of the JSON
// skipped), and the pure decision logic of the VirtualMachine admission
// webhook (plan.go, patch.go): for a VirtualMachine CREATE or UPDATE it
// decides which interfaces need a MAC from the pool, which MACs the user
// asks for, which MACs are kept from the stored object and which are no
// longer used, it validates the interface MACs, and it builds the JSON
// patch. It does no I/O and allocates nothing; the webhook handler does
// that with the Plan.
//
// An interface is managed (its MAC is leased from the pool) iff it has the
// masquerade binding or the network of the same name has a multus source,
// secondary or multus default. The binding does not matter on a multus
// network; on the pod network only masquerade is managed, because bridge,
// passt, SR-IOV and binding plugins there either reuse the pod's own MAC
// or a device's.
//
// Rules, taken from the original Kubemacpool with its bugs fixed:
//
//   - A VirtualMachine without spec.template, or being deleted, needs
//     nothing: updates during deletion (finalizer removal) must never be
//     blocked or changed.
//   - Interface names must be unique, every MAC must parse (managed or not)
//     and managed MACs must be unicast.
//   - On UPDATE a managed interface that omits its MAC keeps the MAC the
//     stored object has on the managed interface of the same name, so that
//     re-applying a manifest without MACs does not change them.
//   - On UPDATE a MAC the stored object carried is requested again when the
//     interface that now has it (set or kept) is on another network than
//     the stored interface that had it, so that the new network's pool
//     decides about it (Plan.Requested, RequestedMAC.From); an update that
//     changes no network requests nothing it did not before.
//   - No two interfaces of the VirtualMachine may end with the same MAC.
//     This is checked after kept MACs are filled in, so a re-applied
//     manifest whose explicit MAC collides with a kept one is refused, and
//     it is checked on dry-run too (the original skipped it there).
//
// Typical use in the handler:
//
//	vm, err := kubevirt.DecodeVirtualMachine(request.Object.Raw) // 400 on error
//	plan, err := kubevirt.PlanMutation(vm, oldVM) // oldVM nil on CREATE
//	if err != nil { deny(err) }
//	lease plan.Requested; allocated := allocate(len(plan.NeedAllocation))
//	assignments, err := plan.Assignments(allocated)
//	if err != nil { release(allocated); deny or retry }
//	patch, err := kubevirt.Patch(assignments) // nil: allow without patch
package kubevirt
