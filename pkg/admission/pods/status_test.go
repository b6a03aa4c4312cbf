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

// The status subresource of a Pod writes its annotations too (kube-apiserver
// resets only the spec, the deletion timestamp and the owner references of
// a pods/status update): a kubelet, multus's ServiceAccount, or anybody
// granted pods/status could drop a MAC from a running Pod's networks
// annotation there. The lease controller would release it while the Pod's
// interface still has it, and the allocator hand it to another tenant.
// Such an update is judged as one of the Pod itself; before, it was allowed
// unseen.
func TestMutateStatusUpdate(t *testing.T) {
	const carried = `[{"name":"a","mac":"02:00:00:00:00:00"}]`
	ownLease := &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: "02-00-00-00-00-00", Namespace: "ns",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "p", UID: "pod-p"}}},
		Spec:   v1alpha1.MacLeaseSpec{MACAddress: "02:00:00:00:00:00", Owner: &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "p"}, Interface: "ns/a"},
		Status: v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseBound},
	}
	service, client := newServiceWith(t, true, v1alpha1.MacPoolSpec{ConflictPolicy: v1alpha1.ConflictPolicyReject}, ownLease)
	m := &Mutator{Allocations: service, MaxMACs: 8}
	ctx := context.Background()

	for _, after := range []string{`[{"name":"a"}]`, ""} {
		request := podUpdate(t, carried, after)
		request.SubResource = "status"
		r := m.Mutate(ctx, request)
		if r.Allowed || r.Result.Code != http.StatusUnprocessableEntity || !strings.Contains(r.Result.Message, "cannot be removed or changed") {
			t.Errorf("a status update that drops the carried MAC (networks %q): allowed=%v %+v, want 422", after, r.Allowed, r.Result)
		}
	}

	request := podUpdate(t, carried, `[{"name":"a","mac":"02:00:00:00:00:00"},{"name":"b"}]`)
	request.SubResource = "status"
	r := m.Mutate(ctx, request)
	if !r.Allowed {
		t.Fatalf("a status update that adds a network: %+v", r.Result)
	}
	if got := patchedMACs(t, r.Patch); strings.Join(got, ",") != "02:00:00:00:00:00,02:00:00:00:00:01" {
		t.Errorf("a network added through the status subresource got MACs %v, want the carried one and a leased one", got)
	}
	if _, err := client.MacpoolV1alpha1().MacLeases("ns").Get(ctx, "02-00-00-00-00-01", metav1.GetOptions{}); err != nil {
		t.Errorf("the MAC of the network added through the status subresource is not leased: %v", err)
	}

	// Any other subresource is not the Pod's metadata: left alone.
	request = podUpdate(t, carried, `[{"name":"a"}]`)
	request.SubResource = "ephemeralcontainers"
	if r := m.Mutate(ctx, request); !r.Allowed || r.Patch != nil {
		t.Errorf("an ephemeralcontainers update: allowed=%v patch=%s, want allowed untouched (kube-apiserver keeps the stored metadata)", r.Allowed, r.Patch)
	}
}

// A Binding merges its annotations into the pending Pod it binds, with no
// Pod admission: one that sets the networks annotation is refused, any other
// is left alone. Before, it replaced the Pod's networks and MACs unseen.
// kube-apiserver serves Bindings twice, as the pods/binding subresource and
// as the namespaced bindings resource (POST .../namespaces/NS/bindings), the
// same BindingREST behind both: either route is refused, whether the
// handler decodes the object itself (Mutate) or with the review
// (MutateMetadata).
func TestMutateBinding(t *testing.T) {
	service, _ := newServiceWith(t, true, v1alpha1.MacPoolSpec{ConflictPolicy: v1alpha1.ConflictPolicyReject})
	m := &Mutator{Allocations: service, MaxMACs: 8}
	routes := []struct {
		name        string
		resource    string
		subresource string
	}{
		{name: "pods/binding", resource: "pods", subresource: "binding"},
		{name: "bindings", resource: "bindings"},
	}
	for _, route := range routes {
		t.Run(route.name, func(t *testing.T) {
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
					Kind:        metav1.GroupVersionKind{Version: "v1", Kind: "Binding"},
					Resource:    metav1.GroupVersionResource{Version: "v1", Resource: route.resource},
					SubResource: route.subresource,
					Object:      runtime.RawExtension{Raw: raw},
				}
			}
			sets := request(map[string]string{multus.NetworksAnnotation: `[{"name":"a","mac":"02:00:00:00:00:05"}]`})
			r := m.Mutate(context.Background(), sets)
			if r.Allowed || r.Result.Code != http.StatusUnprocessableEntity || !strings.Contains(r.Result.Message, "a Binding may not set a Pod's networks") {
				t.Errorf("a binding that sets the networks annotation: allowed=%v %+v, want 422", r.Allowed, r.Result)
			}
			object := &metav1.PartialObjectMetadata{}
			if err := json.Unmarshal(sets.Object.Raw, object); err != nil {
				t.Fatal(err)
			}
			if r := m.MutateMetadata(context.Background(), sets, object); r.Allowed {
				t.Errorf("a binding that sets the networks annotation, decoded with the review: allowed, want 422")
			}
			for _, annotations := range []map[string]string{nil, {"example.com/other": "x"}} {
				if r := m.Mutate(context.Background(), request(annotations)); !r.Allowed || r.Patch != nil {
					t.Errorf("a binding with annotations %v: allowed=%v %+v, want allowed untouched", annotations, r.Allowed, r.Result)
				}
			}
		})
	}
}
