package collision

import (
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
// the order its holders were seen and identical events aggregate.
func EventMessage(address string, keys []string) string {
	if canonical, err := mac.Canonical(address); err == nil {
		address = canonical
	}
	sorted := slices.Sorted(slices.Values(keys))
	return "MAC " + address + ": Collision between " + strings.Join(sorted, ", ")
}
