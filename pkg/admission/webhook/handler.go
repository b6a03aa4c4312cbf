package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// maxReviewBytes bounds a review: kube-apiserver refuses objects over 3 MiB,
// and a review carries the object and, on UPDATE, the old object.
const maxReviewBytes = 7 << 20

// Mutator answers one admission request.
type Mutator interface {
	Mutate(ctx context.Context, request *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse
}

// Observer is told the outcome of every review and how long the answer
// took, from the start of reading the review to the decision, for metrics.
type Observer func(request *admissionv1.AdmissionRequest, response *admissionv1.AdmissionResponse, elapsed time.Duration)

// Handler serves mutator over HTTP.
func Handler(mutator Mutator, observe Observer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		body, status, err := readRequest(w, r)
		if err != nil {
			klog.V(2).InfoS("Refusing a webhook request", "path", r.URL.Path, "err", err)
			http.Error(w, err.Error(), status)
			return
		}
		var (
			typeMeta metav1.TypeMeta
			request  *admissionv1.AdmissionRequest
			response *admissionv1.AdmissionResponse
		)
		metadataMutator, metadataOnly := mutator.(MetadataMutator)
		if review, ok := metadataReviewOf(body, metadataOnly); ok {
			typeMeta, request = review.TypeMeta, &review.Request.AdmissionRequest
			response = metadataMutator.MutateMetadata(r.Context(), request, review.Request.Object)
		} else {
			review, status, err := decodeReview(body)
			if err != nil {
				klog.V(2).InfoS("Refusing a webhook request", "path", r.URL.Path, "err", err)
				http.Error(w, err.Error(), status)
				return
			}
			typeMeta, request = review.TypeMeta, review.Request
			response = mutator.Mutate(r.Context(), request)
		}
		response.UID = request.UID
		if observe != nil {
			observe(request, response, time.Since(started))
		}
		answer := admissionv1.AdmissionReview{TypeMeta: typeMeta, Response: response}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(&answer); err != nil {
			klog.ErrorS(err, "Writing an admission response", "uid", request.UID)
		}
	})
}

// readRequest checks the method and media type and reads the body.
func readRequest(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	if r.Method != http.MethodPost {
		return nil, http.StatusMethodNotAllowed, fmt.Errorf("a webhook takes POST, not %s", r.Method)
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("a webhook takes application/json, not %q", r.Header.Get("Content-Type"))
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, maxReviewBytes), r.ContentLength)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("an AdmissionReview may be at most %d bytes", maxReviewBytes)
		}
		return nil, http.StatusBadRequest, fmt.Errorf("reading the request body: %w", err)
	}
	return body, http.StatusOK, nil
}

// decodeReview decodes and checks an AdmissionReview.
func decodeReview(body []byte) (*admissionv1.AdmissionReview, int, error) {
	review := &admissionv1.AdmissionReview{}
	if err := json.Unmarshal(body, review); err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("the body is not an AdmissionReview: %w", err)
	}
	if review.APIVersion != admissionv1.SchemeGroupVersion.String() || review.Kind != "AdmissionReview" {
		return nil, http.StatusBadRequest, fmt.Errorf("want an %s AdmissionReview, got apiVersion %q kind %q",
			admissionv1.SchemeGroupVersion, review.APIVersion, review.Kind)
	}
	if review.Request == nil || review.Request.UID == "" {
		return nil, http.StatusBadRequest, fmt.Errorf("the AdmissionReview has no request or no request UID")
	}
	return review, http.StatusOK, nil
}

// presizeLimit bounds the buffer readBody allocates on the word of the
// Content-Length header, which a caller may overstate.
const presizeLimit = 64 << 10

// readBody reads a request body into one buffer sized from its declared
// length: io.ReadAll starts at 512 bytes and grows a few-KB review several
// times over, which showed in the profile.
func readBody(body io.Reader, declared int64) ([]byte, error) {
	size := int64(bytes.MinRead)
	if declared > 0 {
		size += min(declared, presizeLimit)
	}
	buffer := bytes.NewBuffer(make([]byte, 0, size))
	_, err := buffer.ReadFrom(body)
	return buffer.Bytes(), err
}

// Deny answers a request with a denial whose message says what is wrong.
func Deny(code int32, format string, args ...interface{}) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{
		Allowed: false,
		Result: &metav1.Status{
			Status:  metav1.StatusFailure,
			Code:    code,
			Reason:  metav1.StatusReason(http.StatusText(int(code))),
			Message: fmt.Sprintf(format, args...),
		},
	}
}

// Allow admits a request, with a JSON patch when patch is not empty.
func Allow(patch []byte, warnings []string) *admissionv1.AdmissionResponse {
	response := &admissionv1.AdmissionResponse{Allowed: true, Warnings: warnings}
	if len(patch) > 0 {
		patchType := admissionv1.PatchTypeJSONPatch
		response.Patch, response.PatchType = patch, &patchType
	}
	return response
}
