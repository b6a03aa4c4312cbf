package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/types"
)

// echoMutator allows everything with a fixed patch, so a test can tell
// that a request got through to the mutator.
type echoMutator struct{ called int }

func (m *echoMutator) Mutate(ctx context.Context, request *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	m.called++
	return Allow([]byte(`[{"op":"add","path":"/x","value":1}]`), []string{"careful"})
}

func review(apiVersion, kind, uid string) string {
	body, _ := json.Marshal(map[string]interface{}{
		"apiVersion": apiVersion,
		"kind":       kind,
		"request":    map[string]interface{}{"uid": uid, "operation": "CREATE"},
	})
	return string(body)
}

func TestHandlerRefusesAnythingButAnAdmissionReview(t *testing.T) {
	valid := review("admission.k8s.io/v1", "AdmissionReview", "1234")
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		wantStatus  int
		wantText    string
	}{
		{name: "GET", method: http.MethodGet, contentType: "application/json", body: valid, wantStatus: http.StatusMethodNotAllowed, wantText: "POST"},
		{name: "form post", method: http.MethodPost, contentType: "application/x-www-form-urlencoded", body: valid, wantStatus: http.StatusUnsupportedMediaType},
		{name: "no content type", method: http.MethodPost, body: valid, wantStatus: http.StatusUnsupportedMediaType},
		{name: "not JSON", method: http.MethodPost, contentType: "application/json", body: "<xml/>", wantStatus: http.StatusBadRequest, wantText: "not an AdmissionReview"},
		{name: "other kind", method: http.MethodPost, contentType: "application/json", body: review("admission.k8s.io/v1", "Pod", "1"), wantStatus: http.StatusBadRequest, wantText: `kind "Pod"`},
		{name: "v1beta1", method: http.MethodPost, contentType: "application/json", body: review("admission.k8s.io/v1beta1", "AdmissionReview", "1"), wantStatus: http.StatusBadRequest, wantText: "admission.k8s.io/v1beta1"},
		{name: "no request", method: http.MethodPost, contentType: "application/json", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, wantStatus: http.StatusBadRequest, wantText: "no request"},
		{name: "no uid", method: http.MethodPost, contentType: "application/json", body: review("admission.k8s.io/v1", "AdmissionReview", ""), wantStatus: http.StatusBadRequest, wantText: "UID"},
		{name: "oversized", method: http.MethodPost, contentType: "application/json", body: `{"apiVersion":"` + strings.Repeat("x", maxReviewBytes) + `"}`, wantStatus: http.StatusRequestEntityTooLarge},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			mutator := &echoMutator{}
			request := httptest.NewRequest(test.method, "/mutate-pods", strings.NewReader(test.body))
			if test.contentType != "" {
				request.Header.Set("Content-Type", test.contentType)
			}
			recorder := httptest.NewRecorder()
			Handler(mutator, nil).ServeHTTP(recorder, request)
			if recorder.Code != test.wantStatus {
				t.Fatalf("status = %d, want %d; body %q", recorder.Code, test.wantStatus, recorder.Body.String())
			}
			if !strings.Contains(recorder.Body.String(), test.wantText) {
				t.Errorf("body %q does not say %q", recorder.Body.String(), test.wantText)
			}
			if mutator.called != 0 {
				t.Errorf("the mutator was called for a refused request")
			}
		})
	}
}

func TestHandlerAnswersWithTheRequestUIDAndThePatch(t *testing.T) {
	mutator := &echoMutator{}
	var observed *admissionv1.AdmissionResponse
	handler := Handler(mutator, func(_ *admissionv1.AdmissionRequest, response *admissionv1.AdmissionResponse, _ time.Duration) {
		observed = response
	})
	request := httptest.NewRequest(http.MethodPost, "/mutate-pods", strings.NewReader(review("admission.k8s.io/v1", "AdmissionReview", "abc-123")))
	request.Header.Set("Content-Type", "application/json; charset=utf-8")
	recorder := httptest.NewRecorder()
	handler.ServeHTTP(recorder, request)

	if recorder.Code != http.StatusOK {
		t.Fatalf("status = %d: %s", recorder.Code, recorder.Body.String())
	}
	var answer admissionv1.AdmissionReview
	if err := json.Unmarshal(recorder.Body.Bytes(), &answer); err != nil {
		t.Fatalf("answer is not an AdmissionReview: %v", err)
	}
	if answer.APIVersion != "admission.k8s.io/v1" || answer.Kind != "AdmissionReview" {
		t.Errorf("answer type = %s %s", answer.APIVersion, answer.Kind)
	}
	response := answer.Response
	if response == nil || response.UID != types.UID("abc-123") || !response.Allowed {
		t.Fatalf("response = %+v, want allowed with UID abc-123", response)
	}
	if response.PatchType == nil || *response.PatchType != admissionv1.PatchTypeJSONPatch || string(response.Patch) == "" {
		t.Errorf("patch = %q (%v), want a JSON patch", response.Patch, response.PatchType)
	}
	if len(response.Warnings) != 1 || observed == nil || observed.UID != "abc-123" {
		t.Errorf("warnings %v, observed %+v", response.Warnings, observed)
	}
}

// slowMutator takes delay to decide, as one that waits on etcd would.
type slowMutator struct{ delay time.Duration }

func (m slowMutator) Mutate(ctx context.Context, request *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	time.Sleep(m.delay)
	return Allow(nil, nil)
}

// The latency histogram must cover the decision, not only the decoding.
func TestHandlerObservesTheTimeToDecide(t *testing.T) {
	const delay = 30 * time.Millisecond
	var elapsed time.Duration
	observed := 0
	handler := Handler(slowMutator{delay: delay}, func(_ *admissionv1.AdmissionRequest, _ *admissionv1.AdmissionResponse, took time.Duration) {
		elapsed = took
		observed++
	})
	request := httptest.NewRequest(http.MethodPost, "/mutate-pods", strings.NewReader(review("admission.k8s.io/v1", "AdmissionReview", "abc-123")))
	request.Header.Set("Content-Type", "application/json")
	recorder := httptest.NewRecorder()
	handler.ServeHTTP(recorder, request)

	if recorder.Code != http.StatusOK {
		t.Fatalf("status = %d: %s", recorder.Code, recorder.Body.String())
	}
	if observed != 1 || elapsed < delay {
		t.Errorf("observed %d time(s), elapsed %s; want once, at least %s", observed, elapsed, delay)
	}
}

func TestDenyIsAClientErrorWithAMessage(t *testing.T) {
	response := Deny(http.StatusUnprocessableEntity, "spec.%s: %s", "x", "bad")
	if response.Allowed || response.Result.Code != 422 || response.Result.Message != "spec.x: bad" {
		t.Fatalf("Deny = %+v", response.Result)
	}
}

// readBody reads the whole body whatever its declared length: exact,
// understated, overstated, unknown, or beyond the presize limit.
func TestReadBody(t *testing.T) {
	long := strings.Repeat("x", presizeLimit+1000)
	tests := []struct {
		name     string
		body     string
		declared int64
	}{
		{"exact", "abc", 3},
		{"unknown", "abc", -1},
		{"zero declared", "abc", 0},
		{"understated", long, 10},
		{"overstated", "abc", 1 << 30},
		{"beyond the presize limit", long, int64(len(long))},
		{"empty", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBody(strings.NewReader(tt.body), tt.declared)
			if err != nil || string(got) != tt.body {
				t.Fatalf("readBody = %d bytes, %v; want the %d bytes", len(got), err, len(tt.body))
			}
			if tt.declared > int64(len(tt.body)) && cap(got) > presizeLimit+bytes.MinRead {
				t.Fatalf("allocated %d bytes on the word of the header", cap(got))
			}
		})
	}
}
