package localcluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"
)

// writeWebhookAuthentication makes kube-apiserver authenticate to
// kubemacpool's webhooks, as a cluster administrator would with
// --admission-control-config-file: an AdmissionConfiguration whose
// MutatingAdmissionWebhook plugin names a kubeconfig, and in it a user entry
// for the webhook Service holding the client certificate of
// WebhookCallerUser. kubemacpool-apiserver verifies that certificate against
// the client CA kube-apiserver publishes and authorizes the user through
// SubjectAccessReview. Rewritten on every start, because the entry names
// the Service port, which may change.
func (c *Cluster) writeWebhookAuthentication() error {
	keyPEM, err := c.pki.webhookClient.keyPEM()
	if err != nil {
		return fmt.Errorf("encoding the webhook client key: %w", err)
	}
	credentials := &clientcmdapi.AuthInfo{ClientCertificateData: c.pki.webhookClient.certPEM(), ClientKeyData: keyPEM}
	// kube-apiserver looks a webhook Service up as
	// <name>.<namespace>.svc:<port>, and without the port only for 443
	// (k8s.io/apiserver/pkg/util/webhook, defaultAuthenticationInfoResolver).
	// Only these entries: no "*" and no current context, so that any other
	// webhook still gets no credentials.
	config := clientcmdapi.NewConfig()
	config.AuthInfos[net.JoinHostPort(kubemacpoolServerName, strconv.Itoa(int(c.kubemacpoolServicePort())))] = credentials
	config.AuthInfos[kubemacpoolServerName] = credentials
	if err := clientcmd.WriteToFile(*config, c.layout.webhookClientKubeconfig()); err != nil {
		return fmt.Errorf("writing the webhook client kubeconfig: %w", err)
	}

	admission := map[string]any{
		"apiVersion": "apiserver.config.k8s.io/v1",
		"kind":       "AdmissionConfiguration",
		"plugins": []any{map[string]any{
			"name": "MutatingAdmissionWebhook",
			"configuration": map[string]any{
				"apiVersion":     "apiserver.config.k8s.io/v1",
				"kind":           "WebhookAdmissionConfiguration",
				"kubeConfigFile": c.layout.webhookClientKubeconfig(),
			},
		}},
	}
	data, err := yaml.Marshal(admission)
	if err != nil {
		return fmt.Errorf("encoding the admission configuration: %w", err)
	}
	if err := os.WriteFile(c.layout.admissionConfig(), data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", c.layout.admissionConfig(), err)
	}
	return nil
}

// WebhookCallerCertificate returns the client certificate and key (PEM)
// that kube-apiserver presents to kubemacpool's webhooks, for tests that
// call a webhook as kube-apiserver would.
func (c *Cluster) WebhookCallerCertificate() (certPEM, keyPEM []byte, err error) {
	keyPEM, err = c.pki.webhookClient.keyPEM()
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the webhook client key: %w", err)
	}
	return c.pki.webhookClient.certPEM(), keyPEM, nil
}

// KubemacpoolServiceAnonymousConfig returns a client configuration that
// reaches kubemacpool-apiserver where kube-apiserver sends webhook calls (the
// Service: the balancer, or the single replica), trusting the CA bundle of
// the moment and presenting no credentials. Tests add the credentials of the
// caller they play.
func (c *Cluster) KubemacpoolServiceAnonymousConfig(ctx context.Context) (*rest.Config, error) {
	bundle, err := c.KubemacpoolCABundle(ctx)
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host:            c.KubemacpoolServiceURL(),
		TLSClientConfig: rest.TLSClientConfig{CAData: bundle, ServerName: kubemacpoolServerName},
	}, nil
}
