package e2e

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/test/localcluster"
)

// registerWebhooks installs kubemacpool-mutator in mode and returns once
// kube-apiserver calls the webhooks as mode says, so that the next create
// meets the configuration just written rather than the one before it.
func registerWebhooks(ctx context.Context, mode localcluster.WebhookMode) {
	GinkgoHelper()
	Expect(cluster.RegisterWebhooks(ctx, mode)).To(Succeed())
	// The default namespace carries no label: only opt-out mode manages it.
	managed := mode == localcluster.WebhookOptOut
	eventuallyPodsWebhook(ctx, metav1.NamespaceDefault, managed)
	eventuallyVMsWebhook(ctx, metav1.NamespaceDefault, managed)
}

// unregisterWebhooks removes kubemacpool-mutator and returns once
// kube-apiserver no longer calls it.
func unregisterWebhooks(ctx context.Context) {
	GinkgoHelper()
	Expect(cluster.UnregisterWebhooks(ctx)).To(Succeed())
	eventuallyPodsWebhook(ctx, metav1.NamespaceDefault, false)
	eventuallyVMsWebhook(ctx, metav1.NamespaceDefault, false)
}

// eventuallyPodsWebhook waits until kube-apiserver calls the pods webhook for
// namespace, or stops calling it, as mutates says. kube-apiserver matches a
// webhook's namespace selector against its own informers, which see a new
// label or webhook configuration some time after the write returns; a
// dry-run create shows when they have, and leases nothing.
func eventuallyPodsWebhook(ctx context.Context, namespace string, mutates bool) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		dry, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("probe", `[{"name":"probe"}]`), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(podNetworks(dry)[0]).To(WithTransform(func(network map[string]interface{}) bool { return network["mac"] != nil }, Equal(mutates)))
	}).WithContext(ctx).Should(Succeed(), "the pods webhook called for %s: %t", namespace, mutates)
}

// eventuallyVMsWebhook is eventuallyPodsWebhook for the VM webhook.
func eventuallyVMsWebhook(ctx context.Context, namespace string, mutates bool) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		dry, err := createVM(ctx, namespace, newVM("probe", vmInterface{name: "default", masquerade: true}), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(vmMACs(dry)["default"] != "").To(Equal(mutates))
	}).WithContext(ctx).Should(Succeed(), "the VM webhook called for %s: %t", namespace, mutates)
}
