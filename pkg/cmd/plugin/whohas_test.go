package plugin

import (
	"strings"
	"testing"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
)

func TestWhoHas(t *testing.T) {
	pod := &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "web-0"}
	vm := &v1alpha1.LeaseOwner{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "vm1"}
	tests := []struct {
		name      string
		leases    []*v1alpha1.MacLease
		forbidden []string // "list" forbids the cluster-wide list, "get" the get in the context namespace
		args      []string
		wantCode  int
		wantOut   []string
		wantErr   []string
		notErr    []string // must not appear anywhere: other namespaces' names
	}{{
		name:     "bound pod lease found across namespaces, any spelling",
		leases:   []*v1alpha1.MacLease{lease("lab", "02:00:00:00:00:0a", pod, boundTo("uid-1"), inPool("default", "lab/br1"))},
		args:     []string{"who-has", "02-00-00-00-00-0A"},
		wantCode: 0,
		wantOut: []string{
			"MAC:        02:00:00:00:00:0a", "Lease:      02-00-00-00-00-0a", "Namespace:  lab",
			"Owner:      Pod/web-0 (apiVersion v1, UID uid-1)", "Phase:      Bound", "Pool:       default", "Interface:  lab/br1",
		},
	}, {
		name:     "reserved lease has no owner UID yet",
		leases:   []*v1alpha1.MacLease{lease("lab", "02:00:00:00:00:0b", vm, inPool("default", "default"))},
		args:     []string{"who-has", "02:00:00:00:00:0b"},
		wantOut:  []string{"Owner:      VirtualMachine/vm1 (apiVersion kubevirt.io/v1, UID <none until the lease is bound>)", "Phase:      <none>"},
		wantCode: 0,
	}, {
		name:     "static reservation",
		leases:   []*v1alpha1.MacLease{lease("infra", "0a:00:00:00:00:01", nil)},
		args:     []string{"who-has", "0A:00:00:00:00:01"},
		wantOut:  []string{"Owner:      <none> (static reservation)", "Pool:       <none>"},
		wantCode: 0,
	}, {
		name:     "nobody holds it",
		leases:   []*v1alpha1.MacLease{lease("lab", "02:00:00:00:00:0a", pod)},
		args:     []string{"who-has", "02:00:00:00:00:0c"},
		wantCode: 1,
		wantErr:  []string{"error: no MacLease holds 02:00:00:00:00:0c in any namespace"},
	}, {
		name:     "not a MAC",
		args:     []string{"who-has", "02:00:00:00:00"},
		wantCode: 1,
		wantErr:  []string{`error: invalid MAC address "02:00:00:00:00"`},
	}, {
		name:     "no argument",
		args:     []string{"who-has"},
		wantCode: 1,
		wantErr:  []string{"accepts 1 arg(s), received 0"},
	}, {
		name:      "namespace user finds a lease of the context namespace and is told only it was searched",
		leases:    []*v1alpha1.MacLease{lease("mine", "02:00:00:00:00:0a", pod)},
		forbidden: []string{"list"},
		args:      []string{"who-has", "02:00:00:00:00:0a"},
		wantCode:  0,
		wantOut:   []string{"Namespace:  mine"},
		wantErr:   []string{"You may not list MacLeases in every namespace: searching namespace mine only."},
	}, {
		name:      "namespace user does not see another namespace's lease",
		leases:    []*v1alpha1.MacLease{lease("secret-team", "02:00:00:00:00:0a", &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "secret-pod"})},
		forbidden: []string{"list"},
		args:      []string{"who-has", "02:00:00:00:00:0a"},
		wantCode:  1,
		wantErr:   []string{"error: no MacLease holds 02:00:00:00:00:0a in namespace mine (other namespaces were not searched)"},
		notErr:    []string{"secret"},
	}, {
		name:      "-n picks the namespace to search",
		leases:    []*v1alpha1.MacLease{lease("other", "02:00:00:00:00:0a", pod)},
		forbidden: []string{"list"},
		args:      []string{"who-has", "02:00:00:00:00:0a", "-n", "other"},
		wantCode:  0,
		wantOut:   []string{"Namespace:  other"},
		wantErr:   []string{"searching namespace other only"},
	}, {
		name:      "no right at all names the missing one",
		forbidden: []string{"list", "get"},
		args:      []string{"who-has", "02:00:00:00:00:0a"},
		wantCode:  1,
		wantErr: []string{"error: you may not get macleases.macpool.kubemacpool.io in namespace mine",
			"kubectl auth can-i get macleases.macpool.kubemacpool.io -n mine"},
	}}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			clientset := fake.NewClientset()
			for _, l := range test.leases {
				if err := clientset.Tracker().Add(l); err != nil {
					t.Fatal(err)
				}
			}
			for _, verb := range test.forbidden {
				namespace := ""
				if verb == "get" {
					namespace = "mine"
				}
				forbid(clientset, verb, "macleases", namespace)
			}
			out, errOut, code := run(t, clientset, "mine", test.args...)
			if code != test.wantCode {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, test.wantCode, errOut)
			}
			for _, want := range test.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			for _, want := range test.wantErr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			for _, secret := range test.notErr {
				if strings.Contains(out+errOut, secret) {
					t.Errorf("output names %q:\n%s%s", secret, out, errOut)
				}
			}
			onlyReads(t, clientset)
		})
	}
}
