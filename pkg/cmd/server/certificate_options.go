package server

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	"kubemacpool.io/kubemacpool/pkg/certificate"
	leasecontroller "kubemacpool.io/kubemacpool/pkg/controller/lease"
)

// CertificateOptions configure the certificate manager: a self-signed CA and
// a serving certificate kept in a Secret and rotated on the original
// Kubemacpool's knobs, which are read from its environment variables
// (CA_ROTATE_INTERVAL and friends) unless a flag says otherwise.
type CertificateOptions struct {
	Manage                   bool
	Namespace                string
	SecretName               string
	ServiceName              string
	APIServiceName           string
	WebhookConfigurationName string
	Policy                   certificate.Policy

	// envErrs are unparsable environment variables, reported by Validate.
	envErrs []error
}

// NewCertificateOptions returns the defaults, overridden by the original's
// environment variables where they are set.
func NewCertificateOptions() *CertificateOptions {
	o := &CertificateOptions{
		Manage:                   true,
		Namespace:                podNamespace(),
		SecretName:               "kubemacpool-service",
		ServiceName:              "kubemacpool-apiserver",
		APIServiceName:           "v1alpha1.macpool.kubemacpool.io",
		WebhookConfigurationName: leasecontroller.DefaultWebhookConfigurationName,
		Policy:                   certificate.DefaultPolicy(),
	}
	for name, target := range map[string]*time.Duration{
		"CA_ROTATE_INTERVAL":    &o.Policy.CARotateInterval,
		"CA_OVERLAP_INTERVAL":   &o.Policy.CAOverlapInterval,
		"CERT_ROTATE_INTERVAL":  &o.Policy.CertRotateInterval,
		"CERT_OVERLAP_INTERVAL": &o.Policy.CertOverlapInterval,
	} {
		value, ok := os.LookupEnv(name)
		if !ok {
			continue
		}
		d, err := time.ParseDuration(value)
		if err != nil {
			o.envErrs = append(o.envErrs, fmt.Errorf("environment variable %s=%q: %w", name, value, err))
			continue
		}
		*target = d
	}
	return o
}

// podNamespace is where the Deployment runs, from the downward API.
func podNamespace() string {
	if namespace := os.Getenv("POD_NAMESPACE"); namespace != "" {
		return namespace
	}
	return "kubemacpool-system"
}

// AddFlags registers the certificate flags.
func (o *CertificateOptions) AddFlags(flags *pflag.FlagSet) {
	flags.BoolVar(&o.Manage, "manage-certificates", o.Manage,
		"Generate and rotate a self-signed CA and serving certificate in --certificate-secret-name and keep the caBundle of the APIService and of the webhooks current. Ignored when --tls-cert-file is set.")
	flags.StringVar(&o.Namespace, "certificate-namespace", o.Namespace,
		"Namespace of the Secret and of the Service (default: $POD_NAMESPACE, else kubemacpool-system).")
	flags.StringVar(&o.SecretName, "certificate-secret-name", o.SecretName, "Secret that holds the CA and the serving certificate, shared by all replicas.")
	flags.StringVar(&o.ServiceName, "certificate-service-name", o.ServiceName, "Service the serving certificate is for: <name>.<namespace>.svc.")
	flags.StringVar(&o.APIServiceName, "certificate-apiservice-name", o.APIServiceName, "APIService whose caBundle is kept current.")
	flags.StringVar(&o.WebhookConfigurationName, "certificate-webhook-configuration-name", o.WebhookConfigurationName,
		"MutatingWebhookConfiguration of the webhooks: the certificate manager keeps its caBundles current, and the lease controller follows its namespaceSelectors to know which namespaces are managed.")
	flags.DurationVar(&o.Policy.CARotateInterval, "ca-rotate-interval", o.Policy.CARotateInterval, "Validity of the CA (env CA_ROTATE_INTERVAL).")
	flags.DurationVar(&o.Policy.CAOverlapInterval, "ca-overlap-interval", o.Policy.CAOverlapInterval,
		"How long before its expiry the CA is replaced; the old CA stays trusted until it expires (env CA_OVERLAP_INTERVAL).")
	flags.DurationVar(&o.Policy.CertRotateInterval, "cert-rotate-interval", o.Policy.CertRotateInterval,
		"Validity of the serving certificate, never past its CA (env CERT_ROTATE_INTERVAL).")
	flags.DurationVar(&o.Policy.CertOverlapInterval, "cert-overlap-interval", o.Policy.CertOverlapInterval,
		"How long before its expiry the serving certificate is replaced (env CERT_OVERLAP_INTERVAL).")
}

// Validate checks the certificate options.
func (o *CertificateOptions) Validate() []error {
	if !o.Manage {
		return nil
	}
	errs := append([]error(nil), o.envErrs...)
	for flag, value := range map[string]string{
		"--certificate-namespace":                  o.Namespace,
		"--certificate-secret-name":                o.SecretName,
		"--certificate-service-name":               o.ServiceName,
		"--certificate-apiservice-name":            o.APIServiceName,
		"--certificate-webhook-configuration-name": o.WebhookConfigurationName,
	} {
		if value == "" {
			errs = append(errs, fmt.Errorf("%s must not be empty", flag))
		}
	}
	return append(errs, o.Policy.Validate()...)
}

// secretLabels are the original's optional labels, from the same
// environment variables.
func secretLabels() map[string]string {
	labels := map[string]string{}
	for env, label := range map[string]string{
		"COMPONENT":  "app.kubernetes.io/component",
		"PART_OF":    "app.kubernetes.io/part-of",
		"VERSION":    "app.kubernetes.io/version",
		"MANAGED_BY": "app.kubernetes.io/managed-by",
	} {
		if value := os.Getenv(env); value != "" {
			labels[label] = value
		}
	}
	return labels
}

// Config builds the manager that talks to the cluster through clientConfig,
// fills serving and reports to recorder.
func (o *CertificateOptions) Config(clientConfig *rest.Config, serving *certificate.ServingContent, recorder certificate.Recorder) (*certificate.Manager, error) {
	kube, err := kubernetes.NewForConfig(clientConfig)
	if err != nil {
		return nil, fmt.Errorf("building the Kubernetes client of the certificate manager: %w", err)
	}
	aggregator, err := aggregatorclient.NewForConfig(clientConfig)
	if err != nil {
		return nil, fmt.Errorf("building the aggregator client of the certificate manager: %w", err)
	}
	return certificate.New(certificate.Config{
		Namespace:                o.Namespace,
		SecretName:               o.SecretName,
		ServiceName:              o.ServiceName,
		APIServiceName:           o.APIServiceName,
		WebhookConfigurationName: o.WebhookConfigurationName,
		Policy:                   o.Policy,
		SecretLabels:             secretLabels(),
		Kube:                     kube,
		Aggregator:               aggregator,
		Serving:                  serving,
		Metrics:                  recorder,
	}), nil
}
