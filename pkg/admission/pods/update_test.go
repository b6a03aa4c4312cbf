package pods

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/multus"
)

// podUpdate is an UPDATE of the running pod "p" from the networks
// annotation before to after ("" for none).
func podUpdate(t *testing.T, before, after string) *admissionv1.AdmissionRequest {
	t.Helper()
	encode := func(networks string) []byte {
		pod := &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: types.UID("pod-p")},
		}
		if networks != "" {
			pod.Annotations = map[string]string{multus.NetworksAnnotation: networks}
		}
		raw, err := json.Marshal(pod)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	return &admissionv1.AdmissionRequest{
		UID: types.UID("update-1"), Operation: admissionv1.Update, Namespace: "ns",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Object:    runtime.RawExtension{Raw: encode(after)},
		OldObject: runtime.RawExtension{Raw: encode(before)},
	}
}

// An update of a running Pod's networks annotation (a dynamic networks
// controller plugs and unplugs interfaces after it) leases what it adds
// and may not drop a MAC the Pod carries: the lease controller would free
// a MAC still in use.
func TestMutateUpdate(t *testing.T) {
	const carried = `[{"name":"a","mac":"02:00:00:00:00:00"}]`
	tests := []struct {
		name          string
		before, after string
		wantCode      int32
		wantMessage   string
		// wantMACs are the MACs the patch writes; nil: no patch.
		wantMACs []string
		// wantLeased are the leases stored afterwards besides the carried one.
		wantLeased []string
	}{{
		name: "an unchanged annotation", before: carried, after: carried,
	}, {
		name: "a network added without a MAC gets one", before: carried, after: `[{"name":"a","mac":"02:00:00:00:00:00"},{"name":"b"}]`,
		wantMACs: []string{"02:00:00:00:00:00", "02:00:00:00:00:01"}, wantLeased: []string{"02-00-00-00-00-01"},
	}, {
		name: "a network added with a free MAC leases it", before: carried, after: `[{"name":"a","mac":"02:00:00:00:00:00"},{"name":"b","mac":"02:00:00:00:00:09"}]`,
		wantLeased: []string{"02-00-00-00-00-09"},
	}, {
		name: "the networks reordered, their MACs kept", before: `[{"name":"a","mac":"02:00:00:00:00:00"},{"name":"b","mac":"02:00:00:00:00:09"}]`,
		after: `[{"name":"b","mac":"02:00:00:00:00:09"},{"name":"a","mac":"02:00:00:00:00:00"}]`,
	}, {
		name: "a carried MAC dropped", before: carried, after: `[{"name":"a"}]`,
		wantCode: http.StatusUnprocessableEntity, wantMessage: "the MAC 02:00:00:00:00:00 of network ns/a cannot be removed or changed",
	}, {
		name: "a carried MAC changed", before: carried, after: `[{"name":"a","mac":"02:00:00:00:00:09"}]`,
		wantCode: http.StatusUnprocessableEntity, wantMessage: "the MAC 02:00:00:00:00:00 of network ns/a cannot be removed or changed",
	}, {
		name: "the annotation removed", before: carried, after: "",
		wantCode: http.StatusUnprocessableEntity, wantMessage: "the MAC 02:00:00:00:00:00 of network ns/a cannot be removed or changed",
	}, {
		// Carried, it would not be asked for again: the new network's pool
		// (its conflictPolicy) would never see it.
		name: "a carried MAC moved to another network", before: carried, after: `[{"name":"b","mac":"02:00:00:00:00:00"}]`,
		wantCode: http.StatusUnprocessableEntity, wantMessage: "the MAC 02:00:00:00:00:00 of network ns/a cannot be moved to network ns/b",
	}, {
		name: "a carried MAC moved to another interface of its network", before: carried, after: `[{"name":"a","interface":"eth1","mac":"02:00:00:00:00:00"}]`,
		wantCode: http.StatusUnprocessableEntity, wantMessage: "the MAC 02:00:00:00:00:00 of network ns/a cannot be moved to network ns/a@eth1",
	}, {
		name: "carried MACs swapped between networks", before: `[{"name":"a","mac":"02:00:00:00:00:00"},{"name":"b","mac":"02:00:00:00:00:09"}]`,
		after:    `[{"name":"a","mac":"02:00:00:00:00:09"},{"name":"b","mac":"02:00:00:00:00:00"}]`,
		wantCode: http.StatusUnprocessableEntity, wantMessage: "the MAC 02:00:00:00:00:00 of network ns/a cannot be moved to network ns/b",
	}, {
		name: "a network added with a MAC another object holds", before: carried, after: `[{"name":"a","mac":"02:00:00:00:00:00"},{"name":"b","mac":"02:00:00:00:00:05"}]`,
		wantCode: http.StatusConflict, wantMessage: "02:00:00:00:00:05",
	}, {
		// Attached before without a MAC: its CNI plugin chose one (a pod from
		// before this server); only the network added gets one.
		name: "a network attached before without a MAC is left so", before: `[{"name":"a"}]`, after: `[{"name":"a"},{"name":"b"}]`,
		wantMACs: []string{"", "02:00:00:00:00:01"}, wantLeased: []string{"02-00-00-00-00-01"},
	}, {
		name: "networks given to a pod that had none", before: "", after: `[{"name":"b"}]`,
		wantMACs: []string{"02:00:00:00:00:01"}, wantLeased: []string{"02-00-00-00-00-01"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ownLease := &v1alpha1.MacLease{
				ObjectMeta: metav1.ObjectMeta{Name: "02-00-00-00-00-00", Namespace: "ns",
					OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "p", UID: "pod-p"}}},
				Spec:   v1alpha1.MacLeaseSpec{MACAddress: "02:00:00:00:00:00", Owner: &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "p"}, Interface: "ns/a"},
				Status: v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseBound},
			}
			otherLease := &v1alpha1.MacLease{
				ObjectMeta: metav1.ObjectMeta{Name: "02-00-00-00-00-05", Namespace: "ns"},
				Spec:       v1alpha1.MacLeaseSpec{MACAddress: "02:00:00:00:00:05", Owner: &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "other"}},
				Status:     v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseBound},
			}
			service, client := newServiceWith(t, true, v1alpha1.MacPoolSpec{ConflictPolicy: v1alpha1.ConflictPolicyReject}, ownLease, otherLease)
			m := &Mutator{Allocations: service, MaxMACs: 8}
			response := m.Mutate(context.Background(), podUpdate(t, tt.before, tt.after))
			if tt.wantCode != 0 {
				if response.Allowed || response.Result.Code != tt.wantCode || !strings.Contains(response.Result.Message, tt.wantMessage) {
					t.Fatalf("response = %+v, want %d with %q", response.Result, tt.wantCode, tt.wantMessage)
				}
			} else if !response.Allowed {
				t.Fatalf("denied: %+v", response.Result)
			}
			switch {
			case tt.wantMACs == nil && response.Patch != nil:
				t.Errorf("patched %s, want no patch", response.Patch)
			case tt.wantMACs != nil:
				if got := patchedMACs(t, response.Patch); strings.Join(got, ",") != strings.Join(tt.wantMACs, ",") {
					t.Errorf("MACs = %v, want %v", got, tt.wantMACs)
				}
			}
			list, err := client.MacpoolV1alpha1().MacLeases("ns").List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var added []string
			for _, lease := range list.Items {
				if lease.Name != ownLease.Name && lease.Name != otherLease.Name {
					added = append(added, lease.Name)
					if lease.Spec.Owner == nil || lease.Spec.Owner.Name != "p" {
						t.Errorf("lease %s owned by %+v, want pod p", lease.Name, lease.Spec.Owner)
					}
				}
			}
			if strings.Join(added, ",") != strings.Join(tt.wantLeased, ",") {
				t.Errorf("leases added %v, want %v", added, tt.wantLeased)
			}
		})
	}
}

// Moving a carried MAC to another network is refused whatever the pools
// say, so the new network's pool cannot be skipped. Here pool "secure"
// serves network ns/b with conflictPolicy Reject and the default pool warns:
// a tenant gets the victim's MAC on network a with a warning, then moves it
// to network b, where asking for it would be refused. Before keepsCarriedMACs
// looked at networks, the move was admitted with no warning at all.
func TestMutateUpdateMovingAMACCannotSkipItsNewPool(t *testing.T) {
	const held = "0a:00:00:00:00:05"
	secure := &v1alpha1.MacPool{
		ObjectMeta: metav1.ObjectMeta{Name: "secure"},
		Spec: v1alpha1.MacPoolSpec{
			Ranges:          []v1alpha1.MACRange{{Start: "0a:00:00:00:00:00", End: "0a:00:00:00:00:ff"}},
			NetworkSelector: &v1alpha1.NetworkSelector{Networks: []v1alpha1.NetworkReference{{Namespace: "ns", Name: "b"}}},
			ConflictPolicy:  v1alpha1.ConflictPolicyReject,
		},
	}
	victim := heldBy(held, "victim")
	victim.Spec.Pool, victim.Spec.Interface = "secure", "ns/b"
	service, _ := newServiceWith(t, true, v1alpha1.MacPoolSpec{ConflictPolicy: v1alpha1.ConflictPolicyWarn}, secure, victim)
	m := &Mutator{Allocations: service, MaxMACs: 8}
	ctx := context.Background()

	if r := m.Mutate(ctx, podRequest(t, `[{"name":"b","mac":"`+held+`"}]`)); r.Allowed || r.Result.Code != http.StatusConflict {
		t.Fatalf("asking for the held MAC on network b: %+v, want 409 (Reject)", r.Result)
	}
	if r := m.Mutate(ctx, podRequest(t, `[{"name":"a","mac":"`+held+`"}]`)); !r.Allowed || len(r.Warnings) == 0 {
		t.Fatalf("asking for the held MAC on network a: allowed=%v warnings=%v, want a warning (Warn)", r.Allowed, r.Warnings)
	}
	r := m.Mutate(ctx, podUpdate(t, `[{"name":"a","mac":"`+held+`"}]`, `[{"name":"b","mac":"`+held+`"}]`))
	if r.Allowed || r.Result.Code != http.StatusUnprocessableEntity || !strings.Contains(r.Result.Message, "cannot be moved to network ns/b") {
		t.Fatalf("moving the held MAC from network a to network b, whose pool rejects it: allowed=%v %+v, want 422", r.Allowed, r.Result)
	}
}
