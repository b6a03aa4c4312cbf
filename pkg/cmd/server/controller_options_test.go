package server

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apiserver/pkg/admission"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

func TestControllerOptionsLeaderElection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		check  func(*ControllerOptions) string
		errors []string
	}{{
		name: "defaults are the timings the controller always had",
		check: func(o *ControllerOptions) string {
			le := o.LeaderElection
			if !le.LeaderElect || le.LeaseDuration.Duration != 15*time.Second || le.RenewDeadline.Duration != 10*time.Second ||
				le.RetryPeriod.Duration != 2*time.Second || le.ResourceLock != resourcelock.LeasesResourceLock ||
				le.ResourceName != "kubemacpool-lease-controller" || le.ResourceNamespace == "" {
				return "unexpected defaults"
			}
			return ""
		},
	}, {
		name: "component-base flags set the timings and the Lease",
		args: []string{"--leader-elect-lease-duration=30s", "--leader-elect-renew-deadline=20s", "--leader-elect-retry-period=4s",
			"--leader-elect-resource-name=mine", "--leader-elect-resource-namespace=ns"},
		check: func(o *ControllerOptions) string {
			le := o.LeaderElection
			if le.LeaseDuration.Duration != 30*time.Second || le.RenewDeadline.Duration != 20*time.Second ||
				le.RetryPeriod.Duration != 4*time.Second || le.ResourceName != "mine" || le.ResourceNamespace != "ns" {
				return "flags not applied"
			}
			return ""
		},
	}, {
		name: "the earlier names still set the Lease",
		args: []string{"--leader-elect-name=old", "--leader-elect-namespace=oldns"},
		check: func(o *ControllerOptions) string {
			if o.LeaderElection.ResourceName != "old" || o.LeaderElection.ResourceNamespace != "oldns" {
				return "deprecated names not applied"
			}
			return ""
		},
	}, {
		name:   "lease duration must exceed the renew deadline",
		args:   []string{"--leader-elect-lease-duration=10s"},
		errors: []string{"--leader-elect-lease-duration: Invalid value"},
	}, {
		name:   "zero retry period",
		args:   []string{"--leader-elect-retry-period=0"},
		errors: []string{"--leader-elect-retry-period: Invalid value", "must be greater than zero"},
	}, {
		name:   "renew deadline a jittered retry can overrun",
		args:   []string{"--leader-elect-renew-deadline=10s", "--leader-elect-retry-period=9s"},
		errors: []string{"--leader-elect-renew-deadline must be greater than 1.2 times --leader-elect-retry-period"},
	}, {
		name:   "only leases",
		args:   []string{"--leader-elect-resource-lock=endpoints"},
		errors: []string{`--leader-elect-resource-lock: Unsupported value: "endpoints"`},
	}, {
		name:   "no Lease name",
		args:   []string{"--leader-elect-resource-name="},
		errors: []string{"--leader-elect-resource-name: Required value"},
	}, {
		name:   "no Lease namespace",
		args:   []string{"--leader-elect-resource-namespace="},
		errors: []string{"--leader-elect-resource-namespace: Required value"},
	}, {
		name: "without leader election the timings are not checked",
		args: []string{"--leader-elect=false", "--leader-elect-retry-period=0", "--leader-elect-resource-name="},
	}, {
		name:   "workers",
		args:   []string{"--controller-workers=0"},
		errors: []string{"--controller-workers must be at least 1, got 0"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewControllerOptions()
			flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
			o.AddFlags(flags)
			if err := flags.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				if msg := tc.check(o); msg != "" {
					t.Errorf("%s: %+v", msg, o.LeaderElection)
				}
			}
			errs := o.Validate()
			if len(tc.errors) == 0 && len(errs) > 0 {
				t.Fatalf("unexpected errors: %v", errs)
			}
			if len(tc.errors) > 0 && len(errs) != 1 {
				t.Fatalf("got %d errors %v, want one containing %q", len(errs), errs, tc.errors)
			}
			for _, want := range tc.errors {
				if !strings.Contains(errs[0].Error(), want) {
					t.Errorf("error %q does not contain %q", errs[0], want)
				}
			}
			if got := o.Config(); got.LeaderElection != o.LeaderElection || got.Workers != o.Workers {
				t.Errorf("Config() = %+v, does not carry the options", got)
			}
		})
	}
}

// TestWebhookConfigurationNameIsPassedThrough checks that the lease
// controller gets the webhook configuration name the certificate manager
// uses, and that the name is required even without managed certificates.
func TestWebhookConfigurationNameIsPassedThrough(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    string
		wantErr string
	}{
		{want: "kubemacpool-mutator"},
		{args: []string{"--certificate-webhook-configuration-name=kubemacpool-mutator-opt-in"}, want: "kubemacpool-mutator-opt-in"},
		{args: []string{"--certificate-webhook-configuration-name="}, wantErr: "--certificate-webhook-configuration-name must not be empty"},
	} {
		o := NewOptions(io.Discard, io.Discard)
		flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
		o.AddFlags(flags)
		if err := flags.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		// As TestWebhookAuthorizationMetric: no cluster to delegate to.
		o.RecommendedOptions.Authentication = nil
		o.RecommendedOptions.Authorization = nil
		o.RecommendedOptions.CoreAPI = nil
		o.RecommendedOptions.Admission = nil
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
		if tc.wantErr != "" {
			if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: Validate() = %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		config, err := o.Config()
		if err != nil {
			t.Fatalf("Config: %v", err)
		}
		if got := config.ExtraConfig.Controller.WebhookConfigurationName; got != tc.want {
			t.Errorf("%v: the lease controller reads %q, want %q", tc.args, got, tc.want)
		}
	}
}
