package fuzzer

import (
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/randfill"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// Funcs returns the fuzzer functions of the group. Defaulting derives a
// lease's address and name from each other and fills the conflict policy,
// so fuzzed objects carry values defaulting leaves as they are.
var Funcs = func(codecs runtimeserializer.CodecFactory) []interface{} {
	return []interface{}{
		func(lease *macpool.MacLease, c randfill.Continue) {
			c.FillNoCustom(lease)
			address := mac.Address(c.Uint64()) & mac.MaxAddress
			lease.Name = address.Name()
			lease.Spec.MACAddress = address.String()
		},
		func(spec *macpool.MacPoolSpec, c randfill.Continue) {
			c.FillNoCustom(spec)
			spec.ConflictPolicy = macpool.ConflictPolicyWarn
			if c.Bool() {
				spec.ConflictPolicy = macpool.ConflictPolicyReject
			}
		},
	}
}
