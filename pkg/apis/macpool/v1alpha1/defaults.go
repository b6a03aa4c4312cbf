package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}

// SetDefaults_MacLease fills spec.macAddress from the name, so that a static
// reservation needs only `name: 02-00-00-00-00-0a`, and stores the address in
// canonical colon form. Unparseable text is left alone for validation to
// report with the field path.
// The reverse holds as well: a lease with only spec.macAddress gets its name.
func SetDefaults_MacLease(lease *MacLease) {
	if lease.Spec.MACAddress == "" {
		lease.Spec.MACAddress = lease.Name
	}
	address, err := mac.Parse(lease.Spec.MACAddress)
	if err != nil {
		return
	}
	lease.Spec.MACAddress = address.String()
	if lease.Name == "" && lease.GenerateName == "" {
		lease.Name = address.Name()
	}
}

// SetDefaults_MacPoolSpec defaults the conflict policy and canonicalises the
// ends of the ranges and of the excluded ranges.
func SetDefaults_MacPoolSpec(spec *MacPoolSpec) {
	if spec.ConflictPolicy == "" {
		spec.ConflictPolicy = ConflictPolicyWarn
	}
	canonicalRanges(spec.Ranges)
	canonicalRanges(spec.Exclude)
}

func canonicalRanges(ranges []MACRange) {
	for i := range ranges {
		if canonical, err := mac.Canonical(ranges[i].Start); err == nil {
			ranges[i].Start = canonical
		}
		if canonical, err := mac.Canonical(ranges[i].End); err == nil {
			ranges[i].End = canonical
		}
	}
}
