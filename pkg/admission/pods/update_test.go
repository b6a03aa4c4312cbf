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
