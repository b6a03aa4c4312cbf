package collision

import (
	"fmt"
	"slices"
	"strings"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// EventReason is the reason of the Kubernetes events emitted for a
// collision, kept from the original Kubemacpool so existing event filters
// still match.
const EventReason = "MACCollision"

// EventMessage is the message of a collision event:
//
//	MAC 02:00:00:00:cc:01: Collision between pod/ns/p, vmi/ns/v
//
// keys are listed sorted, so the message of a collision does not depend on
// the order its holders were seen and identical events aggregate. It names
// every holder it is given: given holders of several namespaces, it is for
// the log only (see PoolEventMessage).
func EventMessage(address string, keys []string) string {
	if canonical, err := mac.Canonical(address); err == nil {
		address = canonical
	}
	sorted := slices.Sorted(slices.Values(keys))
	return "MAC " + address + ": Collision between " + strings.Join(sorted, ", ")
}

// PoolEventMessage is the message of the collision event on the MacPool of
// address, which names nobody:
//
//	MAC 02:00:00:00:cc:01: Collision between 3 objects in 2 namespaces
//
// A MacPool is cluster-scoped, so its events are stored in namespace
// "default", which more users than the cluster administrators may read. Each
// namespace's own event names its holders; an administrator lists them all
// with kubectl get events -A --field-selector reason=MACCollision.
func PoolEventMessage(address string, keys []string) string {
	if canonical, err := mac.Canonical(address); err == nil {
		address = canonical
	}
	namespaces := map[string]bool{}
	for _, key := range keys {
		namespaces[KeyNamespace(key)] = true
	}
	return fmt.Sprintf("MAC %s: Collision between %d objects in %d namespace(s)", address, len(keys), len(namespaces))
}

// NamespaceEventMessage is the message of a collision event recorded in
// namespace, which its users read: the original's format, naming only the
// holders in namespace and counting the others,
//
//	MAC 02:00:00:00:cc:01: Collision between pod/ns/p, vmi/ns/v and 1 object(s) in other namespaces
//
// so that a tenant learns that its MAC is in use elsewhere, but not by whom.
func NamespaceEventMessage(address string, keys []string, namespace string) string {
	var own []string
	for _, key := range keys {
		if KeyNamespace(key) == namespace {
			own = append(own, key)
		}
	}
	message := EventMessage(address, own)
	if others := len(keys) - len(own); others > 0 {
		message += fmt.Sprintf(" and %d object(s) in other namespaces", others)
	}
	return message
}
