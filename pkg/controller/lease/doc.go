// Package lease is the lease controller: it binds, expires, releases and
// adopts MacLeases against the Pods and VirtualMachines that actually carry
// the addresses, and reports MAC collisions among running Pods and
// VirtualMachineInstances. One replica runs it at a time (leader election).
//
// The join key between a lease and its owner is the MAC: the owner's UID is
// not known when the webhook creates the lease, and a Pod created with
// generateName has no name yet.
package lease
