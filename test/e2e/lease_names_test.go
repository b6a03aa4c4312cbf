package e2e

import (
	"context"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

var _ = Describe("A MacLease named by its MAC as people type it", func() {
	It("is got, patched, updated, read through its status and deleted by the colon form in any case, with kubectl", func(ctx context.Context) {
		tenantA := createNamespace(ctx, "names-a")
		tenantB := createNamespace(ctx, "names-b")
		mac := nextMAC()
		upper := strings.ToUpper(mac)
		createLease(ctx, tenantA, newLease(mac, "web-0"))

		By("get")
		for _, name := range []string{mac, upper, strings.ToUpper(leaseName(mac))} {
			Expect(mustKubectl("get", "ml", name, "-n", tenantA, "-o", "jsonpath={.metadata.name}")).To(Equal(leaseName(mac)), name)
		}
		Expect(mustKubectl("get", "ml", upper, "-n", tenantA)).To(ContainSubstring(mac))
		Expect(mustKubectl("get", "ml", mac, "-n", tenantA, "--subresource=status", "-o", "jsonpath={.spec.macAddress}")).To(Equal(mac))

		By("another namespace still cannot see it, by any spelling")
		_, err := kubectl("get", "ml", upper, "-n", tenantB)
		Expect(err).To(MatchError(ContainSubstring("NotFound")))
		_, err = kubectl("delete", "ml", mac, "-n", tenantB)
		Expect(err).To(MatchError(ContainSubstring("NotFound")))

		By("patch, of the lease and of its status")
		mustKubectl("label", "ml", upper, "-n", tenantA, "e2e.kubemacpool.io/spelling=colon")
		mustKubectl("patch", "ml", mac, "-n", tenantA, "--type=merge", `-p={"metadata":{"annotations":{"e2e.kubemacpool.io/patched":"yes"}}}`)
		mustKubectl("patch", "ml", upper, "-n", tenantA, "--subresource=status", "--type=merge", `-p={"metadata":{"annotations":{"e2e.kubemacpool.io/status":"yes"}}}`)
		lease, err := macClient.MacpoolV1alpha1().MacLeases(tenantA).Get(ctx, leaseName(mac), metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(lease.Labels).To(HaveKeyWithValue("e2e.kubemacpool.io/spelling", "colon"))
		Expect(lease.Annotations).To(HaveKeyWithValue("e2e.kubemacpool.io/patched", "yes"))

		By("update through the colon URL, the lease's own name in the body")
		lease.Labels["e2e.kubemacpool.io/updated"] = "yes"
		updated := &v1alpha1.MacLease{}
		Expect(macClient.MacpoolV1alpha1().RESTClient().Put().Namespace(tenantA).Resource("macleases").Name(upper).
			Body(lease).Do(ctx).Into(updated)).To(Succeed())
		Expect(updated.Name).To(Equal(leaseName(mac)))
		Expect(updated.Labels).To(HaveKeyWithValue("e2e.kubemacpool.io/updated", "yes"))

		By("something that is not a MAC stays not found")
		_, err = kubectl("get", "ml", mac[:8], "-n", tenantA)
		Expect(err).To(MatchError(ContainSubstring("NotFound")))

		By("delete")
		Expect(mustKubectl("delete", "ml", upper, "-n", tenantA)).To(ContainSubstring("deleted"))
		_, err = macClient.MacpoolV1alpha1().MacLeases(tenantA).Get(ctx, leaseName(mac), metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "get after delete: %v", err)
	})
})
