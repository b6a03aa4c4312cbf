package install

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"

	macpoolfuzzer "kubemacpool.io/kubemacpool/pkg/apis/macpool/fuzzer"
)

// TestRoundTripTypes checks that every type survives internal -> v1alpha1
// -> JSON/YAML -> internal unchanged, so no field is lost in conversion.
// Protobuf is not tested: the group is served as JSON and YAML only.
func TestRoundTripTypes(t *testing.T) {
	roundtrip.RoundTripTestForAPIGroup(t, Install, macpoolfuzzer.Funcs)
}
