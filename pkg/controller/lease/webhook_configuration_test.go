package lease

import (
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
