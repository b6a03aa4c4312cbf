package bench

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// floorLabel selects the namespace whose Pods and VirtualMachines go to the
// floor webhook instead of kubemacpool-apiserver's.
const floorLabel = "bench.kubemacpool.io/floor"

// floorWebhook is the cheapest mutating webhook that gives a Pod's networks
// and a VirtualMachine's interfaces a MAC: it counts from memory, writes
// nothing, checks no caller and runs in the benchmark's own process. No MAC
// allocator can cost kube-apiserver less than such a call, so the rate it
// keeps of the baseline (floor-%-of-base) is the most any webhook keeps on
// the machine of that run, as raw etcd is the limit of BenchmarkLeaseCreate.
// It serves over TLS and HTTP/2, as kubemacpool-apiserver does.
type floorWebhook struct {
	server *httptest.Server
	next   atomic.Uint64
}

// startFloorWebhook serves the floor webhook on loopback until the process
// ends and registers it with kube-apiserver for the namespaces labelled
// floorLabel.
func startFloorWebhook(ctx context.Context, kube kubernetes.Interface) (*floorWebhook, error) {
	f := &floorWebhook{}
	mux := http.NewServeMux()
	mux.HandleFunc("/pods", func(w http.ResponseWriter, r *http.Request) { f.serve(w, r, podPatch) })
	mux.HandleFunc("/virtualmachines", func(w http.ResponseWriter, r *http.Request) { f.serve(w, r, vmPatch) })
	f.server = httptest.NewUnstartedServer(mux)
	f.server.EnableHTTP2 = true
	f.server.StartTLS()
	caBundle := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.server.Certificate().Raw})

	webhook := func(name, path, group, resource string) admissionregistrationv1.MutatingWebhook {
		url := f.server.URL + path
		fail, none, timeout := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone, int32(10)
		return admissionregistrationv1.MutatingWebhook{
			Name:                    name,
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caBundle},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: []string{resource}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{floorLabel: "true"}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
		}
	}
	configuration := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-floor"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{
			webhook("floor-pods.bench.kubemacpool.io", "/pods", "", "pods"),
			webhook("floor-virtualmachines.bench.kubemacpool.io", "/virtualmachines", "kubevirt.io", "virtualmachines"),
		},
	}
	if _, err := kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, configuration, metav1.CreateOptions{}); err != nil {
		f.server.Close()
		return nil, fmt.Errorf("registering the floor webhook: %w", err)
	}
	return f, nil
}

// jsonPatchOp is one operation of an RFC 6902 JSON patch.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// serve answers one AdmissionReview with the patch that patch makes of its
// object; a review it cannot read is denied, so that a broken floor fails
// the benchmark instead of measuring nothing.
func (f *floorWebhook) serve(w http.ResponseWriter, r *http.Request, patch func(object []byte, next func() string) ([]jsonPatchOp, error)) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, fmt.Sprintf("reading the AdmissionReview: %v", err), http.StatusBadRequest)
		return
	}
	response := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	operations, err := patch(review.Request.Object.Raw, f.mac)
	if err != nil {
		response.Allowed = false
		response.Result = &metav1.Status{Message: err.Error(), Code: http.StatusBadRequest}
	} else if len(operations) > 0 {
		if response.Patch, err = json.Marshal(operations); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		patchType := admissionv1.PatchTypeJSONPatch
		response.PatchType = &patchType
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: response})
}

// mac is the next MAC of the floor's own range, 0e:fe:...
func (f *floorWebhook) mac() string { return macAddress(0x0e, int(0xfe<<32|f.next.Add(1))) }

// podPatch gives every network of the multus annotation a MAC.
func podPatch(object []byte, next func() string) ([]jsonPatchOp, error) {
	var pod struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(object, &pod); err != nil {
		return nil, fmt.Errorf("reading the pod: %w", err)
	}
	value, ok := pod.Metadata.Annotations[networksAnnotation]
	if !ok {
		return nil, nil
	}
	var networks []map[string]any
	if err := json.Unmarshal([]byte(value), &networks); err != nil {
		return nil, fmt.Errorf("annotation %s: %w", networksAnnotation, err)
	}
	for _, network := range networks {
		network["mac"] = next()
	}
	annotation, err := json.Marshal(networks)
	if err != nil {
		return nil, err
	}
	path := "/metadata/annotations/" + strings.ReplaceAll(networksAnnotation, "/", "~1")
	return []jsonPatchOp{{Op: "replace", Path: path, Value: string(annotation)}}, nil
}

// vmPatch gives every interface of a VirtualMachine's template a MAC.
func vmPatch(object []byte, next func() string) ([]jsonPatchOp, error) {
	var vm struct {
		Spec struct {
			Template struct {
				Spec struct {
					Domain struct {
						Devices struct {
							Interfaces []json.RawMessage `json:"interfaces"`
						} `json:"devices"`
					} `json:"domain"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(object, &vm); err != nil {
		return nil, fmt.Errorf("reading the virtual machine: %w", err)
	}
	var operations []jsonPatchOp
	for i := range vm.Spec.Template.Spec.Domain.Devices.Interfaces {
		operations = append(operations, jsonPatchOp{Op: "add", Path: fmt.Sprintf("/spec/template/spec/domain/devices/interfaces/%d/macAddress", i), Value: next()})
	}
	return operations, nil
}
