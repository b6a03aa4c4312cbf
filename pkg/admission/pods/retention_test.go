package pods

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/multus"
	"kubemacpool.io/kubemacpool/pkg/retention"
)

// namedPodRequest is a CREATE of a pod called name (generateName when name
// is empty) with the given annotations.
func namedPodRequest(t *testing.T, name string, annotations map[string]string) *admissionv1.AdmissionRequest {
	t.Helper()
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Annotations: annotations},
	}
	if name == "" {
		pod.GenerateName = "p"
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	return &admissionv1.AdmissionRequest{
		UID: "request-1", Operation: admissionv1.Create, Namespace: "ns",
		Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Object: runtime.RawExtension{Raw: raw},
	}
}

// A pod created again under the name of a deleted one gets the MAC its
// namespace retains for that network; a generated name does not, and a
// malformed mac-retention annotation is denied naming it.
func TestMutateReclaimsRetainedMAC(t *testing.T) {
	until := metav1.NewTime(time.Now().Add(time.Hour))
	retained := &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: "02-00-00-00-00-01", Namespace: "ns"},
		Spec: v1alpha1.MacLeaseSpec{MACAddress: "02:00:00:00:00:01", Pool: macpool.DefaultPoolName, Interface: "ns/br1",
			Owner: &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "p"}},
		Status: v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseRetained, ExpiresAt: &until},
	}
	networks := map[string]string{multus.NetworksAnnotation: `[{"name":"br1"}]`}
	tests := []struct {
		name        string
		podName     string
		annotations map[string]string
		wantMAC     string
		wantCode    int32
	}{
		{name: "the same name and network", podName: "p", annotations: networks, wantMAC: "02:00:00:00:00:01"},
		{name: "a generated name", podName: "", annotations: networks, wantMAC: "02:00:00:00:00:00"},
		{name: "a malformed mac-retention annotation", podName: "p", wantCode: http.StatusUnprocessableEntity,
			annotations: map[string]string{multus.NetworksAnnotation: `[{"name":"br1"}]`, retention.ObjectAnnotation: "forever"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			service, client := newServiceWith(t, true, v1alpha1.MacPoolSpec{}, retained)
			m := &Mutator{Allocations: service}
			response := m.Mutate(context.Background(), namedPodRequest(t, tt.podName, tt.annotations))
			if tt.wantCode != 0 {
				if response.Allowed || response.Result.Code != tt.wantCode || !strings.Contains(response.Result.Message, retention.ObjectAnnotation) {
					t.Fatalf("response = %+v, want %d naming the annotation", response.Result, tt.wantCode)
				}
				return
			}
			if !response.Allowed {
				t.Fatalf("denied: %+v", response.Result)
			}
			if got := patchedMACs(t, response.Patch); len(got) != 1 || got[0] != tt.wantMAC {
				t.Fatalf("MACs = %v, want %s", got, tt.wantMAC)
			}
			lease, err := client.MacpoolV1alpha1().MacLeases("ns").Get(context.Background(), retained.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			wantPhase := v1alpha1.MacLeasePhaseRetained
			if tt.wantMAC == retained.Spec.MACAddress {
				wantPhase = v1alpha1.MacLeasePhaseReserved
			}
			if lease.Status.Phase != wantPhase {
				t.Errorf("retained lease is %s, want %s", lease.Status.Phase, wantPhase)
			}
		})
	}
}
