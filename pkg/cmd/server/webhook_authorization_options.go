package server

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	genericoptions "k8s.io/apiserver/pkg/server/options"

	"kubemacpool.io/kubemacpool/pkg/apiserver"
)

// WebhookAuthorizationMode says who may call the admission webhooks.
type WebhookAuthorizationMode string

const (
	// WebhookAuthorizationRequired serves an AdmissionReview only to a
	// caller that delegated authentication identifies and that
	// SubjectAccessReview allows to "post" the webhook's path: kube-apiserver
	// presenting the identity of its AdmissionConfiguration kubeConfigFile.
	WebhookAuthorizationRequired WebhookAuthorizationMode = "Required"
	// WebhookAuthorizationDisabled serves the webhook paths to anyone who
	// reaches the secure port, for control planes whose kube-apiserver
	// cannot be given a client identity (managed clusters).
	WebhookAuthorizationDisabled WebhookAuthorizationMode = "Disabled"
)

var webhookAuthorizationModes = []WebhookAuthorizationMode{WebhookAuthorizationRequired, WebhookAuthorizationDisabled}

// WebhookAuthorizationOptions decide whether the webhook paths go through
// delegated authorization like every other request.
type WebhookAuthorizationOptions struct {
	Mode WebhookAuthorizationMode
}

// NewWebhookAuthorizationOptions returns the secure default.
func NewWebhookAuthorizationOptions() *WebhookAuthorizationOptions {
	return &WebhookAuthorizationOptions{Mode: WebhookAuthorizationRequired}
}

// AddFlags registers --webhook-authorization.
func (o *WebhookAuthorizationOptions) AddFlags(flags *pflag.FlagSet) {
	flags.StringVar((*string)(&o.Mode), "webhook-authorization", string(o.Mode),
		"Who may call "+strings.Join(apiserver.WebhookPaths, " and ")+". Required: only an authenticated caller allowed to "+
			"\"post\" the path (bind ClusterRole kubemacpool-webhook-caller to the identity kube-apiserver presents through its "+
			"AdmissionConfiguration). Disabled: anyone who reaches the secure port, for control planes where kube-apiserver "+
			"cannot be configured; the server then warns at start and sets kmp_webhook_caller_authorization_disabled to 1.")
}

// Disabled tells whether the webhook paths skip authorization.
func (o *WebhookAuthorizationOptions) Disabled() bool { return o.Mode == WebhookAuthorizationDisabled }

// ApplyTo adds the webhook paths to the always-allowed paths when, and only
// when, authorization of the webhook callers is disabled.
func (o *WebhookAuthorizationOptions) ApplyTo(authorization *genericoptions.DelegatingAuthorizationOptions) {
	if !o.Disabled() || authorization == nil {
		return
	}
	for _, path := range apiserver.WebhookPaths {
		if !slices.Contains(authorization.AlwaysAllowPaths, path) {
			authorization.AlwaysAllowPaths = append(authorization.AlwaysAllowPaths, path)
		}
	}
}

// Validate checks the mode, and that --authorization-always-allow-paths does
// not open a webhook path behind the back of the Required mode.
func (o *WebhookAuthorizationOptions) Validate(authorization *genericoptions.DelegatingAuthorizationOptions) []error {
	if !slices.Contains(webhookAuthorizationModes, o.Mode) {
		return []error{fmt.Errorf("--webhook-authorization must be %q or %q, got %q", WebhookAuthorizationRequired, WebhookAuthorizationDisabled, o.Mode)}
	}
	if o.Disabled() || authorization == nil {
		return nil
	}
	var errs []error
	for _, path := range apiserver.WebhookPaths {
		if slices.Contains(authorization.AlwaysAllowPaths, path) {
			errs = append(errs, fmt.Errorf("--authorization-always-allow-paths must not contain the webhook path %s while --webhook-authorization=%s; set --webhook-authorization=%s to serve the webhooks without authorization",
				path, WebhookAuthorizationRequired, WebhookAuthorizationDisabled))
		}
	}
	return errs
}
