// Package collision tracks which running Pods and VirtualMachineInstances
// hold which MAC addresses and reports the MACs held by more than one of
// them.
//
// Admission prevents collisions among the MACs Kubemacpool allocates, but a
// MAC can still be duplicated: by objects created while the webhook was
// down or excluded from it, by CNI plugins that pick MACs themselves, or by
// a user who sets the same MAC twice in an opted-out namespace. The lease
// controller feeds an Index with every running object and turns the
// returned Change into Kubernetes events and the kmp_mac_collisions gauge.
//
// The Index is pure (no API access) and safe for concurrent use. Compared
// with the original Kubemacpool it counts objects by key, not by UID, so a
// rebooted VM (same name, new UID) never collides with its previous
// incarnation, and it keeps the two halves of a decentralized live
// migration apart from a genuine third holder of the same MAC.
package collision
