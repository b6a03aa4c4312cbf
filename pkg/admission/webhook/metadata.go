package webhook

import (
	"bytes"
	"context"
	"encoding/json"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MetadataMutator is a Mutator that reads of the object only its metadata.
// The handler then decodes that metadata with the review, in one pass of
// encoding/json, instead of copying the object out of the review and
// decoding it again: two scans of the body instead of four, and no copy.
// Whenever that shortcut could read the review differently from
// decodeReview followed by a decode of request.Object.Raw, the handler
// calls Mutate instead, so the answer is the same either way.
type MetadataMutator interface {
	Mutator
	// MutateMetadata answers request, whose Object is left empty, given
	// the metadata of the object it carries (never nil).
	MutateMetadata(ctx context.Context, request *admissionv1.AdmissionRequest, object *metav1.PartialObjectMetadata) *admissionv1.AdmissionResponse
}

// metadataReview is an AdmissionReview whose object is decoded as
// metadata only: the embedded request's own "object" field is shadowed by
// the shallower one, so encoding/json skips the object's other members.
type metadataReview struct {
	metav1.TypeMeta `json:",inline"`
	Request         *metadataRequest `json:"request,omitempty"`
}

type metadataRequest struct {
	admissionv1.AdmissionRequest
	Object *metav1.PartialObjectMetadata `json:"object,omitempty"`
}

// metadataReviewOf decodes body as a metadataReview when that reads it as
// decodeReview and a later decode of the object would. ok is false, and
// the caller takes the general path, for any error (whose message is the
// general path's to give), a review decodeReview would refuse, a missing
// or null object, and a body that may name the object twice: decodeReview
// keeps the last object written, where decoding into one struct would merge
// them.
func metadataReviewOf(body []byte, wanted bool) (*metadataReview, bool) {
	if !wanted || !objectNamedOnce(body) {
		return nil, false
	}
	review := &metadataReview{}
	if err := json.Unmarshal(body, review); err != nil {
		return nil, false
	}
	if review.APIVersion != admissionv1.SchemeGroupVersion.String() || review.Kind != "AdmissionReview" ||
		review.Request == nil || review.Request.UID == "" || review.Request.Object == nil {
		return nil, false
	}
	return review, true
}

// objectNamedOnce reports whether body holds the quoted word "object", in
// any case (encoding/json matches member names regardless of case), exactly
// once and no escape that could spell a letter of it. A body this cannot
// vouch for goes the general way; kube-apiserver writes neither escaped
// letters nor duplicate members.
func objectNamedOnce(body []byte) bool {
	// Found by its 'j', the rarest of its letters in a Pod, with a fast
	// byte search: a search for every quote cost a twelfth of the handler.
	count := 0
	for _, j := range []byte{'j', 'J'} {
		for at := 0; ; at++ {
			next := bytes.IndexByte(body[at:], j)
			if next < 0 {
				break
			}
			at += next
			if at >= 3 && at+4 < len(body) && body[at-3] == '"' && body[at+4] == '"' && asciiEqualFold(body[at-2:at+4], "object") {
				count++
			}
		}
	}
	return count == 1 && !escapesALetterOf(body, "object")
}

// asciiEqualFold compares ASCII letters regardless of case. No other
// character folds to the letters of "object" in encoding/json's matching.
func asciiEqualFold(b []byte, word string) bool {
	for i := range b {
		if b[i]|0x20 != word[i] {
			return false
		}
	}
	return true
}

// escapesALetterOf reports a \uXXXX escape in body that spells a letter
// of word in either case.
func escapesALetterOf(body []byte, word string) bool {
	for rest := body; ; {
		at := bytes.Index(rest, []byte(`\u00`))
		if at < 0 || at+6 > len(rest) {
			return false
		}
		high, low := unhex(rest[at+4]), unhex(rest[at+5])
		if high >= 0 && low >= 0 {
			letter := byte(high<<4|low) | 0x20
			if bytes.IndexByte([]byte(word), letter) >= 0 {
				return true
			}
		}
		rest = rest[at+1:]
	}
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}
