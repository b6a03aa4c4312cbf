// Package legacyfinalizer removes the finalizer k8s.v1.cni.cncf.io/kubeMacPool
// that the original Kubemacpool put on VirtualMachines until 2021.
//
// The original stopped adding the finalizer but kept removing it when such
// a VirtualMachine was deleted. Nothing else removes it, so once this
// implementation replaces the original, a VirtualMachine that still carries
// it would stay Terminating forever. The finalizer guarded the original's
// in-memory MAC map; here a VirtualMachine's MACs are MacLeases, which the
// lease controller and the garbage collector release when the
// VirtualMachine is gone, so the finalizer protects nothing and is removed
// as soon as it is seen, not only on deletion: that way the hazard is gone
// even if Kubemacpool is later uninstalled.
//
// The controller reads the metadata of every VirtualMachine, in every
// namespace, from an informer it is given (the server gives it the lease
// controller's, so VirtualMachines are watched once), and patches away
// exactly that finalizer with a JSON patch whose test
// operation fails if the finalizer list changed meanwhile. It runs under the
// lease controller's leader election, and only while KubeVirt is installed.
package legacyfinalizer
