package server

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/admission"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"kubemacpool.io/kubemacpool/pkg/apiserver"
)

func TestWebhookAuthorizationFlag(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
		// wantOpen: the webhook paths are always-allowed after Complete.
		wantOpen bool
		wantErr  string
	}{
		{name: "default requires authorization", wantOpen: false},
		{name: "Required", flags: []string{"--webhook-authorization=Required"}, wantOpen: false},
		{name: "Disabled opens exactly the webhook paths", flags: []string{"--webhook-authorization=Disabled"}, wantOpen: true},
		{name: "Disabled with the paths also given by hand", flags: []string{"--webhook-authorization=Disabled", "--authorization-always-allow-paths=/healthz,/mutate-pods"}, wantOpen: true},
		{name: "unknown value", flags: []string{"--webhook-authorization=Off"}, wantErr: `--webhook-authorization must be "Required" or "Disabled", got "Off"`},
		{name: "wrong case", flags: []string{"--webhook-authorization=disabled"}, wantErr: `--webhook-authorization must be "Required" or "Disabled", got "disabled"`},
		{name: "empty", flags: []string{"--webhook-authorization="}, wantErr: `--webhook-authorization must be "Required" or "Disabled", got ""`},
		{
			name:    "Required refuses a webhook path opened through the generic flag",
			flags:   []string{"--authorization-always-allow-paths=/healthz,/mutate-virtualmachines"},
			wantErr: "--authorization-always-allow-paths must not contain the webhook path /mutate-virtualmachines while --webhook-authorization=Required",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := completedOptions(t, tc.flags...)
			err := o.Validate()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Validate: got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			allowed := o.RecommendedOptions.Authorization.AlwaysAllowPaths
			for _, path := range apiserver.WebhookPaths {
				if got := slices.Contains(allowed, path); got != tc.wantOpen {
					t.Errorf("%s always allowed: %v, want %v (always-allow paths %v)", path, got, tc.wantOpen, allowed)
				}
				if n := len(slices.DeleteFunc(slices.Clone(allowed), func(p string) bool { return p != path })); tc.wantOpen && n != 1 {
					t.Errorf("%s appears %d times in %v", path, n, allowed)
				}
			}
			// The probes stay open whatever the mode.
			for _, path := range []string{"/healthz"} {
				if !slices.Contains(allowed, path) {
					t.Errorf("%s is no longer always allowed: %v", path, allowed)
				}
			}
			if got := o.WebhookAuthorization.Disabled(); got != tc.wantOpen {
				t.Errorf("Disabled() = %v, want %v", got, tc.wantOpen)
			}
		})
	}
}

func TestWebhookAuthorizationMetric(t *testing.T) {
	for _, mode := range []WebhookAuthorizationMode{WebhookAuthorizationRequired, WebhookAuthorizationDisabled} {
		t.Run(string(mode), func(t *testing.T) {
			o := NewOptions(nil, nil)
			o.WebhookAuthorization.Mode = mode
			// Without a kubeconfig the delegated authentication and
			// authorization would look for a cluster; skip them here.
			o.RecommendedOptions.Authentication = nil
			o.RecommendedOptions.Authorization = nil
			o.RecommendedOptions.CoreAPI = nil
			o.RecommendedOptions.Admission = nil
			// No secure port, so no loopback client for the plugins' informers.
			o.RecommendedOptions.ExtraAdmissionInitializers = func(*genericapiserver.RecommendedConfig) ([]admission.PluginInitializer, error) {
				return nil, nil
			}
			o.RecommendedOptions.Features.EnablePriorityAndFairness = false
			o.Certificates.Manage = false
			o.RecommendedOptions.SecureServing.BindPort = 0
			o.RecommendedOptions.SecureServing.ServerCert.CertDirectory = t.TempDir()
			if err := o.Complete(); err != nil {
				t.Fatal(err)
			}
			config, err := o.Config()
			if err != nil {
				t.Fatalf("Config: %v", err)
			}
			families, err := config.ExtraConfig.Metrics.Registry().Gather()
			if err != nil {
				t.Fatal(err)
			}
			want := 0.0
			if mode == WebhookAuthorizationDisabled {
				want = 1
			}
			for _, family := range families {
				if family.GetName() == "kmp_webhook_caller_authorization_disabled" {
					if got := family.GetMetric()[0].GetGauge().GetValue(); got != want {
						t.Fatalf("kmp_webhook_caller_authorization_disabled = %v, want %v", got, want)
					}
					return
				}
			}
			t.Fatal("kmp_webhook_caller_authorization_disabled is not exposed")
		})
	}
}
