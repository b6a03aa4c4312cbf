package pods

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"kubemacpool.io/kubemacpool/pkg/multus"
)

// networksList is a networks annotation with n distinct networks.
func networksList(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf(`{"name":"net%d"}`, i)
	}
	return "[" + strings.Join(names, ",") + "]"
}

func TestTooManyNetworks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		networks int
		limit    int
		denied   bool
	}{
		{name: "none", networks: 0, limit: 32},
		{name: "one", networks: 1, limit: 32},
		{name: "at the limit", networks: 32, limit: 32},
		{name: "one above", networks: 33, limit: 32, denied: true},
		{name: "far above", networks: 1000, limit: 32, denied: true},
		{name: "limit of one", networks: 2, limit: 1, denied: true},
		{name: "no limit", networks: 1000, limit: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			networks, err := multus.Parse(networksList(tc.networks), "ns")
			if err != nil {
				t.Fatal(err)
			}
			response := tooManyNetworks(networks, tc.limit)
			if !tc.denied {
				if response != nil {
					t.Fatalf("denied: %v", response.Result)
				}
				return
			}
			if response == nil || response.Allowed {
				t.Fatal("allowed")
			}
			want := fmt.Sprintf("metadata.annotations[k8s.v1.cni.cncf.io/networks]: %d networks exceed the limit of %d MAC addresses per object (--max-macs-per-object)", tc.networks, tc.limit)
			if response.Result.Code != http.StatusUnprocessableEntity || response.Result.Message != want {
				t.Errorf("got %d %q, want 422 %q", response.Result.Code, response.Result.Message, want)
			}
		})
	}
}

// TestMutateChecksTheLimitFirst: the mutator has no allocation service, so
// reaching any allocation would panic; the denial must come before.
func TestMutateChecksTheLimitFirst(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "many", Annotations: map[string]string{
		multus.NetworksAnnotation: networksList(33)}}}
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	response := (&Mutator{MaxMACs: 32}).Mutate(context.Background(), &admissionv1.AdmissionRequest{
		Operation: admissionv1.Create, Namespace: "ns",
		Kind:   metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Object: runtime.RawExtension{Raw: raw},
	})
	if response.Allowed || response.Result.Code != http.StatusUnprocessableEntity || !strings.Contains(response.Result.Message, "limit of 32") {
		t.Errorf("got %+v", response.Result)
	}
}
