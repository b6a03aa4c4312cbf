package localcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// WebhookMode picks which artifact of artifacts/webhook is registered.
type WebhookMode string

const (
	// WebhookOptOut manages every namespace not labelled "ignore".
	WebhookOptOut WebhookMode = "opt-out"
	// WebhookOptIn manages only namespaces labelled "allocate".
	WebhookOptIn WebhookMode = "opt-in"
)

// RegisterWebhooks installs kubemacpool-mutator from
// artifacts/webhook/mutator-<mode>.yaml, pointed at the local server (its
// port, the CA bundle it published). Tests call it to switch modes; start-up registers opt-out.
func (c *Cluster) RegisterWebhooks(ctx context.Context, mode WebhookMode) error {
	path := filepath.Join(c.opts.ArtifactsDir, "webhook", "mutator-"+string(mode)+".yaml")
	manifest, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the webhook configuration: %w", err)
	}
	desired := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := yaml.UnmarshalStrict(manifest, desired); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	port := c.kubemacpoolServicePort()
	// The server keeps caBundle current; starting from the bundle of the
	// moment spares webhook calls failing until it notices the update.
	bundle, err := c.KubemacpoolCABundle(ctx)
	if err != nil {
		return fmt.Errorf("registering kubemacpool-mutator (%s): %w", mode, err)
	}
	for i := range desired.Webhooks {
		config := &desired.Webhooks[i].ClientConfig
		config.CABundle = bundle
		if config.Service != nil {
			config.Service.Port = &port
		}
	}
	webhooks := c.client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	existing, err := webhooks.Get(ctx, desired.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = webhooks.Create(ctx, desired, metav1.CreateOptions{})
	case err == nil:
		desired.ResourceVersion = existing.ResourceVersion
		_, err = webhooks.Update(ctx, desired, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("registering %s (%s): %w", desired.Name, mode, err)
	}
	return nil
}

// UnregisterWebhooks removes kubemacpool-mutator, as if the webhook were
// down or not yet installed.
func (c *Cluster) UnregisterWebhooks(ctx context.Context) error {
	err := c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, "kubemacpool-mutator", metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing kubemacpool-mutator: %w", err)
	}
	return nil
}
