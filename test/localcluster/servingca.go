package localcluster

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// kubemacpoolCertificateSecret is where kubemacpool-apiserver keeps the
	// CA and serving certificate it manages (--certificate-secret-name).
	kubemacpoolCertificateSecret = "kubemacpool-service"
	// kubemacpoolServerName is the name the serving certificate is for, as
	// kube-apiserver checks it for the APIService and the webhooks.
	kubemacpoolServerName = kubemacpoolServiceName + "." + kubemacpoolNamespace + ".svc"
)

// KubemacpoolCABundle returns the CAs kubemacpool-apiserver's serving
// certificate is currently trusted with, from the Secret the server manages.
// It changes when the server rotates its CA or regenerates a deleted Secret.
func (c *Cluster) KubemacpoolCABundle(ctx context.Context) ([]byte, error) {
	secret, err := c.client.CoreV1().Secrets(kubemacpoolNamespace).Get(ctx, kubemacpoolCertificateSecret, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading the kubemacpool CA from Secret %s/%s: %w", kubemacpoolNamespace, kubemacpoolCertificateSecret, err)
	}
	bundle := secret.Data["ca.crt"]
	if len(bundle) == 0 {
		return nil, fmt.Errorf("secret %s/%s has no ca.crt", kubemacpoolNamespace, kubemacpoolCertificateSecret)
	}
	return bundle, nil
}

// kubemacpoolRoots is KubemacpoolCABundle as a pool for a TLS client.
func (c *Cluster) kubemacpoolRoots(ctx context.Context) (*x509.CertPool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	bundle, err := c.KubemacpoolCABundle(ctx)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(bundle) {
		return nil, fmt.Errorf("secret %s/%s: ca.crt holds no PEM certificate", kubemacpoolNamespace, kubemacpoolCertificateSecret)
	}
	return roots, nil
}
