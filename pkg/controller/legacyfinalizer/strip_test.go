package legacyfinalizer

import (
	"encoding/json"
	"reflect"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// apply applies patch to an object with the given finalizers the way
// kube-apiserver does (the same library), and returns the finalizers left.
func apply(t *testing.T, patch []byte, stored []string) ([]string, error) {
	t.Helper()
	decoded, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatalf("the patch does not decode: %v\n%s", err, patch)
	}
	object, err := json.Marshal(map[string]any{"metadata": map[string]any{"name": "vm", "finalizers": stored}})
	if err != nil {
		t.Fatal(err)
	}
	patched, err := decoded.Apply(object)
	if err != nil {
		return nil, err
	}
	var result struct {
		Metadata struct {
			Finalizers []string `json:"finalizers"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(patched, &result); err != nil {
		t.Fatal(err)
	}
	return result.Metadata.Finalizers, nil
}

func TestRemovalPatchRemovesOnlyTheLegacyFinalizer(t *testing.T) {
	tests := []struct {
		name       string
		finalizers []string
		want       []string
	}{
		{name: "alone", finalizers: []string{Finalizer}, want: []string{}},
		{name: "first", finalizers: []string{Finalizer, "kubevirt.io/virtualMachineControllerFinalize"}, want: []string{"kubevirt.io/virtualMachineControllerFinalize"}},
		{name: "last", finalizers: []string{"a.example/x", Finalizer}, want: []string{"a.example/x"}},
		{name: "twice, between others", finalizers: []string{"a.example/x", Finalizer, "b.example/y", Finalizer, "c.example/z"},
			want: []string{"a.example/x", "b.example/y", "c.example/z"}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			patch, err := removalPatch(test.finalizers)
			if err != nil || patch == nil {
				t.Fatalf("removalPatch(%q) = %s, %v; want a patch", test.finalizers, patch, err)
			}
			got, err := apply(t, patch, test.finalizers)
			if err != nil {
				t.Fatalf("applying %s: %v", patch, err)
			}
			if !reflect.DeepEqual(got, test.want) {
				t.Errorf("finalizers after %s = %q, want %q", patch, got, test.want)
			}
		})
	}
}

func TestRemovalPatchWithoutTheLegacyFinalizerIsNil(t *testing.T) {
	for _, finalizers := range [][]string{nil, {}, {"kubevirt.io/virtualMachineControllerFinalize"}, {"k8s.v1.cni.cncf.io/kubemacpool"}} {
		if patch, err := removalPatch(finalizers); patch != nil || err != nil {
			t.Errorf("removalPatch(%q) = %s, %v; want nil, nil", finalizers, patch, err)
		}
	}
}

// A concurrent change to the list must make the patch fail rather than
// remove a finalizer that shifted into the legacy one's index.
func TestRemovalPatchFailsWhenTheListChanged(t *testing.T) {
	seen := []string{"a.example/x", Finalizer}
	patch, err := removalPatch(seen)
	if err != nil {
		t.Fatal(err)
	}
	for _, stored := range [][]string{
		{Finalizer},                     // a.example/x removed meanwhile
		{"a.example/x", Finalizer, "b"}, // one added
		{"a.example/x"},                 // the legacy one already gone
	} {
		if got, err := apply(t, patch, stored); err == nil {
			t.Errorf("applying %s to %q succeeded with %q; want the test operation to fail", patch, stored, got)
		}
	}
}
