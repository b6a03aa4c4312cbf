package server

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"kubemacpool.io/kubemacpool/pkg/apiserver"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

// TestOriginalFlags parses each form of the original Kubemacpool's command
// line through the real command, as the binary does, and checks the option
// it sets, the deprecation warning it prints and the error junk gets.
func TestOriginalFlags(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantAddr   string
		wantTTL    time.Duration
		wantV      string
		wantWarn   []string
		wantErr    []string // from parsing or validation, all substrings
		noWarnings bool
	}{
		{name: "nothing given", wantAddr: metrics.DefaultAddr, wantTTL: apiserver.DefaultReservationTTL, wantV: "0", noWarnings: true},
		{name: "--metrics-addr is --metric-addr", args: []string{"--metrics-addr=127.0.0.1:9443"},
			wantAddr: "127.0.0.1:9443", wantTTL: apiserver.DefaultReservationTTL, wantV: "0",
			wantWarn: []string{"Flag --metrics-addr has been deprecated, use --metric-addr instead"}},
		{name: "the last of --metric-addr and --metrics-addr wins", args: []string{"--metric-addr=127.0.0.1:1", "--metrics-addr=127.0.0.1:2"},
			wantAddr: "127.0.0.1:2", wantTTL: apiserver.DefaultReservationTTL, wantV: "0"},
		{name: "the last of --metrics-addr and --metric-addr wins", args: []string{"--metrics-addr=127.0.0.1:2", "--metric-addr=127.0.0.1:1"},
			wantAddr: "127.0.0.1:1", wantTTL: apiserver.DefaultReservationTTL, wantV: "0"},
		{name: "--wait-time is seconds of reservation TTL", args: []string{"--wait-time=30"},
			wantAddr: metrics.DefaultAddr, wantTTL: 30 * time.Second, wantV: "0",
			wantWarn: []string{"Flag --wait-time has been deprecated, use --reservation-ttl instead"}},
		{name: "--wait-time as a separate argument, the manifests' 300", args: []string{"--wait-time", "300"},
			wantAddr: metrics.DefaultAddr, wantTTL: 300 * time.Second, wantV: "0"},
		{name: "--v=production", args: []string{"--v=production"},
			wantAddr: metrics.DefaultAddr, wantTTL: apiserver.DefaultReservationTTL, wantV: "0",
			wantWarn: []string{"Flag --v=production has been deprecated, use --v=0 instead"}},
		{name: "--v=debug", args: []string{"--v=debug"},
			wantAddr: metrics.DefaultAddr, wantTTL: apiserver.DefaultReservationTTL, wantV: "4",
			wantWarn: []string{"Flag --v=debug has been deprecated, use --v=4 instead"}},
		{name: "-v debug", args: []string{"-v", "debug"}, wantAddr: metrics.DefaultAddr, wantTTL: apiserver.DefaultReservationTTL, wantV: "4",
			wantWarn: []string{"use --v=4"}},
		{name: "-v=Debug in any case", args: []string{"-v=Debug"}, wantAddr: metrics.DefaultAddr, wantTTL: apiserver.DefaultReservationTTL, wantV: "4"},
		{name: "klog's integers still work, silently", args: []string{"--v=3"},
			wantAddr: metrics.DefaultAddr, wantTTL: apiserver.DefaultReservationTTL, wantV: "3", noWarnings: true},
		{name: "the original's whole command line", args: []string{"--metrics-addr=127.0.0.1:8443", "--wait-time=300", "--v=debug"},
			wantAddr: "127.0.0.1:8443", wantTTL: 300 * time.Second, wantV: "4",
			wantWarn: []string{"--metrics-addr has been deprecated", "--wait-time has been deprecated", "--v=debug has been deprecated"}},
		{name: "--reservation-ttl alone, no warning", args: []string{"--reservation-ttl=2m"},
			wantAddr: metrics.DefaultAddr, wantTTL: 2 * time.Minute, wantV: "0", noWarnings: true},

		{name: "--wait-time with --reservation-ttl", args: []string{"--wait-time=30", "--reservation-ttl=1m"},
			wantErr: []string{"--wait-time", "--reservation-ttl", "pass --reservation-ttl alone"}},
		{name: "--wait-time not a number", args: []string{"--wait-time=soon"},
			wantErr: []string{`invalid argument "soon" for "--wait-time" flag`, "whole seconds"}},
		{name: "--wait-time as a duration", args: []string{"--wait-time=5m"},
			wantErr: []string{`"--wait-time"`, "whole seconds"}},
		{name: "--wait-time zero", args: []string{"--wait-time=0"},
			wantErr: []string{`"--wait-time"`, "positive number of seconds", "got 0"}},
		{name: "--wait-time negative", args: []string{"--wait-time=-5"},
			wantErr: []string{`"--wait-time"`, "got -5"}},
		{name: "--wait-time too large for a duration", args: []string{"--wait-time=99999999999"},
			wantErr: []string{`"--wait-time"`, "no larger than"}},
		{name: "--v junk", args: []string{"--v=loud"},
			wantErr: []string{`invalid argument "loud" for "-v, --v" flag`, "production or debug"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			o := NewOptions(&out, &out)
			cmd := NewCommand(context.Background(), o)
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			// klog's verbosity is global: leave it as found.
			t.Cleanup(func() { _ = cmd.PersistentFlags().Set("v", "0") })

			err := cmd.ParseFlags(tc.args)
			if err == nil {
				err = o.Complete()
			}
			if err == nil {
				err = o.Validate()
			}
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("%v: no error, want one about %q", tc.args, tc.wantErr)
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%v: error %q does not say %q", tc.args, err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("%v: %v", tc.args, err)
			}
			if o.MetricAddr != tc.wantAddr {
				t.Errorf("metric address = %q, want %q", o.MetricAddr, tc.wantAddr)
			}
			if o.ReservationTTL != tc.wantTTL {
				t.Errorf("reservation TTL = %s, want %s", o.ReservationTTL, tc.wantTTL)
			}
			if got := cmd.Flags().Lookup("v").Value.String(); got != tc.wantV {
				t.Errorf("klog verbosity = %s, want %s", got, tc.wantV)
			}
			for _, want := range tc.wantWarn {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output %q does not warn %q", out.String(), want)
				}
			}
			if tc.noWarnings && strings.Contains(out.String(), "deprecated") {
				t.Errorf("output %q warns, want nothing", out.String())
			}
		})
	}
}

// TestOriginalFlagsHidden keeps the help text about the current flags.
func TestOriginalFlagsHidden(t *testing.T) {
	cmd := NewCommand(context.Background(), NewOptions(&bytes.Buffer{}, &bytes.Buffer{}))
	usage := cmd.UsageString()
	for _, name := range []string{"--metrics-addr", "--wait-time"} {
		if strings.Contains(usage, name) {
			t.Errorf("help shows the deprecated %s", name)
		}
	}
	if !strings.Contains(usage, "production") {
		t.Errorf("help of --v does not mention the original's level names")
	}
}
