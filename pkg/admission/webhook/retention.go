package webhook

import (
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"

	"kubemacpool.io/kubemacpool/pkg/retention"
)

// InvalidRetention denies an object whose sticky-MAC annotation is neither
// "true" nor "false", naming the annotation; nil when it is valid or absent.
func InvalidRetention(annotations map[string]string) *admissionv1.AdmissionResponse {
	value, found := annotations[retention.ObjectAnnotation]
	if !found {
		return nil
	}
	if err := retention.ParseChoice(value); err != nil {
		return Deny(http.StatusUnprocessableEntity, "metadata.annotations[%s]: %v", retention.ObjectAnnotation, err)
	}
	return nil
}
