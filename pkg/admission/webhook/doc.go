// Package webhook serves mutating admission webhooks on the API server's
// secure port. It accepts nothing but an admission.k8s.io/v1 AdmissionReview
// posted as JSON, bounded in size, and answers with the same UID.
package webhook
