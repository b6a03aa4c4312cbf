package certificate

import (
	"context"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
	aggregatorfake "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset/fake"
)

// TestSyncCABundlesKeepsTheRestOfTheWebhooks: writing the caBundle must not
// drop what the installer configured, above all the matchConditions that
// keep Pods without networks away from the server.
func TestSyncCABundlesKeepsTheRestOfTheWebhooks(t *testing.T) {
	fail := admissionregistrationv1.Fail
	webhook := func(name, expression string) admissionregistrationv1.MutatingWebhook {
		return admissionregistrationv1.MutatingWebhook{
			Name:            name,
			ClientConfig:    admissionregistrationv1.WebhookClientConfig{CABundle: []byte("old")},
			FailurePolicy:   &fail,
			MatchConditions: []admissionregistrationv1.MatchCondition{{Name: "c", Expression: expression}},
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: name, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"ignore"}},
			}},
		}
	}
	installed := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "kubemacpool-mutator"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{
			webhook("mutatepods.kubemacpool.io", "has(object.metadata.annotations)"),
			webhook("mutatevirtualmachines.kubemacpool.io", "!has(object.metadata.deletionTimestamp)"),
		},
	}
	kube := kubefake.NewClientset(installed.DeepCopy())
	m := New(Config{Kube: kube, Aggregator: aggregatorfake.NewClientset(), APIServiceName: "v1alpha1.macpool.kubemacpool.io",
		WebhookConfigurationName: "kubemacpool-mutator"})
	if err := m.syncCABundles(context.Background(), []byte("new")); err != nil {
		t.Fatal(err)
	}
	got, err := kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(context.Background(), "kubemacpool-mutator", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := installed.DeepCopy()
	for i := range want.Webhooks {
		want.Webhooks[i].ClientConfig.CABundle = []byte("new")
	}
	if !equality.Semantic.DeepEqual(want.Webhooks, got.Webhooks) {
		t.Errorf("webhooks after the caBundle sync:\n%+v\nwant:\n%+v", got.Webhooks, want.Webhooks)
	}
}
