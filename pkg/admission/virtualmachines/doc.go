// Package virtualmachines is the mutating webhook for KubeVirt
// VirtualMachines: the masquerade primary interface and every interface on a
// multus network get a MAC, an update keeps the MACs of interfaces that still
// exist, and a VM repeating a MAC across its interfaces is denied.
package virtualmachines
