package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	utilfeature "k8s.io/apiserver/pkg/util/feature"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/klog/v2"
)

// TestLoggingFlags parses the logging flags through the real command and
// validates them as the server does before it applies them.
func TestLoggingFlags(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantFormat string
		wantV      uint32
		wantErr    string
	}{
		{name: "text by default", wantFormat: "text"},
		{name: "json", args: []string{"--logging-format=json"}, wantFormat: "json"},
		{name: "json with -v", args: []string{"--logging-format=json", "-v=4"}, wantFormat: "json", wantV: 4},
		{name: "the original's -v=debug", args: []string{"-v=debug"}, wantFormat: "text", wantV: 4},
		{name: "an unknown format", args: []string{"--logging-format=xml"}, wantErr: `format: Invalid value: "xml": Unsupported log format`},
		{name: "vmodule is for text only", args: []string{"--logging-format=json", "--vmodule=allocate*=4"},
			wantErr: "vmodule: Forbidden: Only supported for text log format"},
		{name: "a flush frequency of zero", args: []string{"--log-flush-frequency=0"}, wantErr: "flushFrequency: Invalid value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions(io.Discard, io.Discard)
			cmd := NewCommand(context.Background(), o)
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			errs := validateLogging(o.Logs)
			if tc.wantErr != "" {
				if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.wantErr) {
					t.Fatalf("%v: errors %v, want one saying %q", tc.args, errs, tc.wantErr)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatalf("%v: %v", tc.args, errs)
			}
			if o.Logs.Format != tc.wantFormat || o.Logs.Verbosity != logsapi.VerbosityLevel(tc.wantV) {
				t.Errorf("%v: format %q verbosity %d, want %q and %d", tc.args, o.Logs.Format, o.Logs.Verbosity, tc.wantFormat, tc.wantV)
			}
		})
	}
}

// TestJSONLoggingApplies applies --logging-format=json as the server does and
// checks that a message comes out as a JSON object.
func TestJSONLoggingApplies(t *testing.T) {
	o := NewOptions(io.Discard, io.Discard)
	cmd := NewCommand(context.Background(), o)
	if err := cmd.ParseFlags([]string{"--logging-format=json"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := logsapi.ResetForTest(utilfeature.DefaultFeatureGate); err != nil {
			t.Error(err)
		}
	})
	var out bytes.Buffer
	if err := logsapi.ValidateAndApplyWithOptions(o.Logs, &logsapi.LoggingOptions{ErrorStream: &out, InfoStream: &out}, utilfeature.DefaultFeatureGate); err != nil {
		t.Fatal(err)
	}
	klog.InfoS("Leased", "mac", "02:00:00:00:00:0a")
	klog.Flush()
	var entry map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &entry); err != nil {
		t.Fatalf("log output %q is not one JSON object: %v", out.String(), err)
	}
	if entry["msg"] != "Leased" || entry["mac"] != "02:00:00:00:00:0a" {
		t.Errorf("log entry %v: want msg Leased and mac 02:00:00:00:00:0a", entry)
	}
}
