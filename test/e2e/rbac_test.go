package e2e

import (
	"context"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	macpoolv1alpha1 "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/typed/macpool/v1alpha1"
)

var _ = Describe("RBAC", func() {
	It("lets a namespace viewer read leases there through the built-in view role, and nothing else", func(ctx context.Context) {
		own := createNamespace(ctx, "viewer-own")
		other := createNamespace(ctx, "viewer-other")
		ownMAC, otherMAC := nextMAC(), nextMAC()
		createLease(ctx, own, newLease(ownMAC, "mine"))
		createLease(ctx, other, newLease(otherMAC, "theirs"))

		viewer, kubeconfig := userWithRole(ctx, "viewer-"+own, own, "view")

		// The built-in view role gets our rules by aggregation, which the
		// controller manager performs asynchronously.
		Eventually(func() error {
			_, err := viewer.MacLeases(own).List(ctx, metav1.ListOptions{})
			return err
		}).WithContext(ctx).Should(Succeed())

		lease, err := viewer.MacLeases(own).Get(ctx, leaseName(ownMAC), metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(lease.Spec.MACAddress).To(Equal(ownMAC))
		watcher, err := viewer.MacLeases(own).Watch(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		watcher.Stop()
		Expect(mustKubectlAs(kubeconfig, "get", "macleases", "-n", own)).To(ContainSubstring(ownMAC))

		_, err = viewer.MacLeases(other).List(ctx, metav1.ListOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "list in another namespace: %v", err)
		_, err = viewer.MacLeases(other).Get(ctx, leaseName(otherMAC), metav1.GetOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "get in another namespace: %v", err)
		_, err = viewer.MacLeases("").List(ctx, metav1.ListOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "cluster-wide list: %v", err)
		_, err = kubectlAs(kubeconfig, "get", "macleases", "-A")
		Expect(err).To(MatchError(ContainSubstring("Forbidden")))

		_, err = viewer.MacLeases(own).Create(ctx, newLease(nextMAC(), "sneaky"), metav1.CreateOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "create: %v", err)
		err = viewer.MacLeases(own).Delete(ctx, leaseName(ownMAC), metav1.DeleteOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "delete: %v", err)

		for _, verb := range []string{"create", "delete", "patch", "update"} {
			answer, _ := kubectlAs(kubeconfig, "auth", "can-i", verb, "macleases.macpool.kubemacpool.io", "-n", own)
			Expect(strings.TrimSpace(answer)).To(Equal("no"), "can-i %s", verb)
		}
		for _, verb := range []string{"get", "list", "watch"} {
			answer, err := kubectlAs(kubeconfig, "auth", "can-i", verb, "macleases.macpool.kubemacpool.io", "-n", own)
			Expect(err).NotTo(HaveOccurred())
			Expect(strings.TrimSpace(answer)).To(Equal("yes"), "can-i %s", verb)
		}
	})

	It("lets a namespace admin make static reservations in that namespace only", func(ctx context.Context) {
		own := createNamespace(ctx, "admin-own")
		other := createNamespace(ctx, "admin-other")
		admin, kubeconfig := userWithRole(ctx, "admin-"+own, own, "admin")

		reserved := nextMAC()
		Eventually(func() error {
			_, err := admin.MacLeases(own).Create(ctx, newLease(reserved, "reserved"), metav1.CreateOptions{})
			return err
		}).WithContext(ctx).Should(Succeed())
		_, err := admin.MacLeases(other).Create(ctx, newLease(nextMAC(), "elsewhere"), metav1.CreateOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "create in another namespace: %v", err)
		_, err = admin.MacPools().Create(ctx, &v1alpha1.MacPool{
			ObjectMeta: metav1.ObjectMeta{Name: "tenant-pool"},
			Spec:       v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "0a:00:00:00:00:00", End: "0a:00:00:00:00:ff"}}},
		}, metav1.CreateOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "create pool: %v", err)
		answer, _ := kubectlAs(kubeconfig, "auth", "can-i", "create", "macpools.macpool.kubemacpool.io")
		Expect(strings.TrimSpace(answer)).To(Equal("no"))
		pools, err := admin.MacPools().List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred(), "every authenticated user may read pools")
		Expect(pools.Items).NotTo(BeEmpty())
		Expect(admin.MacLeases(own).Delete(ctx, leaseName(reserved), metav1.DeleteOptions{})).To(Succeed())
	})
})

// userWithRole binds a built-in ClusterRole to a new user in namespace and
// returns that user's client and kubeconfig.
func userWithRole(ctx context.Context, user, namespace, clusterRole string) (macpoolv1alpha1.MacpoolV1alpha1Interface, string) {
	GinkgoHelper()
	_, err := kubeClient.RbacV1().RoleBindings(namespace).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: clusterRole},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: clusterRole},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}},
	}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	kubeconfig, err := cluster.UserKubeconfig(user)
	Expect(err).NotTo(HaveOccurred())
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	return versioned.NewForConfigOrDie(config).MacpoolV1alpha1(), kubeconfig
}

func mustKubectlAs(kubeconfig string, args ...string) string {
	GinkgoHelper()
	output, err := kubectlAs(kubeconfig, args...)
	Expect(err).NotTo(HaveOccurred())
	return output
}
