package kubevirt

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

func TestPatch(t *testing.T) {
	got, err := Patch(map[int]string{3: "02:00:00:00:00:0B", 0: "02-00-00-00-00-0a"})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"op":"add","path":"/spec/template/spec/domain/devices/interfaces/0/macAddress","value":"02:00:00:00:00:0a"},` +
		`{"op":"add","path":"/spec/template/spec/domain/devices/interfaces/3/macAddress","value":"02:00:00:00:00:0b"}]`
	if string(got) != want {
		t.Fatalf("Patch =\n%s\nwant\n%s", got, want)
	}

	for _, empty := range []map[int]string{nil, {}} {
		if got, err := Patch(empty); got != nil || err != nil {
			t.Fatalf("Patch(%v) = %q, %v; want nil, nil", empty, got, err)
		}
	}

	failures := []struct {
		name        string
		assignments map[int]string
		wantErr     string
	}{
		{"negative index", map[int]string{-1: "02:00:00:00:00:01"}, "negative interface index"},
		{"not a MAC", map[int]string{0: "02:00:00:00:00:01", 1: "junk"}, "interface 1: invalid MAC address"},
		{"multicast", map[int]string{0: "01:00:00:00:00:01"}, "multicast"},
	}
	for _, test := range failures {
		t.Run(test.name, func(t *testing.T) {
			if got, err := Patch(test.assignments); err == nil || !strings.Contains(err.Error(), test.wantErr) || got != nil {
				t.Fatalf("Patch = %q, %v; want error containing %q", got, err, test.wantErr)
			}
		})
	}
}

// vmJSON is a VirtualMachine as a client sends it, including a field this
// package knows nothing about, to show the patch leaves everything but the
// MACs alone.
const vmJSON = `{
  "apiVersion": "kubevirt.io/v1",
  "kind": "VirtualMachine",
  "metadata": {"name": "vm", "namespace": "default", "labels": {"app": "x"}},
  "spec": {
    "runStrategy": "Always",
    "template": {
      "metadata": {"labels": {"kubevirt.io/vm": "vm"}},
      "spec": {
        "domain": {
          "devices": {
            "disks": [{"name": "root", "disk": {"bus": "virtio"}, "io": "native", "cache": "none"}],
            "interfaces": [
              {"name": "default", "masquerade": {}, "ports": [{"port": 22}]},
              {"name": "pod2", "bridge": {}, "macAddress": "0E-00-00-00-00-01"},
              {"name": "net1", "bridge": {}, "macAddress": ""},
              {"name": "net2", "sriov": {}, "futureField": {"keep": [1, 2.50, "x"]}}
            ]
          },
          "resources": {"requests": {"memory": "1Gi"}}
        },
        "networks": [
          {"name": "default", "pod": {}},
          {"name": "pod2", "pod": {}},
          {"name": "net1", "multus": {"networkName": "ns/net1"}},
          {"name": "net2", "multus": {"networkName": "net2"}}
        ]
      }
    }
  }
}`

// TestPatchApplies runs the whole path of the webhook on a VM in JSON: plan,
// fake allocation, patch, and a real RFC 6902 implementation applying it.
func TestPatchApplies(t *testing.T) {
	var vm kubevirtv1.VirtualMachine
	if err := json.Unmarshal([]byte(vmJSON), &vm); err != nil {
		t.Fatal(err)
	}
	old := newVM(multusBridge("net1", "02:00:00:00:00:11"))
	plan, err := PlanMutation(&vm, old)
	if err != nil {
		t.Fatal(err)
	}
	assignments, err := plan.Assignments([]string{"02:00:00:00:00:01", "02:00:00:00:00:03"})
	if err != nil {
		t.Fatal(err)
	}
	patchJSON, err := Patch(assignments)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.DecodePatch(patchJSON)
	if err != nil {
		t.Fatal(err)
	}
	patched, err := patch.Apply([]byte(vmJSON))
	if err != nil {
		t.Fatalf("applying %s: %v", patchJSON, err)
	}

	// The patched document must equal the original with exactly the three
	// MACs set; every other value, known to KubeVirt or not, is unchanged.
	var want, got map[string]any
	if err := json.Unmarshal([]byte(vmJSON), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(patched, &got); err != nil {
		t.Fatal(err)
	}
	interfaces := want["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["domain"].(map[string]any)["devices"].(map[string]any)["interfaces"].([]any)
	interfaces[0].(map[string]any)["macAddress"] = "02:00:00:00:00:01"
	interfaces[2].(map[string]any)["macAddress"] = "02:00:00:00:00:11"
	interfaces[3].(map[string]any)["macAddress"] = "02:00:00:00:00:03"
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("patched document\n%s\ndiffers from the expected one", patched)
	}

	var result kubevirtv1.VirtualMachine
	if err := json.Unmarshal(patched, &result); err != nil {
		t.Fatal(err)
	}
	if io := result.Spec.Template.Spec.Domain.Devices.Disks[0].IO; io != "native" {
		t.Fatalf("disk io = %q, want native", io)
	}
	wantMACs := map[string]string{"02:00:00:00:00:01": "default", "02:00:00:00:00:11": "net1", "02:00:00:00:00:03": "net2"}
	if got := ManagedMACs(&result); !reflect.DeepEqual(got, wantMACs) {
		t.Fatalf("ManagedMACs after patch = %v, want %v", got, wantMACs)
	}
	// The patched object is stable: planning it again needs nothing.
	again, err := PlanMutation(&result, &result)
	if err != nil || !reflect.DeepEqual(exported(again), Plan{}) {
		t.Fatalf("re-planning the patched VM = %+v, %v; want nothing to do", again, err)
	}
}
