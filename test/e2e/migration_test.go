package e2e

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"kubemacpool.io/kubemacpool/test/localcluster"
)

// What the original Kubemacpool left on the VirtualMachines it managed.
const (
	legacyFinalizer                = "k8s.v1.cni.cncf.io/kubeMacPool"
	transactionTimestampAnnotation = "kubemacpool.io/transaction-timestamp"
)

// originalVM is a VirtualMachine as the original left it: MACs on its
// interfaces, its transaction timestamp and its finalizer.
func originalVM(name string, interfaces ...vmInterface) *kubevirtv1.VirtualMachine {
	vm := newVM(name, interfaces...)
	vm.Annotations = map[string]string{transactionTimestampAnnotation: "2024-03-01T10:00:00.123456789Z"}
	vm.Finalizers = []string{legacyFinalizer}
	return vm
}

// vmGone reports whether a VirtualMachine no longer exists.
func vmGone(ctx context.Context, namespace, name string) func() bool {
	return func() bool {
		_, err := dynamicClient.Resource(vmResource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}
}

// Serial: the spec stops kubemacpool-apiserver and unregisters the webhook,
// which would fail any spec running alongside.
var _ = Describe("Installing over a cluster the original Kubemacpool managed", Serial, func() {
	It("adopts its VMs' MACs, strips its finalizer so they can be deleted, also from a VM stuck in deletion, and ignores its timestamp", func(ctx context.Context) {
		namespace := createNamespace(ctx, "migrate")
		keptDefault, keptRed, doomedDefault := nextMAC(), nextMAC(), nextMAC()

		// The original ran here: no kubemacpool-apiserver, no lease
		// controller, no webhook of ours. Deferred after createNamespace so
		// that the server is back before the namespace's leases are deleted.
		stopped := false
		DeferCleanup(func(ctx context.Context) {
			if stopped {
				Expect(cluster.StartKubemacpool(ctx)).To(Succeed())
			}
			registerWebhooks(ctx, localcluster.WebhookOptOut)
		})
		unregisterWebhooks(ctx)
		Expect(cluster.StopKubemacpool()).To(Succeed())
		stopped = true

		_, err := createVM(ctx, namespace, originalVM("kept",
			vmInterface{name: "default", masquerade: true, mac: keptDefault}, vmInterface{name: "red", mac: keptRed}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = createVM(ctx, namespace, originalVM("doomed", vmInterface{name: "default", masquerade: true, mac: doomedDefault}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		// Deleted after the original was removed: only its finalizer keeps
		// it, Terminating.
		Expect(dynamicClient.Resource(vmResource).Namespace(namespace).Delete(ctx, "doomed", metav1.DeleteOptions{})).To(Succeed())
		Expect(getVM(ctx, namespace, "doomed").DeletionTimestamp).NotTo(BeNil())

		started := time.Now()
		Expect(cluster.StartKubemacpool(ctx)).To(Succeed())
		stopped = false
		registerWebhooks(ctx, localcluster.WebhookOptOut)
		GinkgoWriter.Printf("kubemacpool-apiserver was back and its webhook registered after %s\n", time.Since(started))

		By("freeing the VM stuck in deletion")
		Eventually(vmGone(ctx, namespace, "doomed")).WithContext(ctx).Should(BeTrue())

		By("stripping the finalizer of the live VM, and leaving its MACs and timestamp as they were")
		Eventually(func() []string { return getVM(ctx, namespace, "kept").Finalizers }).WithContext(ctx).Should(BeEmpty())
		kept := getVM(ctx, namespace, "kept")
		Expect(vmMACs(kept)).To(Equal(map[string]string{"default": keptDefault, "red": keptRed}))
		Expect(kept.Annotations).To(HaveKeyWithValue(transactionTimestampAnnotation, "2024-03-01T10:00:00.123456789Z"))

		By("adopting the live VM's MACs, and releasing the deleted one's")
		Eventually(func() map[string]v1alpha1MacLeaseView { return leaseView(ctx, namespace) }).WithContext(ctx).Should(Equal(map[string]v1alpha1MacLeaseView{
			keptDefault: {Owner: "VirtualMachine/kept", Interface: "default", Phase: "Bound"},
			keptRed:     {Owner: "VirtualMachine/kept", Interface: "red", Phase: "Bound"},
		}))

		By("admitting an update of the original's timestamp unchanged, through the webhook")
		mustKubectl("annotate", "--overwrite", "-n", namespace, "vm", "kept", transactionTimestampAnnotation+"=not a time")
		Expect(vmMACs(getVM(ctx, namespace, "kept"))).To(Equal(map[string]string{"default": keptDefault, "red": keptRed}))

		By("deleting the VM, which completes and releases its leases")
		Expect(dynamicClient.Resource(vmResource).Namespace(namespace).Delete(ctx, "kept", metav1.DeleteOptions{})).To(Succeed())
		Eventually(vmGone(ctx, namespace, "kept")).WithContext(ctx).Should(BeTrue())
		Eventually(func() map[string]v1alpha1MacLeaseView { return leaseView(ctx, namespace) }).WithContext(ctx).Should(BeEmpty())
	})
})
