package server

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
		// want are substrings, one per warning expected, in order.
		want []string
	}{
		{name: "defaults take no risk"},
		{name: "a reservation of a minute is safe", flags: []string{"--reservation-ttl=1m"}},
		{
			name:  "a reservation shorter than kube-apiserver's request timeout",
			flags: []string{"--reservation-ttl=59s"},
			want:  []string{"--reservation-ttl=59s is shorter than kube-apiserver's default request timeout (1m0s)"},
		},
		{
			name:  "the original's --wait-time in seconds counts too",
			flags: []string{"--wait-time=30"},
			want:  []string{"--reservation-ttl=30s is shorter"},
		},
		{
			name:  "webhook authorization disabled",
			flags: []string{"--webhook-authorization=Disabled"},
			want:  []string{"Webhook caller authorization is disabled (--webhook-authorization=Disabled)"},
		},
		{name: "plain metrics on IPv6 loopback", flags: []string{"--metric-addr=[::1]:9090"}},
		{name: "plain metrics on localhost", flags: []string{"--metric-addr=localhost:9090"}},
		{name: "plain metrics off", flags: []string{"--metric-addr=0"}},
		{
			name:  "plain metrics on every interface",
			flags: []string{"--metric-addr=:8080"},
			want:  []string{"--metric-addr=:8080 serves metrics without authentication beyond loopback"},
		},
		{
			name:  "the original's --metrics-addr default, on every interface",
			flags: []string{"--metrics-addr=:8443"},
			want:  []string{"--metric-addr=:8443 serves metrics without authentication beyond loopback"},
		},
		{
			name:  "plain metrics on a pod address",
			flags: []string{"--metric-addr=10.0.0.7:8080"},
			want:  []string{"beyond loopback"},
		},
		{
			name:  "both",
			flags: []string{"--webhook-authorization=Disabled", "--reservation-ttl=10s"},
			want:  []string{"Webhook caller authorization is disabled", "--reservation-ttl=10s is shorter"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := completedOptions(t, tc.flags...)
			if err := o.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got := o.warnings()
			if len(got) != len(tc.want) {
				t.Fatalf("got %d warnings, want %d: %q", len(got), len(tc.want), got)
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("warning %d = %q, want it to contain %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// completedOptions parses args as the command does and completes them.
func completedOptions(t *testing.T, args ...string) *Options {
	t.Helper()
	o := NewOptions(nil, nil)
	flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.AddFlags(flags)
	if err := flags.Parse(args); err != nil {
		t.Fatalf("parsing %v: %v", args, err)
	}
	if err := o.Complete(); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	return o
}

// The plain metrics endpoint has no authentication: without --metric-addr it
// listens on loopback, at the port of the original's README and of the
// deploy profiles' kube-rbac-proxy --upstream.
func TestMetricAddrDefaultsToLoopback(t *testing.T) {
	o := NewOptions(nil, nil)
	flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.AddFlags(flags)
	for _, name := range []string{"metric-addr", "metrics-addr"} {
		if got := flags.Lookup(name).DefValue; got != "127.0.0.1:8080" {
			t.Errorf("--%s defaults to %q, want 127.0.0.1:8080", name, got)
		}
	}
	if err := flags.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if o.MetricAddr != "127.0.0.1:8080" {
		t.Errorf("MetricAddr %q after Complete, want 127.0.0.1:8080", o.MetricAddr)
	}
}
