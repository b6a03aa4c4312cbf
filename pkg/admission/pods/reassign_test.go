package pods

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// heldBy is a lease of address in namespace ns that a Pod named owner
// holds, or a static reservation when owner is empty.
func heldBy(address, owner string) *v1alpha1.MacLease {
	lease := &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(address, ":", "-"), Namespace: "ns"},
		Spec:       v1alpha1.MacLeaseSpec{MACAddress: address, Pool: "default", Interface: "ns/a"},
	}
	if owner != "" {
		lease.Spec.Owner = &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: owner}
	}
	return lease
}

// Under conflictPolicy Reassign a requested MAC that another object holds
// is replaced by a free one, with a warning and an event that name the
// network and both MACs and never the holder; a free requested MAC is kept;
// a dry run answers the same and leases nothing. An address in spec.exclude
// is refused with a 422 naming spec.exclude unless a static reservation of
// the namespace holds it.
func TestMutateReassignAndExclude(t *testing.T) {
	reassign := v1alpha1.MacPoolSpec{ConflictPolicy: v1alpha1.ConflictPolicyReassign}
	excludeFirst := v1alpha1.MacPoolSpec{ConflictPolicy: v1alpha1.ConflictPolicyReassign,
		Exclude: []v1alpha1.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:00"}}}
	tests := []struct {
		name        string
		spec        v1alpha1.MacPoolSpec
		leases      []runtime.Object
		networks    string
		dryRun      bool
		wantCode    int32
		wantMessage string
		wantMACs    []string
		wantWarning string
		wantEvent   bool
		wantLeases  []string
	}{{
		name:        "a held MAC is replaced",
		spec:        reassign,
		leases:      []runtime.Object{heldBy("02:00:00:00:00:00", "holder")},
		networks:    `[{"name":"a","mac":"02:00:00:00:00:00"}]`,
		wantMACs:    []string{"02:00:00:00:00:01"},
		wantWarning: "MAC address 02:00:00:00:00:00 requested for ns/a is already in use by another object; conflictPolicy Reassign replaced it with 02:00:00:00:00:01",
		wantEvent:   true,
		wantLeases:  []string{"02-00-00-00-00-00", "02-00-00-00-00-01"},
	}, {
		name:        "a dry run answers the same and leases nothing",
		spec:        reassign,
		leases:      []runtime.Object{heldBy("02:00:00:00:00:00", "holder")},
		networks:    `[{"name":"a","mac":"02:00:00:00:00:00"}]`,
		dryRun:      true,
		wantMACs:    []string{"02:00:00:00:00:01"},
		wantWarning: "conflictPolicy Reassign replaced it with 02:00:00:00:00:01",
		wantLeases:  []string{"02-00-00-00-00-00"},
	}, {
		name:       "a free requested MAC is kept",
		spec:       reassign,
		networks:   `[{"name":"a","mac":"02:00:00:00:00:01"},{"name":"b"}]`,
		wantMACs:   []string{"02:00:00:00:00:01", "02:00:00:00:00:00"},
		wantLeases: []string{"02-00-00-00-00-00", "02-00-00-00-00-01"},
	}, {
		name:        "no free MAC to replace it with",
		spec:        reassign,
		leases:      []runtime.Object{heldBy("02:00:00:00:00:00", "holder"), heldBy("02:00:00:00:00:01", "other")},
		networks:    `[{"name":"a","mac":"02:00:00:00:00:00"}]`,
		wantCode:    http.StatusConflict,
		wantMessage: `MAC pool "default" is exhausted`,
		wantLeases:  []string{"02-00-00-00-00-00", "02-00-00-00-00-01"},
	}, {
		name:        "under Warn a held MAC is kept",
		leases:      []runtime.Object{heldBy("02:00:00:00:00:00", "holder")},
		networks:    `[{"name":"a","mac":"02:00:00:00:00:00"},{"name":"b"}]`,
		wantMACs:    []string{"02:00:00:00:00:00", "02:00:00:00:00:01"},
		wantWarning: "is already leased to another object",
		wantLeases:  []string{"02-00-00-00-00-00", "02-00-00-00-00-01"},
	}, {
		name:        "an excluded MAC is refused",
		spec:        excludeFirst,
		networks:    `[{"name":"b"},{"name":"a","mac":"02:00:00:00:00:00"}]`,
		wantCode:    http.StatusUnprocessableEntity,
		wantMessage: `MAC address 02:00:00:00:00:00 requested for ns/a is in spec.exclude of MacPool "default"`,
	}, {
		name:       "an excluded MAC reserved statically in the namespace is admitted",
		spec:       excludeFirst,
		leases:     []runtime.Object{heldBy("02:00:00:00:00:00", "")},
		networks:   `[{"name":"a","mac":"02:00:00:00:00:00"},{"name":"b"}]`,
		wantMACs:   []string{"02:00:00:00:00:00", "02:00:00:00:00:01"},
		wantLeases: []string{"02-00-00-00-00-00", "02-00-00-00-00-01"},
	}, {
		name:        "an excluded MAC is never allocated",
		spec:        excludeFirst,
		networks:    `[{"name":"a"},{"name":"b"}]`,
		wantCode:    http.StatusConflict,
		wantMessage: `MAC pool "default" is exhausted: its only address is leased`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			service, client := newServiceWith(t, true, tt.spec, tt.leases...)
			events := record.NewFakeRecorder(10)
			m := &Mutator{Allocations: service, Events: events}
			request := podRequest(t, tt.networks)
			request.DryRun = ptr.To(tt.dryRun)
			response := m.Mutate(context.Background(), request)
			if tt.wantCode != 0 {
				if response.Allowed || response.Result.Code != tt.wantCode || !strings.Contains(response.Result.Message, tt.wantMessage) {
					t.Fatalf("response = %+v, want %d with %q", response.Result, tt.wantCode, tt.wantMessage)
				}
			} else {
				if !response.Allowed {
					t.Fatalf("denied: %+v", response.Result)
				}
				if got := patchedMACs(t, response.Patch); strings.Join(got, ",") != strings.Join(tt.wantMACs, ",") {
					t.Fatalf("MACs = %v, want %v", got, tt.wantMACs)
				}
				warnings := strings.Join(response.Warnings, "\n")
				if !strings.Contains(warnings, tt.wantWarning) || (tt.wantWarning == "" && warnings != "") {
					t.Errorf("warnings = %q, want %q", warnings, tt.wantWarning)
				}
				if strings.Contains(warnings, "holder") {
					t.Errorf("warnings %q name the holder", warnings)
				}
			}
			select {
			case event := <-events.Events:
				if !tt.wantEvent {
					t.Errorf("unexpected event %q", event)
				}
				if !strings.HasPrefix(event, "Warning MACAddressReassigned ") || !strings.Contains(event, tt.wantWarning) || strings.Contains(event, "holder") {
					t.Errorf("event %q, want a Warning MACAddressReassigned with %q that does not name the holder", event, tt.wantWarning)
				}
			default:
				if tt.wantEvent {
					t.Errorf("no event, want one")
				}
			}
			list, err := client.MacpoolV1alpha1().MacLeases("ns").List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, lease := range list.Items {
				names = append(names, lease.Name)
			}
			slices.Sort(names)
			if strings.Join(names, ",") != strings.Join(tt.wantLeases, ",") {
				t.Errorf("leases = %v, want %v", names, tt.wantLeases)
			}
		})
	}
}
