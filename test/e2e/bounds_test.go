package e2e

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// maxMACsPerObject is the server's default --max-macs-per-object, which
// the suite's server runs with.
const maxMACsPerObject = 32

// maxReservationsPerNamespace is the suite server's
// --max-reservations-per-namespace, below the default so that a spec reaches it.
const maxReservationsPerNamespace = 64

// leaseQuota is the ResourceQuota resource that counts MacLeases.
const leaseQuota corev1.ResourceName = "count/macleases.macpool.kubemacpool.io"

// expectClientError checks that err is a 4xx whose message has every one of
// parts.
func expectClientError(err error, code int32, parts ...string) {
	GinkgoHelper()
	Expect(err).To(HaveOccurred())
	status, ok := err.(apierrors.APIStatus)
	Expect(ok).To(BeTrue(), "not an API status: %v", err)
	Expect(status.Status().Code).To(Equal(code), "%v", err)
	for _, part := range parts {
		Expect(err.Error()).To(ContainSubstring(part))
	}
}

// staticLease is a reservation without owner.
func staticLease(address string) *v1alpha1.MacLease {
	return &v1alpha1.MacLease{ObjectMeta: metav1.ObjectMeta{Name: leaseName(address)}, Spec: v1alpha1.MacLeaseSpec{MACAddress: address}}
}

var _ = Describe("Bounded reservations", func() {
	It("deny a Pod with more networks than --max-macs-per-object, naming the limit, and lease nothing", func(ctx context.Context) {
		namespace := createNamespace(ctx, "cap-pod")
		networks := make([]string, maxMACsPerObject+1)
		for i := range networks {
			networks[i] = fmt.Sprintf(`{"name":"net%d"}`, i)
		}
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("many", "["+strings.Join(networks, ",")+"]"), metav1.CreateOptions{})
		expectClientError(err, 422, "metadata.annotations[k8s.v1.cni.cncf.io/networks]",
			fmt.Sprintf("%d networks exceed the limit of %d MAC addresses per object (--max-macs-per-object)", maxMACsPerObject+1, maxMACsPerObject))
		Expect(leasesOf(ctx, namespace)).To(BeEmpty())
	})

	It("deny a VirtualMachine with more managed interfaces than --max-macs-per-object, naming the limit, and lease nothing", func(ctx context.Context) {
		namespace := createNamespace(ctx, "cap-vm")
		interfaces := []vmInterface{{name: "default", masquerade: true}}
		for i := 1; i <= maxMACsPerObject; i++ {
			interfaces = append(interfaces, vmInterface{name: fmt.Sprintf("nic%d", i)})
		}
		_, err := createVM(ctx, namespace, newVM("many", interfaces...), metav1.CreateOptions{})
		expectClientError(err, 422, "spec.template.spec.domain.devices.interfaces",
			fmt.Sprintf("%d interfaces that get a MAC address exceed the limit of %d MAC addresses per object (--max-macs-per-object)", maxMACsPerObject+1, maxMACsPerObject))
		Expect(leasesOf(ctx, namespace)).To(BeEmpty())
	})

	It("count a namespace's MacLeases against its ResourceQuota, the webhook's included, and leave no lease of a denied Pod", func(ctx context.Context) {
		namespace := createNamespace(ctx, "quota")
		_, err := kubeClient.CoreV1().ResourceQuotas(namespace).Create(ctx, &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: "leases"},
			Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{leaseQuota: resource.MustParse("2")}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		By("waiting for kube-controller-manager to compute the quota's usage from this server's API")
		Eventually(func(g Gomega) {
			quota, err := kubeClient.CoreV1().ResourceQuotas(namespace).Get(ctx, "leases", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(quota.Status.Hard).To(HaveKey(leaseQuota))
			g.Expect(quota.Status.Used).To(HaveKey(leaseQuota))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())

		first := nextMAC()
		createLease(ctx, namespace, staticLease(first))

		By("a Pod needing two MACs, one more than the quota has left: the first lease is made, the second refused")
		_, err = kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("two", `[{"name":"br1"},{"name":"br2"}]`), metav1.CreateOptions{})
		expectClientError(err, 403, "exceeded quota: leases", string(leaseQuota))
		Expect(leasesOf(ctx, namespace)).To(ConsistOf(HaveField("Spec.MACAddress", first)), "the lease made for the denied pod's first network is gone")

		By("a second lease, once kube-controller-manager has counted the released one out")
		second := nextMAC()
		Eventually(func() error {
			_, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Create(ctx, staticLease(second), metav1.CreateOptions{})
			return err
		}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())

		By("a third lease by hand")
		_, err = macClient.MacpoolV1alpha1().MacLeases(namespace).Create(ctx, staticLease(nextMAC()), metav1.CreateOptions{})
		expectClientError(err, 403, "exceeded quota: leases")

		By("a Pod needing a third MAC")
		_, err = kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("third", `[{"name":"br1"}]`), metav1.CreateOptions{})
		expectClientError(err, 403, "exceeded quota: leases", string(leaseQuota))
		Expect(leasesOf(ctx, namespace)).To(HaveLen(2))
	})

	It("hold the reservations of Pods that kube-apiserver's pod quota rejects at --max-reservations-per-namespace, with a 429 naming it, until they expire", func(ctx context.Context) {
		namespace := createNamespace(ctx, "reservations")
		other := createNamespace(ctx, "reservations-other")
		_, err := kubeClient.CoreV1().ResourceQuotas(namespace).Create(ctx, &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: "no-pods"},
			Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		By("waiting for kube-controller-manager to compute the quota's usage")
		Eventually(func(g Gomega) {
			quota, err := kubeClient.CoreV1().ResourceQuotas(namespace).Get(ctx, "no-pods", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(quota.Status.Used).To(HaveKey(corev1.ResourcePods))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())

		const perPod = 8
		networks := make([]string, perPod)
		for i := range networks {
			networks[i] = fmt.Sprintf(`{"name":"net%d"}`, i)
		}
		annotation := "[" + strings.Join(networks, ",") + "]"
		reserved := func() int {
			n := 0
			for _, lease := range leasesOf(ctx, namespace) {
				Expect(lease.Status.Phase).To(Equal(v1alpha1.MacLeasePhaseReserved), "lease %s", lease.Name)
				n++
			}
			return n
		}

		By(fmt.Sprintf("Pods with %d networks each, which the webhook leases and the pod quota then rejects: their reservations stay", perPod))
		for i := range maxReservationsPerNamespace / perPod {
			_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod(fmt.Sprintf("rejected-%d", i), annotation), metav1.CreateOptions{})
			expectClientError(err, 403, "exceeded quota: no-pods")
		}
		Eventually(reserved).WithContext(ctx).Should(Equal(maxReservationsPerNamespace))

		By("the next Pod is refused before any lease, with a 429 that names the limit")
		// The count is the server's lease informer's, a moment behind the
		// API: one more object's leases may pass, never more.
		Eventually(func(g Gomega) {
			_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("limited", annotation), metav1.CreateOptions{})
			g.Expect(apierrors.IsTooManyRequests(err)).To(BeTrue(), "%v", err)
			g.Expect(err.Error()).To(ContainSubstring("--max-reservations-per-namespace"))
			g.Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("at most %d", maxReservationsPerNamespace)))
			g.Expect(err.Error()).To(ContainSubstring("try again later"))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		Expect(reserved()).To(BeNumerically("<=", maxReservationsPerNamespace+perPod))

		By("another namespace still gets its MACs")
		pod, err := kubeClient.CoreV1().Pods(other).Create(ctx, newPod("served", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(pod)[0]).To(HaveKey("mac"))

		By("the reservations expire, and the namespace may reserve again")
		Eventually(reserved).WithContext(ctx).WithTimeout(reservationTTL + time.Minute).WithPolling(time.Second).Should(BeZero())
		Eventually(func() error {
			_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("after", annotation), metav1.CreateOptions{})
			return err
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(MatchError(ContainSubstring("exceeded quota: no-pods")))
	})

	It("let a namespace reserve addresses only inside its own pool or outside every pool", func(ctx context.Context) {
		own := createNamespace(ctx, "scope-own")
		other := createNamespace(ctx, "scope-other")
		createPoolFor(ctx, own, v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "0e:00:00:05:00:00", End: "0e:00:00:05:00:ff"}}})
		otherPool := createPoolFor(ctx, other, v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "0e:00:00:06:00:00", End: "0e:00:00:06:00:ff"}}})
		admin, _ := userWithRole(ctx, "admin-"+own, own, "admin")

		By("inside its own pool")
		Eventually(func() error {
			_, err := admin.MacLeases(own).Create(ctx, staticLease("0e:00:00:05:00:01"), metav1.CreateOptions{})
			return err
		}).WithContext(ctx).Should(Succeed())
		By("outside every pool")
		_, err := admin.MacLeases(own).Create(ctx, staticLease(nextMAC()), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		By("inside the pool dedicated to another namespace, with and without an owner")
		for _, lease := range []*v1alpha1.MacLease{staticLease("0e:00:00:06:00:01"), newLease("0e:00:00:06:00:02", "squatter")} {
			_, err = admin.MacLeases(own).Create(ctx, lease, metav1.CreateOptions{})
			expectClientError(err, 403, "spec.macAddress: "+lease.Spec.MACAddress,
				fmt.Sprintf("is inside MacPool %q, which does not serve namespace %q", otherPool, own))
		}
		Expect(leasesOf(ctx, own)).To(HaveLen(2))

		By("the other namespace's pods still get its addresses")
		pod, err := kubeClient.CoreV1().Pods(other).Create(ctx, newPod("served", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(pod)[0]["mac"]).To(HavePrefix("0e:00:00:06:00:"))
	})
})
