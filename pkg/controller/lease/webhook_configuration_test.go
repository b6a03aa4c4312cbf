package lease

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kubefake "k8s.io/client-go/kubernetes/fake"

	versionedfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

// TestManagedFollowsTheNamedWebhookConfiguration checks that the controller
// reads the namespaceSelectors of the webhook configuration it is given (the
// one --certificate-webhook-configuration-name names), not a fixed name.
func TestManagedFollowsTheNamedWebhookConfiguration(t *testing.T) {
	optIn := func(name string) *admissionregistrationv1.MutatingWebhookConfiguration {
		return &admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name: podWebhookName,
				NamespaceSelector: &metav1.LabelSelector{
					MatchLabels: map[string]string{podWebhookName: "allocate"},
				},
			}},
		}
	}
	for _, tc := range []struct {
		name       string
		configName string
		installed  string
		want       bool
	}{
		{name: "the named opt-in configuration leaves an unlabelled namespace alone", configName: "kubemacpool-mutator-custom", installed: "kubemacpool-mutator-custom", want: false},
		{name: "the default name, installed in opt-in", installed: DefaultWebhookConfigurationName, want: false},
		{name: "another configuration is not ours: opt-out applies", configName: "kubemacpool-mutator-custom", installed: DefaultWebhookConfigurationName, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leases := versionedfake.NewSimpleClientset()
			config, _ := withInformers(Config{
				Leases: leases, LeaseInformer: internalLeaseInformer(leases), Kube: kubefake.NewClientset(),
				Metrics: metrics.New(), WebhookConfigurationName: tc.configName,
			})
			c, err := New(config)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.namespaces.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "plain"}}); err != nil {
				t.Fatal(err)
			}
			if err := c.webhooks.Add(optIn(tc.installed)); err != nil {
				t.Fatal(err)
			}
			if got := c.managed(kindPod, "plain"); got != tc.want {
				t.Errorf("managed(Pod, plain) = %v, want %v", got, tc.want)
			}
		})
	}
}

// The parsed selectors follow the configuration: an update, which the
// informer delivers as a new object, is read again.
func TestWebhookSelectorsFollowUpdates(t *testing.T) {
	configuration := func(selector *metav1.LabelSelector, names ...string) *admissionregistrationv1.MutatingWebhookConfiguration {
		c := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: DefaultWebhookConfigurationName}}
		for _, name := range names {
			c.Webhooks = append(c.Webhooks, admissionregistrationv1.MutatingWebhook{Name: name, NamespaceSelector: selector})
		}
		return c
	}
	optIn := &metav1.LabelSelector{MatchLabels: map[string]string{podWebhookName: "allocate"}}
	broken := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Nonsense"}}}
	labelled := labels.Set{podWebhookName: "allocate"}
	var s webhookSelectors
	for _, step := range []struct {
		name          string
		configuration *admissionregistrationv1.MutatingWebhookConfiguration
		want          string // "nil", or whether an unlabelled and a labelled namespace match
	}{
		{"opt-in", configuration(optIn, podWebhookName), "false true"},
		{"no selector", configuration(nil, podWebhookName), "true true"},
		{"no such webhook", configuration(optIn, vmWebhookName), "nil"},
		{"a selector that does not parse", configuration(broken, podWebhookName), "nil"},
		{"opt-in again", configuration(optIn, podWebhookName), "false true"},
	} {
		for round := 0; round < 2; round++ { // parsed, then cached
			got := "nil"
			if selector := s.of(step.configuration, podWebhookName); selector != nil {
				got = fmt.Sprintf("%v %v", selector.Matches(labels.Set{}), selector.Matches(labelled))
			}
			if got != step.want {
				t.Fatalf("%s, round %d: got %s, want %s", step.name, round, got, step.want)
			}
		}
	}
}

// BenchmarkManaged is the check an adoption makes for every Pod event.
func BenchmarkManaged(b *testing.B) {
	leases := versionedfake.NewSimpleClientset()
	config, _ := withInformers(Config{Leases: leases, LeaseInformer: internalLeaseInformer(leases), Kube: kubefake.NewClientset(), Metrics: metrics.New()})
	c, err := New(config)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.namespaces.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: map[string]string{podWebhookName: "allocate"}}}); err != nil {
		b.Fatal(err)
	}
	if err := c.webhooks.Add(&admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultWebhookConfigurationName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: podWebhookName, NamespaceSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: podWebhookName, Operator: metav1.LabelSelectorOpIn, Values: []string{"allocate"}}},
		}}},
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !c.managed(kindPod, "ns") {
			b.Fatal("not managed")
		}
	}
}

// An installation upgraded without its webhook configuration leaves some
// writes of a Pod's networks annotation unchecked; the controller computes
// which routes are missing and says so once for each missing set.
func TestMissingPodRoutes(t *testing.T) {
	const (
		create = admissionregistrationv1.Create
		update = admissionregistrationv1.Update
		all    = admissionregistrationv1.OperationAll
	)
	namespaced, cluster := admissionregistrationv1.NamespacedScope, admissionregistrationv1.ClusterScope
	type ops = []admissionregistrationv1.OperationType
	rule := func(operations ops, resources ...string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{Operations: operations, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: resources, Scope: &namespaced}}
	}
	inGroups := func(r admissionregistrationv1.RuleWithOperations, groups ...string) admissionregistrationv1.RuleWithOperations {
		r.APIGroups = groups
		return r
	}
	configuration := func(rules ...admissionregistrationv1.RuleWithOperations) *admissionregistrationv1.MutatingWebhookConfiguration {
		return &admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: DefaultWebhookConfigurationName},
			Webhooks: []admissionregistrationv1.MutatingWebhook{
				{Name: podWebhookName, Rules: rules},
				{Name: vmWebhookName, Rules: []admissionregistrationv1.RuleWithOperations{inGroups(rule(ops{create, update}, "virtualmachines"), "kubevirt.io")}},
			},
		}
	}
	// current is the rule of artifacts/webhook and chart 0.3.1.
	current := rule(ops{create, update}, "pods", "pods/status", "pods/binding", "bindings")
	// lateChart031 is the rule of chart 0.3.1 until late on 2026-12-01.
	lateChart031 := configuration(rule(ops{create, update}, "pods", "pods/status", "pods/binding"))
	const (
		podsUpdate     = "pods UPDATE"
		statusUpdate   = "pods/status UPDATE"
		bindingCreate  = "pods/binding CREATE"
		bindingsCreate = "bindings CREATE"
	)
	for _, tc := range []struct {
		name string
		// old is the configuration before, nil for an add (a new term or a
		// new configuration).
		old, configuration *admissionregistrationv1.MutatingWebhookConfiguration
		wantMissing        []string
		wantWarning        bool
	}{
		{name: "every route, as in this version", configuration: configuration(current)},
		{name: "every route, one rule each",
			configuration: configuration(rule(ops{create, update}, "pods"), rule(ops{update}, "pods/status"), rule(ops{create}, "pods/binding"), rule(ops{create}, "bindings"))},

		{name: "no Pod UPDATE", wantMissing: []string{podsUpdate}, wantWarning: true,
			configuration: configuration(rule(ops{create}, "pods"), rule(ops{create, update}, "pods/status", "pods/binding", "bindings"))},
		{name: "no pods/status UPDATE", wantMissing: []string{statusUpdate}, wantWarning: true,
			configuration: configuration(rule(ops{create, update}, "pods", "pods/binding", "bindings"), rule(ops{create}, "pods/status"))},
		{name: "no pods/binding CREATE", wantMissing: []string{bindingCreate}, wantWarning: true,
			configuration: configuration(rule(ops{create, update}, "pods", "pods/status", "bindings"), rule(ops{update}, "pods/binding"))},
		{name: "no bindings CREATE, as until late on 2026-12-01", wantMissing: []string{bindingsCreate}, wantWarning: true,
			configuration: configuration(rule(ops{create, update}, "pods", "pods/status", "pods/binding"))},
		{name: "chart 0.3.0: pods only", wantMissing: []string{statusUpdate, bindingCreate, bindingsCreate}, wantWarning: true,
			configuration: configuration(rule(ops{create, update}, "pods"))},
		{name: "before chart 0.3.0: creates of pods only", wantMissing: []string{podsUpdate, statusUpdate, bindingCreate, bindingsCreate}, wantWarning: true,
			configuration: configuration(rule(ops{create}, "pods"))},
		{name: "a Pod webhook without rules", wantMissing: []string{podsUpdate, statusUpdate, bindingCreate, bindingsCreate}, wantWarning: true,
			configuration: configuration()},

		{name: "OperationAll", configuration: configuration(rule(ops{all}, "pods", "pods/status", "pods/binding", "bindings"))},
		{name: "pods/* covers pods and its subresources", configuration: configuration(rule(ops{create, update}, "pods/*", "bindings"))},
		{name: "*/status", configuration: configuration(rule(ops{create, update}, "pods", "*/status", "pods/binding", "bindings"))},
		{name: "*/* covers everything", configuration: configuration(rule(ops{create, update}, "*/*"))},
		{name: "* is every resource but no subresource", wantMissing: []string{statusUpdate, bindingCreate}, wantWarning: true,
			configuration: configuration(rule(ops{create, update}, "*"))},
		{name: "every API group", configuration: configuration(inGroups(current, "*"))},
		{name: "the core group among others", configuration: configuration(inGroups(current, "apps", ""))},
		{name: "another API group only", wantMissing: []string{podsUpdate, statusUpdate, bindingCreate, bindingsCreate}, wantWarning: true,
			configuration: configuration(inGroups(current, "apps"))},
		{name: "the right routes split over two groups", wantMissing: []string{statusUpdate, bindingCreate}, wantWarning: true,
			configuration: configuration(rule(ops{create, update}, "pods", "bindings"), inGroups(rule(ops{create, update}, "pods/status", "pods/binding"), "apps"))},
		{name: "another version only", wantMissing: []string{podsUpdate, statusUpdate, bindingCreate, bindingsCreate}, wantWarning: true,
			configuration: func() *admissionregistrationv1.MutatingWebhookConfiguration {
				r := current
				r.APIVersions = []string{"v2"}
				return configuration(r)
			}()},
		{name: "cluster scope only", wantMissing: []string{podsUpdate, statusUpdate, bindingCreate, bindingsCreate}, wantWarning: true,
			configuration: func() *admissionregistrationv1.MutatingWebhookConfiguration {
				r := current
				r.Scope = &cluster
				return configuration(r)
			}()},

		{name: "no Pod webhook installed (opted out wholesale)",
			configuration: &admissionregistrationv1.MutatingWebhookConfiguration{
				ObjectMeta: metav1.ObjectMeta{Name: DefaultWebhookConfigurationName},
				Webhooks:   []admissionregistrationv1.MutatingWebhook{{Name: vmWebhookName}},
			}},

		{name: "a resync of a configuration said already", wantMissing: []string{bindingsCreate},
			old: lateChart031, configuration: lateChart031},
		{name: "an update that changes nothing", wantMissing: []string{bindingsCreate},
			old:           configuration(rule(ops{create, update}, "pods", "pods/status", "pods/binding")),
			configuration: configuration(rule(ops{create, update}, "pods", "pods/status", "pods/binding"))},
		{name: "an update that leaves the missing set alone", wantMissing: []string{statusUpdate, bindingCreate, bindingsCreate},
			old:           configuration(rule(ops{create, update}, "pods")),
			configuration: configuration(rule(ops{create, update}, "pods"), rule(ops{create}, "pods/status", "configmaps"))},
		{name: "an update that loses a route", wantMissing: []string{bindingCreate, bindingsCreate}, wantWarning: true,
			old:           configuration(rule(ops{create, update}, "pods", "pods/status", "pods/binding")),
			configuration: configuration(rule(ops{create, update}, "pods", "pods/status"))},
		{name: "an update that restores some routes, not all", wantMissing: []string{bindingsCreate}, wantWarning: true,
			old:           configuration(rule(ops{create, update}, "pods")),
			configuration: configuration(rule(ops{create, update}, "pods", "pods/status", "pods/binding"))},
		{name: "an update that restores every route",
			old:           configuration(rule(ops{create, update}, "pods")),
			configuration: configuration(current)},
		{name: "an update that drops every route after an opt-out", wantMissing: []string{podsUpdate, statusUpdate, bindingCreate, bindingsCreate}, wantWarning: true,
			old: &admissionregistrationv1.MutatingWebhookConfiguration{
				ObjectMeta: metav1.ObjectMeta{Name: DefaultWebhookConfigurationName},
				Webhooks:   []admissionregistrationv1.MutatingWebhook{{Name: vmWebhookName}},
			},
			configuration: configuration(rule(ops{create}, "pods"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, route := range missingPodRoutes(tc.configuration) {
				got = append(got, route.String())
			}
			if !slices.Equal(got, tc.wantMissing) {
				t.Errorf("missing routes %q, want %q", got, tc.wantMissing)
			}

			var warnings []string
			c := &Controller{config: Config{WebhookConfigurationName: DefaultWebhookConfigurationName},
				warn: func(args ...interface{}) { warnings = append(warnings, fmt.Sprint(args...)) }}
			var old interface{} // nil, as the informer's add hands it
			if tc.old != nil {
				old = tc.old
			}
			c.onWebhookConfiguration(old, tc.configuration)
			if !tc.wantWarning {
				if len(warnings) != 0 {
					t.Fatalf("warned %q, want no warning", warnings)
				}
				return
			}
			if len(warnings) != 1 {
				t.Fatalf("warned %q, want one warning", warnings)
			}
			for _, route := range requiredPodRoutes {
				if named, want := strings.Contains(warnings[0], route.String()), slices.Contains(tc.wantMissing, route.String()); named != want {
					t.Errorf("warning %q names %s: %v, want %v", warnings[0], route, named, want)
				}
				if told, want := strings.Contains(warnings[0], route.unchecked), slices.Contains(tc.wantMissing, route.String()); told != want {
					t.Errorf("warning %q says %q is unchecked: %v, want %v", warnings[0], route.unchecked, told, want)
				}
			}
		})
	}
}

// Only the configuration this server manages is looked at; another one
// missing every route is not its business.
func TestMissingPodRoutesOfAnotherConfiguration(t *testing.T) {
	var warnings []string
	c := &Controller{config: Config{WebhookConfigurationName: "kubemacpool-mutator-custom"},
		warn: func(args ...interface{}) { warnings = append(warnings, fmt.Sprint(args...)) }}
	c.onWebhookConfiguration(nil, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultWebhookConfigurationName},
		Webhooks:   []admissionregistrationv1.MutatingWebhook{{Name: podWebhookName}},
	})
	if len(warnings) != 0 {
		t.Errorf("warned %q about a configuration not ours", warnings)
	}
}

// The informer hands the handler a sequence: the warning follows the
// missing set through it, not the events.
func TestWebhookConfigurationWarningsFollowTheMissingSet(t *testing.T) {
	var warnings []string
	c := &Controller{config: Config{WebhookConfigurationName: DefaultWebhookConfigurationName},
		warn: func(args ...interface{}) { warnings = append(warnings, fmt.Sprint(args...)) }}
	withResources := func(resources ...string) *admissionregistrationv1.MutatingWebhookConfiguration {
		return &admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: DefaultWebhookConfigurationName},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: podWebhookName, Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: resources},
			}}}},
		}
	}
	chart030 := withResources("pods")
	relabelled := withResources("pods")
	relabelled.Labels = map[string]string{"app": "kubemacpool"}
	lateChart031 := withResources("pods", "pods/status", "pods/binding")
	current := withResources("pods", "pods/status", "pods/binding", "bindings")
	runConfigurationSteps(t, c, &warnings, []configurationStep{
		{"added, three routes missing", chart030, 1},
		{"resynced", chart030, 1},
		{"relabelled", relabelled, 1},
		{"one route missing", lateChart031, 2},
		{"resynced", lateChart031, 2},
		{"complete", current, 2},
		{"three missing again", chart030, 3},
	})
}

// configurationStep is one configuration the informer hands the handler,
// and the warnings given in all once it has.
type configurationStep struct {
	name          string
	configuration *admissionregistrationv1.MutatingWebhookConfiguration
	warnings      int
}

// runConfigurationSteps hands c the steps' configurations in order, each
// with the one before as the old object, as the informer does.
func runConfigurationSteps(t *testing.T, c *Controller, warnings *[]string, steps []configurationStep) {
	t.Helper()
	var previous interface{}
	for _, step := range steps {
		c.onWebhookConfiguration(previous, step.configuration)
		previous = step.configuration
		if len(*warnings) != step.warnings {
			t.Fatalf("after %q: %d warnings %q, want %d", step.name, len(*warnings), *warnings, step.warnings)
		}
	}
}

// The VM webhook's condition up to chart 0.3.1 skipped a VM created through
// server-side apply with a deletionTimestamp: the leader says so once for
// each configuration that starts to have it, and not about the current one,
// one without a VM webhook, or another configuration.
func TestAVMConditionThatSkipsCreatesIsSaid(t *testing.T) {
	var warnings []string
	c := &Controller{config: Config{WebhookConfigurationName: DefaultWebhookConfigurationName},
		warn: func(args ...interface{}) { warnings = append(warnings, fmt.Sprint(args...)) }}
	// Pod routes all present, so that only the VM condition can warn.
	podWebhook := admissionregistrationv1.MutatingWebhook{Name: podWebhookName, Rules: []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods", "pods/status", "pods/binding", "bindings"}},
	}}}
	withVMCondition := func(name string, expressions ...string) *admissionregistrationv1.MutatingWebhookConfiguration {
		vm := admissionregistrationv1.MutatingWebhook{Name: vmWebhookName}
		for i, expression := range expressions {
			vm.MatchConditions = append(vm.MatchConditions, admissionregistrationv1.MatchCondition{Name: fmt.Sprint("c", i), Expression: expression})
		}
		return &admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Webhooks:   []admissionregistrationv1.MutatingWebhook{podWebhook, vm},
		}
	}
	old := withVMCondition(DefaultWebhookConfigurationName, "!has(object.metadata.deletionTimestamp)")
	oldSpaced := withVMCondition(DefaultWebhookConfigurationName, " !has(object.metadata.deletionTimestamp)\n")
	current := withVMCondition(DefaultWebhookConfigurationName, "request.operation == 'CREATE' || !has(object.metadata.deletionTimestamp)")
	noVMWebhook := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultWebhookConfigurationName},
		Webhooks:   []admissionregistrationv1.MutatingWebhook{podWebhook},
	}
	c.onWebhookConfiguration(nil, withVMCondition("kubemacpool-mutator-other", skippingVMCreates))
	if len(warnings) != 0 {
		t.Fatalf("warned %q about a configuration not ours", warnings)
	}
	runConfigurationSteps(t, c, &warnings, []configurationStep{
		{"the current condition", current, 0},
		{"the old condition installed", old, 1},
		{"resynced", old, 1},
		{"the same condition, spaced", oldSpaced, 1},
		{"upgraded", current, 1},
		{"the old one back", old, 2},
		{"the VM webhook removed", noVMWebhook, 2},
	})
	if !strings.Contains(warnings[0], vmWebhookName) || !strings.Contains(warnings[0], "server-side apply") {
		t.Errorf("the warning %q does not name the webhook and what goes unchecked", warnings[0])
	}
}
