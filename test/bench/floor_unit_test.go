package bench

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// review sends object through the floor webhook's handler for patch and
// returns the HTTP status and the response.
func review(t *testing.T, f *floorWebhook, patch func([]byte, func() string) ([]jsonPatchOp, error), body []byte) (int, *admissionv1.AdmissionResponse) {
	t.Helper()
	recorder := httptest.NewRecorder()
	f.serve(recorder, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)), patch)
	if recorder.Code != http.StatusOK {
		return recorder.Code, nil
	}
	var answer admissionv1.AdmissionReview
	if err := json.Unmarshal(recorder.Body.Bytes(), &answer); err != nil {
		t.Fatalf("decoding the answer %s: %v", recorder.Body, err)
	}
	return recorder.Code, answer.Response
}

func reviewOf(t *testing.T, object string) []byte {
	t.Helper()
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  &admissionv1.AdmissionRequest{UID: types.UID("r-1"), Object: runtime.RawExtension{Raw: []byte(object)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// The floor webhook gives every network and interface its own MAC through a
// patch kube-apiserver can apply, leaves objects without networks alone, and
// denies what it cannot read, so that a broken floor fails the benchmark.
func TestFloorWebhook(t *testing.T) {
	pod := `{"metadata":{"name":"p","annotations":{"k8s.v1.cni.cncf.io/networks":"[{\"name\":\"br1\"},{\"name\":\"br2\"}]"}}}`
	vm := `{"spec":{"template":{"spec":{"domain":{"devices":{"interfaces":[{"name":"default"},{"name":"red"}]}}}}}}`
	cases := []struct {
		name   string
		patch  func([]byte, func() string) ([]jsonPatchOp, error)
		body   []byte
		status int
		denied bool
		// macs are the addresses the patched object must carry, in
		// order; nil means no patch.
		macs []string
	}{
		{name: "a pod on two networks", patch: podPatch, body: reviewOf(t, pod), status: http.StatusOK, macs: []string{"0e:fe:00:00:00:01", "0e:fe:00:00:00:02"}},
		{name: "a pod without networks", patch: podPatch, body: reviewOf(t, `{"metadata":{"name":"p"}}`), status: http.StatusOK},
		{name: "a pod whose networks are not a list", patch: podPatch, body: reviewOf(t, `{"metadata":{"annotations":{"k8s.v1.cni.cncf.io/networks":"br1"}}}`), status: http.StatusOK, denied: true},
		{name: "a VM with two interfaces", patch: vmPatch, body: reviewOf(t, vm), status: http.StatusOK, macs: []string{"0e:fe:00:00:00:01", "0e:fe:00:00:00:02"}},
		{name: "a VM without interfaces", patch: vmPatch, body: reviewOf(t, `{"spec":{}}`), status: http.StatusOK},
		{name: "a VM that is not an object", patch: vmPatch, body: reviewOf(t, `[1]`), status: http.StatusOK, denied: true},
		{name: "a body that is no review", patch: podPatch, body: []byte(`{`), status: http.StatusBadRequest},
		{name: "a review without a request", patch: podPatch, body: []byte(`{"kind":"AdmissionReview"}`), status: http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, response := review(t, &floorWebhook{}, c.patch, c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d", status, c.status)
			}
			if response == nil {
				return
			}
			if response.UID != "r-1" {
				t.Errorf("response UID %q, want the request's", response.UID)
			}
			if response.Allowed == c.denied {
				t.Fatalf("allowed %v, want %v (result %v)", response.Allowed, !c.denied, response.Result)
			}
			if c.macs == nil {
				if response.Patch != nil {
					t.Errorf("patch %s, want none", response.Patch)
				}
				return
			}
			patch, err := jsonpatch.DecodePatch(response.Patch)
			if err != nil {
				t.Fatalf("patch %s: %v", response.Patch, err)
			}
			var request admissionv1.AdmissionReview
			if err := json.Unmarshal(c.body, &request); err != nil {
				t.Fatal(err)
			}
			patched, err := patch.Apply(request.Request.Object.Raw)
			if err != nil {
				t.Fatalf("applying %s: %v", response.Patch, err)
			}
			text := string(patched)
			last := -1
			for _, mac := range c.macs {
				at := strings.Index(text, mac)
				if at <= last {
					t.Errorf("patched object %s: want %s after the MACs before it", text, mac)
				}
				last = at
			}
		})
	}
}
