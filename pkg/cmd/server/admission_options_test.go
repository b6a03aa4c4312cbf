package server

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission/plugin/resourcequota"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	genericapiserver "k8s.io/apiserver/pkg/server"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	basecompatibility "k8s.io/component-base/compatibility"
	baseversion "k8s.io/component-base/version"

	"kubemacpool.io/kubemacpool/pkg/admission/leaseprotection"
	"kubemacpool.io/kubemacpool/pkg/admission/reservationscope"
	"kubemacpool.io/kubemacpool/pkg/apiserver"
)

func TestAdmissionPluginsAreRegisteredWithQuotaLast(t *testing.T) {
	order := NewOptions(io.Discard, io.Discard).RecommendedOptions.Admission.RecommendedPluginOrder
	if n := len(order); n < 3 || order[n-1] != resourcequota.PluginName ||
		!slices.Contains(order, reservationscope.PluginName) || !slices.Contains(order, leaseprotection.PluginName) {
		t.Errorf("plugin order %v: want %s and %s in it and %s last", order, reservationscope.PluginName, leaseprotection.PluginName, resourcequota.PluginName)
	}
}

// parsedOptions parses args as the command does and returns the options,
// completed, and what Validate says of them.
func parsedOptions(t *testing.T, args []string) (*Options, error) {
	t.Helper()
	o := NewOptions(io.Discard, io.Discard)
	flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.AddFlags(flags)
	if err := flags.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	return o, o.Validate()
}

// The admission bounds' flags: their defaults, a value taken, and a refused
// one named in the error.
func TestAdmissionBoundFlags(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		flag  string
		want  int
		error string
	}{
		{flag: "max-macs-per-object", want: DefaultMaxMACsPerObject},
		{args: []string{"--max-macs-per-object=4"}, flag: "max-macs-per-object", want: 4},
		{args: []string{"--max-macs-per-object=0"}, flag: "max-macs-per-object", want: 0, error: "--max-macs-per-object must be at least 1, got 0"},
		{args: []string{"--max-macs-per-object=-1"}, flag: "max-macs-per-object", want: -1, error: "--max-macs-per-object must be at least 1, got -1"},
		{flag: "max-reservations-per-namespace", want: DefaultMaxReservationsPerNamespace},
		{args: []string{"--max-reservations-per-namespace=10"}, flag: "max-reservations-per-namespace", want: 10},
		{args: []string{"--max-reservations-per-namespace=0"}, flag: "max-reservations-per-namespace", want: 0},
		{args: []string{"--max-reservations-per-namespace=-1"}, flag: "max-reservations-per-namespace", want: -1,
			error: "--max-reservations-per-namespace must not be negative (0 sets no limit), got -1"},
	} {
		o, err := parsedOptions(t, tc.args)
		got := o.MaxMACsPerObject
		if tc.flag == "max-reservations-per-namespace" {
			got = o.MaxReservationsPerNamespace
		}
		if got != tc.want {
			t.Errorf("%v: --%s is %d, want %d", tc.args, tc.flag, got, tc.want)
		}
		switch {
		case tc.error == "" && err != nil && strings.Contains(err.Error(), tc.flag):
			t.Errorf("%v: %v", tc.args, err)
		case tc.error != "" && (err == nil || !strings.Contains(err.Error(), tc.error)):
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.error)
		}
	}
}

// TestAdmissionChainInitializes builds the admission chain as the server
// does: every plugin must get what its ValidateInitialization asks for.
func TestAdmissionChainInitializes(t *testing.T) {
	o := NewOptions(io.Discard, io.Discard)
	// Only the server's own plugins and NamespaceLifecycle: the generic
	// webhook and policy plugins need a real discovery client.
	for _, name := range o.RecommendedOptions.Admission.RecommendedPluginOrder {
		switch name {
		case reservationscope.PluginName, leaseprotection.PluginName, resourcequota.PluginName, "NamespaceLifecycle":
		default:
			o.RecommendedOptions.Admission.DisablePlugins = append(o.RecommendedOptions.Admission.DisablePlugins, name)
		}
	}
	c := genericapiserver.NewRecommendedConfig(apiserver.Codecs)
	c.LoopbackClientConfig = &rest.Config{Host: "https://127.0.0.1:1"}
	c.Authorization.Authorizer = authorizerfactory.NewAlwaysAllowAuthorizer()
	kube := kubefake.NewClientset()
	c.SharedInformerFactory = informers.NewSharedInformerFactory(kube, 0)
	initializers, err := o.admissionInitializers(c)
	if err != nil {
		t.Fatal(err)
	}
	if o.macInformers == nil {
		t.Fatal("no MacPool informer factory kept for the server to start")
	}
	err = o.RecommendedOptions.Admission.ApplyTo(&c.Config, c.SharedInformerFactory, kube, dynamicfake.NewSimpleDynamicClient(runtime.NewScheme()),
		utilfeature.DefaultFeatureGate, basecompatibility.NewEffectiveVersionFromString(baseversion.DefaultKubeBinaryVersion, "", ""), initializers...)
	if err != nil {
		t.Fatalf("building the admission chain: %v", err)
	}
}
