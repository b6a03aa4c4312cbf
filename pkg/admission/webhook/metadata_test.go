package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// metadataEcho answers with everything a pod mutator reads, as warnings,
// so that two answers differ whenever what it was given differs; Mutate
// decodes the object as the pod mutator does.
type metadataEcho struct{ fast, general int }

func (m *metadataEcho) Mutate(ctx context.Context, request *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	m.general++
	object := &metav1.PartialObjectMetadata{}
	if err := json.Unmarshal(request.Object.Raw, object); err != nil {
		return Deny(http.StatusBadRequest, "the object is not a Pod: %v", err)
	}
	return echo(request, object)
}

func (m *metadataEcho) MutateMetadata(ctx context.Context, request *admissionv1.AdmissionRequest, object *metav1.PartialObjectMetadata) *admissionv1.AdmissionResponse {
	m.fast++
	if len(request.Object.Raw) > 0 || request.Object.Object != nil {
		return Deny(http.StatusInternalServerError, "the object was decoded twice")
	}
	return echo(request, object)
}

func echo(request *admissionv1.AdmissionRequest, object *metav1.PartialObjectMetadata) *admissionv1.AdmissionResponse {
	// The object as the mutator reads it, not as it came.
	copied := *request
	copied.Object = runtime.RawExtension{}
	seen, _ := json.Marshal(struct {
		Request admissionv1.AdmissionRequest
		Object  *metav1.PartialObjectMetadata
	}{copied, object})
	warnings := []string{string(seen)}
	for key, value := range object.Annotations {
		warnings = append(warnings, key+"="+value)
	}
	sort.Strings(warnings[1:])
	return Allow(nil, warnings)
}

// generalOnly hides MutateMetadata: the handler then always takes the
// general path, the reference for the shortcut.
type generalOnly struct{ Mutator }

// FuzzMetadataShortcut checks that, for any body, the handler answers a
// MetadataMutator exactly as it answers the same mutator without the
// shortcut: same status, same bytes.
func FuzzMetadataShortcut(f *testing.F) {
	for _, seed := range metadataSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		fast, general := serve(&metadataEcho{}, body), serve(generalOnly{&metadataEcho{}}, body)
		if fast.Code != general.Code || fast.Body.String() != general.Body.String() {
			t.Fatalf("body %q:\nshortcut %d %s\ngeneral  %d %s", body, fast.Code, fast.Body, general.Code, general.Body)
		}
	})
}

func serve(mutator Mutator, body string) *httptest.ResponseRecorder {
	request := httptest.NewRequest(http.MethodPost, "/mutate-pods", strings.NewReader(body))
	request.Header.Set("Content-Type", "application/json")
	recorder := httptest.NewRecorder()
	Handler(mutator, nil).ServeHTTP(recorder, request)
	return recorder
}

// podReview is a review of a pod whose object is written as object.
func podReview(object string) string {
	return `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},` +
		`"resource":{"group":"","version":"v1","resource":"pods"},"namespace":"ns","operation":"CREATE","userInfo":{"username":"system:serviceaccount:kube-system:replicaset-controller"},` +
		`"object":` + object + `,"oldObject":null,"dryRun":false,"options":{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"}}}`
}

const plainPod = `{"kind":"Pod","apiVersion":"v1","metadata":{"generateName":"web-","namespace":"ns","labels":{"app":"web"},` +
	`"annotations":{"k8s.v1.cni.cncf.io/networks":"[{\"name\":\"net1\"}]","x":"\u003cb\u003e"},` +
	`"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"r1","controller":true}]},` +
	`"spec":{"containers":[{"name":"app","image":"app:v1","env":[{"name":"A","value":"1"}]}]},"status":{}}`

var metadataSeeds = []string{
	podReview(plainPod),
	podReview(`null`),
	podReview(`{}`),
	podReview(`"pod"`),
	podReview(`{"metadata":{"annotations":{"a":1}}}`),
	podReview(`{"metadata":{"name":"a"},"metadata":{"annotations":{"b":"c"}}}`),
	strings.Replace(podReview(plainPod), `"oldObject":null`, `"object":{"metadata":{"name":"second"}}`, 1),
	strings.Replace(podReview(plainPod), `"oldObject":null`, `"OBJECT":{"metadata":{"name":"second"}}`, 1),
	strings.Replace(podReview(plainPod), `"oldObject":null`, `"\u006fbject":{"metadata":{"name":"second"}}`, 1),
	strings.Replace(podReview(plainPod), `"object":`, `"Object":`, 1),
	strings.Replace(podReview(plainPod), `"object":`, `"ob\u006Aect":`, 1),
	strings.Replace(podReview(plainPod), `"uid":"u1"`, `"uid":""`, 1),
	strings.Replace(podReview(plainPod), `"operation":"CREATE"`, `"operation":"DELETE"`, 1),
	strings.Replace(podReview(plainPod), `admission.k8s.io/v1`, `admission.k8s.io/v1beta1`, 1),
	strings.Replace(podReview(plainPod), `"userInfo":{`, `"userInfo":{"groups":5,`, 1),
	podReview(plainPod) + `x`,
	`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","operation":"CREATE"},"request":{"object":{"metadata":{"name":"p"}}}}`,
	`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","object":{"metadata":{"name":"p"}}},"request":null}`,
	`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","object":{},"request":{"uid":"u1"}}`,
	`[]`, ``, `{`,
}

// The shortcut is taken for what kube-apiserver sends, and declined for
// what it could read differently.
func TestMetadataShortcutIsTaken(t *testing.T) {
	tests := []struct {
		name string
		body string
		fast bool
	}{
		{"a pod review", podReview(plainPod), true},
		{"a null object", podReview(`null`), false},
		{"an object named twice", metadataSeeds[6], false},
		{"an object named twice in another case", metadataSeeds[7], false},
		{"an escape that spells a letter of object", metadataSeeds[8], false},
		{"a review with an error", metadataSeeds[14], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &metadataEcho{}
			serve(m, tt.body)
			if (m.fast == 1) != tt.fast || m.fast+m.general > 1 {
				t.Fatalf("shortcut %d, general path %d; want the shortcut: %v", m.fast, m.general, tt.fast)
			}
		})
	}
}

func TestObjectNamedOnce(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{`{"object":{}}`, true},
		{`{"OBJECT":{}}`, true},
		{`{"oldObject":{},"object":{}}`, true},
		{`{"object":{},"object":{}}`, false},
		{`{"object":{},"x":"object"}`, false},
		{`{"object":{},"x":"\"object\""}`, true},
		{`{"x":{}}`, false},
		{`{"object":{},"x":"\u0041"}`, true},
		{`{"object":{},"x":"\u0062"}`, false},
		{`{"object":{},"x":"\u004A"}`, false},
		{`"object"`, true},
		{`"object`, false},
	}
	for _, tt := range tests {
		if got := objectNamedOnce([]byte(tt.body)); got != tt.want {
			t.Errorf("objectNamedOnce(%s) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

func ExampleMetadataMutator() {
	m := &metadataEcho{}
	serve(m, podReview(plainPod))
	fmt.Println(m.fast, m.general)
	// Output: 1 0
}
