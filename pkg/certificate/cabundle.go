package certificate

import (
	"bytes"
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// fieldManager owns the caBundle fields and the Secret's data.
const fieldManager = "kubemacpool-certificates"

// syncCABundles copies bundle into the APIService and into every webhook of
// the webhook configuration. An object that does not exist yet is skipped:
// its creation is an event that brings the manager back. Updates carry the
// resourceVersion read, so a concurrent edit is retried, not overwritten.
func (m *Manager) syncCABundles(ctx context.Context, bundle []byte) error {
	apiServices := m.config.Aggregator.ApiregistrationV1().APIServices()
	apiService, err := apiServices.Get(ctx, m.config.APIServiceName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("reading APIService %s: %w", m.config.APIServiceName, err)
	case apiService.Spec.Service != nil && !bytes.Equal(apiService.Spec.CABundle, bundle):
		apiService.Spec.CABundle = bundle
		if _, err := apiServices.Update(ctx, apiService, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
			return fmt.Errorf("updating the caBundle of APIService %s: %w", m.config.APIServiceName, err)
		}
		klog.InfoS("Updated the caBundle", "apiService", m.config.APIServiceName)
	}

	webhookConfigurations := m.config.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations()
	webhooks, err := webhookConfigurations.Get(ctx, m.config.WebhookConfigurationName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading MutatingWebhookConfiguration %s: %w", m.config.WebhookConfigurationName, err)
	}
	var changed []string
	for i := range webhooks.Webhooks {
		if config := &webhooks.Webhooks[i].ClientConfig; !bytes.Equal(config.CABundle, bundle) {
			config.CABundle = bundle
			changed = append(changed, webhooks.Webhooks[i].Name)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	if _, err := webhookConfigurations.Update(ctx, webhooks, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
		return fmt.Errorf("updating the caBundle of MutatingWebhookConfiguration %s: %w", m.config.WebhookConfigurationName, err)
	}
	klog.InfoS("Updated the caBundle", "mutatingWebhookConfiguration", m.config.WebhookConfigurationName, "webhooks", changed)
	return nil
}
