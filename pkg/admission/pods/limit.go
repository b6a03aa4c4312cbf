package pods

import (
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"

	"kubemacpool.io/kubemacpool/pkg/admission/webhook"
	"kubemacpool.io/kubemacpool/pkg/multus"
)

// tooManyNetworks denies a pod that would hold more than limit MACs, one per
// network, before any of them is leased: each one is a lease that stays for
// the reservation TTL even if a later admission step rejects the pod. The
// answer is 422, as for any other property of the object alone. A limit of
// zero or less means none.
func tooManyNetworks(networks *multus.Networks, limit int) *admissionv1.AdmissionResponse {
	if limit <= 0 || networks.Len() <= limit {
		return nil
	}
	return webhook.Deny(http.StatusUnprocessableEntity,
		"metadata.annotations[%s]: %d networks exceed the limit of %d MAC addresses per object (--max-macs-per-object)",
		multus.NetworksAnnotation, networks.Len(), limit)
}
