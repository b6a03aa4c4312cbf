package e2e

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/test/localcluster"
)

// createPoolFor makes a pool that selects only namespace, through a label
// set on it, and removes it after the spec.
func createPoolFor(ctx context.Context, namespace string, spec v1alpha1.MacPoolSpec) string {
	GinkgoHelper()
	labelNamespace(ctx, namespace, "e2e.kubemacpool.io/pool", namespace)
	spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"e2e.kubemacpool.io/pool": namespace}}
	pool, err := macClient.MacpoolV1alpha1().MacPools().Create(ctx, &v1alpha1.MacPool{
		ObjectMeta: metav1.ObjectMeta{Name: namespace},
		Spec:       spec,
	}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx context.Context) {
		Expect(macClient.MacpoolV1alpha1().MacPools().Delete(ctx, pool.Name, metav1.DeleteOptions{})).To(Succeed())
	})
	// The allocator learns about the pool through its watch: until then a
	// dry-run pod gets its MAC from the default pool.
	firstRange, err := mac.ParseRange(spec.Ranges[0].Start, spec.Ranges[0].End)
	Expect(err).NotTo(HaveOccurred())
	Eventually(func() (bool, error) {
		probe, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("probe", `[{"name":"probe"}]`), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return false, err
		}
		address, err := mac.Parse(podNetworks(probe)[0]["mac"].(string))
		return err == nil && firstRange.Contains(address), err
	}).WithContext(ctx).Should(BeTrue())
	return pool.Name
}

var _ = Describe("MacPools", func() {
	It("deny the allocation past a full pool with a message naming it and its size, until a MAC is freed", func(ctx context.Context) {
		namespace := createNamespace(ctx, "tiny")
		pool := createPoolFor(ctx, namespace, v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "0e:00:00:00:00:00", End: "0e:00:00:00:00:01"}}})

		first, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("first", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		second, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("second", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		firstMAC, secondMAC := podNetworks(first)[0]["mac"], podNetworks(second)[0]["mac"]
		Expect([]interface{}{firstMAC, secondMAC}).To(ConsistOf("0e:00:00:00:00:00", "0e:00:00:00:00:01"))

		_, err = kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("third", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).To(MatchError(ContainSubstring(`MAC pool "` + pool + `" is exhausted: all 2 addresses are leased`)))

		// Status and gauges come from the allocator's count.
		Eventually(func(g Gomega) {
			full, err := macClient.MacpoolV1alpha1().MacPools().Get(ctx, pool, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(full.Status.Capacity).To(BeEquivalentTo(2))
			g.Expect(full.Status.Allocated).To(BeEquivalentTo(2))
			g.Expect(full.Status.Free).To(BeEquivalentTo(0))
			g.Expect(full.Status.Conditions).To(ContainElement(HaveField("Reason", "Exhausted")))
		}).WithContext(ctx).Should(Succeed())
		Expect(mustKubectl("get", "macpool", pool)).To(MatchRegexp(pool + `\s+0e:00:00:00:00:00-0e:00:00:00:00:01\s+2\s+2\s+0\s`))
		metrics := scrapeMetrics()
		Expect(metrics).To(ContainSubstring(`kmp_pool_capacity{pool="` + pool + `"} 2`))
		Expect(metrics).To(ContainSubstring(`kmp_pool_allocated{pool="` + pool + `"} 2`))
		Expect(metrics).To(MatchRegexp(`kmp_allocation_duration_seconds_count\{pool="` + pool + `",result="exhausted"\} [1-9]`))

		// Deleting the lease alone frees nothing while the pod carries the
		// MAC (the controller leases it again); deleting the pod does.
		Expect(kubeClient.CoreV1().Pods(namespace).Delete(ctx, "first", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})).To(Succeed())
		Eventually(func() error {
			_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("fourth", `[{"name":"br1"}]`), metav1.CreateOptions{})
			return err
		}).WithContext(ctx).Should(Succeed())
		fourth, err := kubeClient.CoreV1().Pods(namespace).Get(ctx, "fourth", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(fourth)[0]["mac"]).To(Equal(firstMAC))
	})

	It("never hand out a statically reserved MAC", func(ctx context.Context) {
		namespace := createNamespace(ctx, "reserved")
		// The reservation exists before the pool, as an administrator
		// would reserve the address of a physical host first.
		createLease(ctx, namespace, &v1alpha1.MacLease{ObjectMeta: metav1.ObjectMeta{Name: "0e-00-00-02-00-00"}})
		pool := createPoolFor(ctx, namespace, v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "0e:00:00:02:00:00", End: "0e:00:00:02:00:01"}}})

		pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("only", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(pod)[0]["mac"]).To(Equal("0e:00:00:02:00:01"))
		_, err = kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("none-left", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).To(MatchError(ContainSubstring(`MAC pool "` + pool + `" is exhausted`)))
		Expect(leaseView(ctx, namespace)).To(HaveKeyWithValue("0e:00:00:02:00:00", v1alpha1MacLeaseView{}), "the reservation is untouched")
	})

	It("apply a day-2 range change to the next allocation and keep the leases outside the new range", func(ctx context.Context) {
		namespace := createNamespace(ctx, "day2")
		pool := createPoolFor(ctx, namespace, v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "0e:00:00:03:00:00", End: "0e:00:00:03:00:ff"}}})
		before, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("before", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		oldMAC := podNetworks(before)[0]["mac"].(string)
		Expect(oldMAC).To(HavePrefix("0e:00:00:03:00:"))

		mustKubectl("patch", "macpool", pool, "--type=merge", `-p={"spec":{"ranges":[{"start":"0e:00:00:04:00:00","end":"0e:00:00:04:00:ff"}]}}`)
		Eventually(func() (string, error) {
			pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("after", `[{"name":"br1"}]`), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				return "", err
			}
			return podNetworks(pod)[0]["mac"].(string), nil
		}).WithContext(ctx).Should(HavePrefix("0e:00:00:04:00:"))
		after, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("after", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(after)[0]["mac"]).To(HavePrefix("0e:00:00:04:00:"))
		Expect(leaseView(ctx, namespace)).To(HaveKey(oldMAC), "the lease outside the new range stays valid")
	})

	It("with conflictPolicy Reject deny a requested MAC that another namespace holds", func(ctx context.Context) {
		holder := createNamespace(ctx, "holder")
		held := nextMAC()
		createLease(ctx, holder, newLease(held, "holder"))

		strict := createNamespace(ctx, "strict")
		createPoolFor(ctx, strict, v1alpha1.MacPoolSpec{
			Ranges:         []v1alpha1.MACRange{{Start: "0e:00:00:01:00:00", End: "0e:00:00:01:00:ff"}},
			ConflictPolicy: v1alpha1.ConflictPolicyReject,
		})
		_, err := kubeClient.CoreV1().Pods(strict).Create(ctx, newPod("copycat", `[{"name":"br1"},{"name":"br2","mac":"`+held+`"}]`), metav1.CreateOptions{})
		Expect(err).To(MatchError(ContainSubstring("MAC address " + held + " requested for " + strict + "/br2 is already in use by another object")))
		Expect(leasesOf(ctx, strict)).To(BeEmpty(), "the MAC allocated for br1 was released with the denial")
	})
})

var _ = Describe("Opt-in mode", Ordered, func() {
	AfterAll(func(ctx context.Context) {
		registerWebhooks(ctx, localcluster.WebhookOptOut)
	})

	It("manages only namespaces labelled allocate, for pods and virtual machines separately", func(ctx context.Context) {
		registerWebhooks(ctx, localcluster.WebhookOptIn)
		unlabelled := createNamespace(ctx, "optin-none")
		pod, err := kubeClient.CoreV1().Pods(unlabelled).Create(ctx, newPod("untouched", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(pod)[0]).NotTo(HaveKey("mac"))

		vmsOnly := createNamespace(ctx, "optin-vms")
		labelNamespace(ctx, vmsOnly, "mutatevirtualmachines.kubemacpool.io", "allocate")
		eventuallyVMsWebhook(ctx, vmsOnly, true)
		pod, err = kubeClient.CoreV1().Pods(vmsOnly).Create(ctx, newPod("untouched", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(pod)[0]).NotTo(HaveKey("mac"), "the pods webhook has its own label")

		podsToo := createNamespace(ctx, "optin-pods")
		labelNamespace(ctx, podsToo, "mutatepods.kubemacpool.io", "allocate")
		eventuallyPodsWebhook(ctx, podsToo, true)
		pod, err = kubeClient.CoreV1().Pods(podsToo).Create(ctx, newPod("mutated", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(pod)[0]).To(HaveKey("mac"))

		// The VM webhook follows its own label, not the pods one.
		vm, err := createVM(ctx, vmsOnly, newVM("mutated", vmInterface{name: "default", masquerade: true}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(vmMACs(vm)["default"]).NotTo(BeEmpty())
		vm, err = createVM(ctx, podsToo, newVM("untouched", vmInterface{name: "default", masquerade: true}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(vmMACs(vm)["default"]).To(BeEmpty())
	})
})
