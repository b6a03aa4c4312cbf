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
// range ends.
func SetDefaults_MacPoolSpec(spec *MacPoolSpec) {
	if spec.ConflictPolicy == "" {
		spec.ConflictPolicy = ConflictPolicyWarn
	}
	for i := range spec.Ranges {
		if canonical, err := mac.Canonical(spec.Ranges[i].Start); err == nil {
			spec.Ranges[i].Start = canonical
		}
		if canonical, err := mac.Canonical(spec.Ranges[i].End); err == nil {
			spec.Ranges[i].End = canonical
		}
	}
}
