package lease

import (
	"fmt"
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

// An installation upgraded without its webhook configuration leaves Pod
// edits unchecked; the controller says so.
func TestPodUpdatesUnchecked(t *testing.T) {
	podRule := func(operations ...admissionregistrationv1.OperationType) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{Operations: operations,
			Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}
	}
	for _, tc := range []struct {
		name  string
		hooks []admissionregistrationv1.MutatingWebhook
		want  bool
	}{
		{name: "creates only, as before this version", want: true,
			hooks: []admissionregistrationv1.MutatingWebhook{{Name: podWebhookName, Rules: []admissionregistrationv1.RuleWithOperations{podRule(admissionregistrationv1.Create)}}}},
		{name: "creates and updates",
			hooks: []admissionregistrationv1.MutatingWebhook{{Name: podWebhookName, Rules: []admissionregistrationv1.RuleWithOperations{podRule(admissionregistrationv1.Create, admissionregistrationv1.Update)}}}},
		{name: "every operation",
			hooks: []admissionregistrationv1.MutatingWebhook{{Name: podWebhookName, Rules: []admissionregistrationv1.RuleWithOperations{podRule(admissionregistrationv1.OperationAll)}}}},
		{name: "updates of another resource only", want: true,
			hooks: []admissionregistrationv1.MutatingWebhook{{Name: podWebhookName, Rules: []admissionregistrationv1.RuleWithOperations{
				podRule(admissionregistrationv1.Create),
				{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update}, Rule: admissionregistrationv1.Rule{Resources: []string{"configmaps"}}}}}}},
		{name: "no Pod webhook installed",
			hooks: []admissionregistrationv1.MutatingWebhook{{Name: vmWebhookName}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			configuration := &admissionregistrationv1.MutatingWebhookConfiguration{Webhooks: tc.hooks}
			if got := podUpdatesUnchecked(configuration); got != tc.want {
				t.Errorf("podUpdatesUnchecked = %v, want %v", got, tc.want)
			}
		})
	}
}
