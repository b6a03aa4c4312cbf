package pods

import (
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/admission/webhook"
	"kubemacpool.io/kubemacpool/pkg/multus"
)

// A Binding (the pods/binding subresource, a scheduler's write) merges its
// annotations into the Pod it binds (kube-apiserver's BindingREST), with no
// Pod admission: one that carried the networks annotation would replace a
// pending Pod's networks, and their MACs, unseen by this webhook: a MAC held
// elsewhere or excluded would skip its pool, and the MACs the Pod was
// admitted with would be released. No scheduler writes it, so such a
// binding is refused; kube-apiserver sends no other (matchConditions).

// binding tells the create of a Binding: of the pods/binding subresource,
// or of the namespaced bindings resource, which kube-apiserver still serves
// with the same BindingREST (and the same merge of annotations).
func binding(request *admissionv1.AdmissionRequest) bool {
	if request.Operation != admissionv1.Create {
		return false
	}
	return request.SubResource == "binding" || request.Resource.Resource == "bindings" && request.SubResource == ""
}

// bindingSetsNoNetworks refuses a binding that writes the networks
// annotation.
func bindingSetsNoNetworks(object *metav1.ObjectMeta) *admissionv1.AdmissionResponse {
	if _, found := object.Annotations[multus.NetworksAnnotation]; found {
		return webhook.Deny(http.StatusUnprocessableEntity,
			"metadata.annotations[%s]: a Binding may not set a Pod's networks: they are admitted with the Pod, or with an update of it", multus.NetworksAnnotation)
	}
	return webhook.Allow(nil, nil)
}
