package validation

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// MaxRetention bounds spec.retention.duration of a pool. A retained address
// is out of the pool for the whole time, so a typo of "8760000h" would take
// it out for good; a year covers restores and licence renewals.
const MaxRetention = 8760 * time.Hour

// validateRetention checks a pool's retention policy: a duration between
// zero (release at once) and MaxRetention.
func validateRetention(retention *macpool.RetentionPolicy, path *field.Path) field.ErrorList {
	if retention == nil {
		return nil
	}
	var allErrs field.ErrorList
	durationPath := path.Child("duration")
	switch d := retention.Duration.Duration; {
	case d < 0:
		allErrs = append(allErrs, field.Invalid(durationPath, d.String(), "must not be negative; 0 releases the addresses of deleted objects at once"))
	case d > MaxRetention:
		allErrs = append(allErrs, field.Invalid(durationPath, d.String(), fmt.Sprintf("must be at most %s: a retained address is out of the pool for the whole time", MaxRetention)))
	}
	return allErrs
}

// validateRetainedLease checks what a Retained lease needs to be reclaimed
// and released: the owner whose kind and name reclaim it, and when it ends.
func validateRetainedLease(lease *macpool.MacLease) field.ErrorList {
	if lease.Status.Phase != macpool.MacLeasePhaseRetained {
		return nil
	}
	var allErrs field.ErrorList
	if lease.Spec.Owner == nil {
		allErrs = append(allErrs, field.Required(field.NewPath("spec", "owner"), "a Retained lease keeps the address for its owner's kind and name"))
	}
	if lease.Status.ExpiresAt == nil {
		allErrs = append(allErrs, field.Required(field.NewPath("status", "expiresAt"), "a Retained lease is released at status.expiresAt"))
	}
	return allErrs
}
