package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

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

// TestJSONLoggingApplies applies --logging-format=json as the command does
// and checks that a message comes out as a JSON object. Applying changes the
// process's logger, which goroutines of other tests read: it runs in a fresh
// process, this test binary started again.
func TestJSONLoggingApplies(t *testing.T) {
	if os.Getenv("KUBEMACPOOL_TEST_JSON_LOGGING") == "1" {
		o := NewOptions(io.Discard, io.Discard)
		cmd := NewCommand(context.Background(), o)
		if err := cmd.ParseFlags([]string{"--logging-format=json"}); err != nil {
			t.Fatal(err)
		}
		if err := applyLogging(o.Logs); err != nil {
			t.Fatal(err)
		}
		klog.InfoS("Leased", "mac", "02:00:00:00:00:0a")
		klog.Flush()
		return
	}
	child := exec.Command(os.Args[0], "-test.run=^TestJSONLoggingApplies$")
	child.Env = append(os.Environ(), "KUBEMACPOOL_TEST_JSON_LOGGING=1")
	var stderr bytes.Buffer
	child.Stderr = &stderr
	if err := child.Run(); err != nil {
		t.Fatalf("the child failed: %v\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == "Leased" {
			if entry["mac"] != "02:00:00:00:00:0a" {
				t.Errorf("log entry %v: want mac 02:00:00:00:00:0a", entry)
			}
			return
		}
	}
	t.Errorf("no JSON log entry with msg Leased in %q", stderr.String())
}
