package server

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/apiserver/pkg/admission/plugin/resourcequota"

	"kubemacpool.io/kubemacpool/pkg/admission/reservationscope"
)

func TestAdmissionPluginsAreRegisteredWithQuotaLast(t *testing.T) {
	order := NewOptions(io.Discard, io.Discard).RecommendedOptions.Admission.RecommendedPluginOrder
	if n := len(order); n < 2 || order[n-1] != resourcequota.PluginName || !slices.Contains(order, reservationscope.PluginName) {
		t.Errorf("plugin order %v: want %s in it and %s last", order, reservationscope.PluginName, resourcequota.PluginName)
	}
}

func TestMaxMACsPerObject(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		want  int
		error string
	}{
		{want: DefaultMaxMACsPerObject},
		{args: []string{"--max-macs-per-object=4"}, want: 4},
		{args: []string{"--max-macs-per-object=0"}, want: 0, error: "--max-macs-per-object must be at least 1, got 0"},
		{args: []string{"--max-macs-per-object=-1"}, want: -1, error: "--max-macs-per-object must be at least 1, got -1"},
	} {
		o := NewOptions(io.Discard, io.Discard)
		flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
		o.AddFlags(flags)
		if err := flags.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if o.MaxMACsPerObject != tc.want {
			t.Errorf("%v: got %d, want %d", tc.args, o.MaxMACsPerObject, tc.want)
		}
		if err := o.Complete(); err != nil {
			t.Fatal(err)
		}
		err := o.Validate()
		switch {
		case tc.error == "" && err != nil && strings.Contains(err.Error(), "max-macs-per-object"):
			t.Errorf("%v: %v", tc.args, err)
		case tc.error != "" && (err == nil || !strings.Contains(err.Error(), tc.error)):
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.error)
		}
	}
}
