package e2e

import (
	"context"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
)

var _ = Describe("MacPool spec.exclude and range warnings", func() {
	It("hand out only the addresses a tiny pool does not exclude, count only them, and refuse a requested excluded MAC", func(ctx context.Context) {
		namespace := createNamespace(ctx, "exclude")
		pool := createPoolFor(ctx, namespace, v1alpha1.MacPoolSpec{
			// Left over: 0e:00:00:12:00:00 and 0e:00:00:12:00:07.
			Ranges: []v1alpha1.MACRange{{Start: "0e:00:00:12:00:00", End: "0e:00:00:12:00:07"}},
			Exclude: []v1alpha1.MACRange{
				{Start: "0e:00:00:12:00:01", End: "0e:00:00:12:00:03"},
				{Start: "0e:00:00:12:00:04", End: "0e:00:00:12:00:06"},
				{Start: "0e:00:00:12:00:05", End: "0e:00:00:12:00:05"},
			},
		})
		Eventually(func(g Gomega) {
			current, err := macClient.MacpoolV1alpha1().MacPools().Get(ctx, pool, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(current.Status.Capacity).To(BeEquivalentTo(2))
			g.Expect(current.Status.Free).To(BeEquivalentTo(2))
		}).WithContext(ctx).Should(Succeed())

		var handed []interface{}
		for _, name := range []string{"first", "second"} {
			pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod(name, `[{"name":"br1"}]`), metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
			handed = append(handed, podNetworks(pod)[0]["mac"])
		}
		Expect(handed).To(ConsistOf("0e:00:00:12:00:00", "0e:00:00:12:00:07"))
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("third", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).To(MatchError(ContainSubstring(`MAC pool "` + pool + `" is exhausted: all 2 addresses are leased`)))
		Eventually(func(g Gomega) {
			current, err := macClient.MacpoolV1alpha1().MacPools().Get(ctx, pool, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(current.Status.Capacity).To(BeEquivalentTo(2))
			g.Expect(current.Status.Allocated).To(BeEquivalentTo(2))
			g.Expect(current.Status.Free).To(BeEquivalentTo(0))
		}).WithContext(ctx).Should(Succeed())
		Expect(mustKubectl("get", "macpool", pool, "-o", "wide")).To(MatchRegexp(
			pool + `\s+0e:00:00:12:00:00-0e:00:00:12:00:07\s+2\s+2\s+0\s+Warn\s+0e:00:00:12:00:01-0e:00:00:12:00:03,0e:00:00:12:00:04-0e:00:00:12:00:06,0e:00:00:12:00:05-0e:00:00:12:00:05\s`))

		By("a requested excluded MAC is refused, naming spec.exclude; a static reservation of the namespace lets it through")
		_, err = kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("excluded", `[{"name":"br1","mac":"0e:00:00:12:00:02"}]`), metav1.CreateOptions{})
		expectClientError(err, 422, `MAC address 0e:00:00:12:00:02 requested for `+namespace+`/br1 is in spec.exclude of MacPool "`+pool+`"`)
		createLease(ctx, namespace, &v1alpha1.MacLease{ObjectMeta: metav1.ObjectMeta{Name: "0e-00-00-12-00-02"}})
		pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("excluded", `[{"name":"br1","mac":"0e:00:00:12:00:02"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(pod)[0]["mac"]).To(Equal("0e:00:00:12:00:02"))
	})

	It("refuse a namespace admin's static reservation of an excluded MAC; a Role on macleases/exclude grants one", func(ctx context.Context) {
		namespace := createNamespace(ctx, "exclude-tenant")
		const inRange, host = "0e:00:00:14:00:01", "0e:00:00:14:ff:01" // the host MAC lies outside every range
		pool := createPoolFor(ctx, namespace, v1alpha1.MacPoolSpec{
			Ranges:  []v1alpha1.MACRange{{Start: "0e:00:00:14:00:00", End: "0e:00:00:14:00:07"}},
			Exclude: []v1alpha1.MACRange{{Start: "0e:00:00:14:00:00", End: "0e:00:00:14:00:03"}, {Start: host, End: host}},
		})
		admin, adminKubeconfig := userWithRole(ctx, "admin-"+namespace, namespace, "admin")
		// The aggregated admin role reaches the user through the controller
		// manager's aggregation, asynchronously: wait for an ordinary lease.
		Eventually(func() error {
			_, err := admin.MacLeases(namespace).Create(ctx, staticLease("0e:00:00:14:00:05"), metav1.CreateOptions{})
			return err
		}).WithContext(ctx).Should(Succeed())

		By("the namespace admin may not reserve an excluded MAC, inside the pool's range or outside every range")
		for _, address := range []string{inRange, host} {
			_, err := admin.MacLeases(namespace).Create(ctx, staticLease(address), metav1.CreateOptions{})
			expectClientError(err, 403, `spec.macAddress: `+address+` is in spec.exclude of MacPool "`+pool+`"`,
				`takes create permission on macleases/exclude in namespace "`+namespace+`"`)
			_, err = macClient.MacpoolV1alpha1().MacLeases(namespace).Get(ctx, leaseName(address), metav1.GetOptions{})
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%v", err)
		}
		answer, _ := kubectlAs(adminKubeconfig, "auth", "can-i", "create", "macleases.macpool.kubemacpool.io", "--subresource=exclude", "-n", namespace)
		Expect(strings.TrimSpace(answer)).To(Equal("no"))
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("tenant-handout", `[{"name":"br1","mac":"`+inRange+`"}]`), metav1.CreateOptions{})
		expectClientError(err, 422, `is in spec.exclude of MacPool "`+pool+`"`)

		By("a Role with create on macleases/exclude for one lease name hands out that address only")
		_, err = kubeClient.RbacV1().Roles(namespace).Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "hand-out-host"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.SchemeGroupVersion.Group}, Resources: []string{"macleases/exclude"},
				Verbs: []string{"create"}, ResourceNames: []string{leaseName(host)}}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = kubeClient.RbacV1().RoleBindings(namespace).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "hand-out-host"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "hand-out-host"},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "admin-" + namespace}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() error {
			_, err := admin.MacLeases(namespace).Create(ctx, staticLease(host), metav1.CreateOptions{})
			return err
		}).WithContext(ctx).Should(Succeed())
		_, err = admin.MacLeases(namespace).Create(ctx, staticLease(inRange), metav1.CreateOptions{})
		expectClientError(err, 403, "macleases/exclude")

		By("the cluster admin hands out the one inside the range, and a Pod of the namespace gets it")
		createLease(ctx, namespace, staticLease(inRange))
		pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("admin-handout", `[{"name":"br1","mac":"`+inRange+`"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(pod)[0]["mac"]).To(Equal(inRange))
	})

	It("accept a range that is not locally administered, or overlaps another pool, with a warning that says why", func(ctx context.Context) {
		config, collector := warningConfig()
		pools := versioned.NewForConfigOrDie(config).MacpoolV1alpha1().MacPools()
		create := func(name string, ranges ...v1alpha1.MACRange) {
			GinkgoHelper()
			_, err := pools.Create(ctx, &v1alpha1.MacPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.MacPoolSpec{
				Ranges:            ranges,
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"e2e.kubemacpool.io/never": name}},
			}}, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func(ctx context.Context) {
				Expect(macClient.MacpoolV1alpha1().MacPools().Delete(ctx, name, metav1.DeleteOptions{})).To(Succeed())
			})
		}
		create("e2e-warn-vendor", v1alpha1.MACRange{Start: "00:11:22:00:00:00", End: "00:11:22:00:00:ff"})
		Expect(collector.take()).To(ConsistOf(And(
			ContainSubstring("spec.ranges[0] (00:11:22:00:00:00-00:11:22:00:00:ff) holds universally administered addresses"),
			ContainSubstring("a physical NIC on the same L2 network may already use one"))))
		create("e2e-warn-overlap", v1alpha1.MACRange{Start: "00:11:22:00:00:80", End: "00:11:22:00:00:80"})
		Expect(collector.take()).To(ContainElement(ContainSubstring(
			`spec.ranges[0] (00:11:22:00:00:80-00:11:22:00:00:80) overlaps spec.ranges[0] (00:11:22:00:00:00-00:11:22:00:00:ff) of MacPool "e2e-warn-vendor"`)))
	})
})
