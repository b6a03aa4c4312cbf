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

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/multus"
)

// kube-apiserver serves Bindings twice: as the pods/binding subresource and
// as the namespaced bindings resource (POST .../namespaces/NS/bindings), the
// same BindingREST behind both, which merges the Binding's annotations into
// the pending Pod. The create of a bindings resource that sets the networks
// annotation is refused too: otherwise whoever may bind pods (a custom
// scheduler) replaced a Pod's admitted networks and MACs by that path.
func TestMutateLegacyBinding(t *testing.T) {
	service, _ := newServiceWith(t, true, v1alpha1.MacPoolSpec{ConflictPolicy: v1alpha1.ConflictPolicyReject})
	m := &Mutator{Allocations: service, MaxMACs: 8}
	request := func(annotations map[string]string) *admissionv1.AdmissionRequest {
		raw, err := json.Marshal(&corev1.Binding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Binding"},
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Annotations: annotations},
			Target:     corev1.ObjectReference{Kind: "Node", Name: "node-1"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return &admissionv1.AdmissionRequest{
			UID: "bind-1", Operation: admissionv1.Create, Namespace: "ns", Name: "p",
			Kind:     metav1.GroupVersionKind{Version: "v1", Kind: "Binding"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "bindings"},
			Object:   runtime.RawExtension{Raw: raw},
		}
	}
	sets := request(map[string]string{multus.NetworksAnnotation: `[{"name":"a","mac":"02:00:00:00:00:05"}]`})
	if r := m.Mutate(context.Background(), sets); r.Allowed || r.Result.Code != http.StatusUnprocessableEntity || !strings.Contains(r.Result.Message, "a Binding may not set a Pod's networks") {
		t.Errorf("a bindings create that sets the networks annotation: allowed=%v %+v, want 422", r.Allowed, r.Result)
	}
	object := &metav1.PartialObjectMetadata{}
	if err := json.Unmarshal(sets.Object.Raw, object); err != nil {
		t.Fatal(err)
	}
	if r := m.MutateMetadata(context.Background(), sets, object); r.Allowed {
		t.Errorf("a bindings create that sets the networks annotation, decoded with the review: allowed, want 422")
	}
	if r := m.Mutate(context.Background(), request(map[string]string{"example.com/other": "x"})); !r.Allowed || r.Patch != nil {
		t.Errorf("a bindings create without networks: allowed=%v %+v, want allowed untouched", r.Allowed, r.Result)
	}
}
