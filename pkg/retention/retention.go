package retention

import (
	"fmt"
	"strings"
	"time"
)

// ObjectAnnotation on a Pod or VirtualMachine is the object's own choice:
// "false" opts out of its pool's retention policy, "true" opts in an object
// whose name the API server generated (those are not retained otherwise: a
// generated name never comes back). The lease controller copies it, or
// "false" for a generated name, to the same annotation of the object's
// leases when it binds them, so that the choice outlives the object.
const ObjectAnnotation = "macpool.kubemacpool.io/mac-retention"

// RetainedUntilAnnotation is on a Reserved lease that an admission reclaimed
// from retention: when the retention would have ended. If the object never
// appears (the admission was rejected later, the request timed out), the
// lease goes back to Retained until then instead of being released.
const RetainedUntilAnnotation = "macpool.kubemacpool.io/retained-until"

// Choice values of ObjectAnnotation.
const (
	OptIn  = "true"
	OptOut = "false"
)

// ParseChoice checks an ObjectAnnotation value.
func ParseChoice(value string) error {
	switch value {
	case OptIn, OptOut:
		return nil
	}
	return fmt.Errorf("must be %q or %q, not %q", OptIn, OptOut, value)
}

// maxGeneratedBase is the longest generateName the API server keeps whole:
// it appends five random characters to at most 58 (names are at most 63).
const maxGeneratedBase = 58

// generatedSuffix is the number of characters the API server appends.
const generatedSuffix = 5

// NameGenerated tells an object whose name the API server made from its
// generateName (a ReplicaSet's or Job's pod) from one whose creator chose
// the name (a StatefulSet's db-0, a VirtualMachine). StatefulSet pods carry
// a generateName too, but their names are the ordinal, not five characters.
func NameGenerated(name, generateName string) bool {
	if generateName == "" {
		return false
	}
	base := generateName
	if len(base) > maxGeneratedBase {
		base = base[:maxGeneratedBase]
	}
	return strings.HasPrefix(name, base) && len(name) == len(base)+generatedSuffix
}

// ObjectChoice is what the lease controller records on the leases of an
// object: its valid annotation, else OptOut for a generated name, else ""
// (the pool decides). An invalid value the webhook could not refuse (a Pod
// annotation changed after creation) counts as absent.
func ObjectChoice(annotations map[string]string, name, generateName string) string {
	if value, found := annotations[ObjectAnnotation]; found && ParseChoice(value) == nil {
		return value
	}
	if NameGenerated(name, generateName) {
		return OptOut
	}
	return ""
}

// Duration is how long a lease stays Retained after its owner is deleted:
// the pool's duration, unless the owner opted out.
func Duration(pool time.Duration, choice string) time.Duration {
	if pool <= 0 || choice == OptOut {
		return 0
	}
	return pool
}

// ReclaimedAtAnnotation is on a Reserved lease that an admission reclaimed
// from retention: when (RFC 3339). Another admission of the same object may
// take the lease over only after ReclaimGrace, so that two creators racing
// for one retained address never both get it, while a creator whose earlier
// attempt was rejected later in the admission chain gets it back.
const ReclaimedAtAnnotation = "macpool.kubemacpool.io/reclaimed-at"

// ReclaimGrace is longer than any admission webhook may take (30 seconds):
// past it, the admission that reclaimed a lease has ended, and its object
// either exists (the controller binds the lease to it) or never will.
const ReclaimGrace = 35 * time.Second
