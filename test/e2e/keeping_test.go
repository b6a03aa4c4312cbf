package e2e

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// Issue 8 §3: no path frees a lease while an object still carries its MAC.
var _ = Describe("Keeping a lease while its MAC is in use", func() {
	var namespace string

	BeforeEach(func(ctx context.Context) {
		namespace = createNamespace(ctx, "keeping")
	})

	It("binds a VirtualMachine created with generateName", func(ctx context.Context) {
		vm := newVM("", vmInterface{name: "default", masquerade: true})
		vm.GenerateName = "gen-vm-"
		created, err := createVM(ctx, namespace, vm, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		owners := eventuallyBound(ctx, namespace, 1)
		for _, owner := range owners {
			Expect(owner).To(Equal("VirtualMachine/" + created.Name))
		}
	})

	It("keeps a running pod's lease deleted by hand, Terminating, until the pod is gone", func(ctx context.Context) {
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("keeper", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		eventuallyBound(ctx, namespace, 1)
		var name string
		for _, lease := range leasesOf(ctx, namespace) {
			name = lease.Name
			Expect(lease.Finalizers).To(ContainElement("macpool.kubemacpool.io/mac-protection"))
		}
		// kubectl would wait for a deletion that waits for the pod.
		Expect(mustKubectl("delete", "maclease", "-n", namespace, name, "--wait=false")).To(ContainSubstring("deleted"))
		Eventually(func() *metav1.Time { return getLease(ctx, namespace, name).DeletionTimestamp }).WithContext(ctx).ShouldNot(BeNil())
		Consistently(func() error {
			_, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Get(ctx, name, metav1.GetOptions{})
			return err
		}).WithContext(ctx).WithTimeout(3*time.Second).Should(Succeed(), "the MAC is still on the network")

		Expect(kubeClient.CoreV1().Pods(namespace).Delete(ctx, "keeper", metav1.DeleteOptions{})).To(Succeed())
		Eventually(func() bool {
			_, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		}).WithContext(ctx).Should(BeTrue())
	})

	It("lets a namespace admin delete a lease in use but not remove its protection; a cluster admin may", func(ctx context.Context) {
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("guarded", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		eventuallyBound(ctx, namespace, 1)
		var name string
		for _, lease := range leasesOf(ctx, namespace) {
			name = lease.Name
		}
		_, tenantKubeconfig := userWithRole(ctx, "admin-"+namespace, namespace, "admin")
		Expect(mustKubectlAs(tenantKubeconfig, "delete", "maclease", "-n", namespace, name, "--wait=false")).To(ContainSubstring("deleted"))
		terminating := getLease(ctx, namespace, name)
		Expect(terminating.DeletionTimestamp).NotTo(BeNil())

		// Without the finalizer the MAC would be free while the pod runs.
		unprotect := []string{"patch", "maclease", "-n", namespace, name, "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`}
		_, err = kubectlAs(tenantKubeconfig, unprotect...)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("Forbidden"))
		Expect(err.Error()).To(ContainSubstring("removing macpool.kubemacpool.io/mac-protection takes update permission on macleases/finalizers"))
		Expect(getLease(ctx, namespace, name).Finalizers).To(ContainElement("macpool.kubemacpool.io/mac-protection"))

		// A cluster admin may, for the case troubleshooting.md describes.
		mustKubectl(unprotect...)
		Eventually(func(g Gomega) {
			lease, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				// The pod still carries the MAC: the controller adopts it
				// again, in a new lease of the same name.
				g.Expect(lease.UID).NotTo(Equal(terminating.UID))
				return
			}
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%v", err)
		}).WithContext(ctx).Should(Succeed())
	})

	It("keeps the MAC of a reservation its namespace admin deleted until the reservation expires", func(ctx context.Context) {
		// Rejected by validation after the webhook: the lease stays a
		// reservation, as it is while a Pod is still on its way through
		// kube-apiserver, where it may yet be created with the MAC.
		pod := newPod("on-its-way", `[{"name":"br1"}]`)
		pod.Spec.Containers[0].Name = "Not_A_Valid_Name"
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "validation after the webhook rejects it: %v", err)
		leases := leasesOf(ctx, namespace)
		Expect(leases).To(HaveLen(1))
		var reserved v1alpha1.MacLease
		for _, lease := range leases {
			reserved = lease
		}
		Expect(reserved.Status.Phase).To(Equal(v1alpha1.MacLeasePhaseReserved))
		Expect(reserved.Finalizers).To(ContainElement("macpool.kubemacpool.io/mac-protection"))

		_, tenantKubeconfig := userWithRole(ctx, "admin-"+namespace, namespace, "admin")
		Expect(mustKubectlAs(tenantKubeconfig, "delete", "maclease", "-n", namespace, reserved.Name, "--wait=false")).To(ContainSubstring("deleted"))
		expiry := reserved.Status.ExpiresAt.Time
		Consistently(func(g Gomega) {
			lease, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Get(ctx, reserved.Name, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(lease.DeletionTimestamp).NotTo(BeNil())
		}).WithContext(ctx).WithTimeout(min(time.Until(expiry)-time.Second, 5*time.Second)).Should(Succeed(), "the reservation has not expired")
		Eventually(func() bool {
			_, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Get(ctx, reserved.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		}).WithContext(ctx).WithTimeout(reservationTTL+time.Minute).Should(BeTrue(), "gone once expired")
		Expect(time.Now()).To(BeTemporally(">=", expiry))
	})

	It("keeps the leases of a namespace being deleted until its pods have ended", func(ctx context.Context) {
		doomed := createNamespace(ctx, "doomed")
		// Bound to a node that runs no kubelet, the pod stays Terminating
		// after its graceful deletion, as a running one does through its
		// grace period.
		pod := newPod("lingering", `[{"name":"br1"}]`)
		pod.Spec.NodeName = "e2e-node-without-kubelet"
		// The namespace controller looks again after the pod's grace
		// period: a short one keeps the spec short.
		pod.Spec.TerminationGracePeriodSeconds = ptr.To[int64](5)
		_, err := kubeClient.CoreV1().Pods(doomed).Create(ctx, pod, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		eventuallyBound(ctx, doomed, 1)
		var name string
		for _, lease := range leasesOf(ctx, doomed) {
			name = lease.Name
		}

		// kube-controller-manager's namespace controller deletes the Pods
		// first and the rest of the namespace's content, leases included,
		// only once they are gone (OrderedNamespaceDeletion, on since
		// Kubernetes 1.33): the MAC stays leased while the pod runs.
		Expect(kubeClient.CoreV1().Namespaces().Delete(ctx, doomed, metav1.DeleteOptions{})).To(Succeed())
		Eventually(func(g Gomega) {
			current, err := kubeClient.CoreV1().Pods(doomed).Get(ctx, "lingering", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(current.DeletionTimestamp).NotTo(BeNil())
		}).WithContext(ctx).Should(Succeed())
		Consistently(func(g Gomega) {
			lease, err := macClient.MacpoolV1alpha1().MacLeases(doomed).Get(ctx, name, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(lease.DeletionTimestamp).To(BeNil())
		}).WithContext(ctx).WithTimeout(3*time.Second).Should(Succeed(), "the pod still runs with the MAC")

		// The kubelet would confirm the pod's end; nothing runs one here.
		Expect(kubeClient.CoreV1().Pods(doomed).Delete(ctx, "lingering", metav1.DeleteOptions{GracePeriodSeconds: new(int64)})).To(Succeed())
		Eventually(func() bool {
			_, err := kubeClient.CoreV1().Namespaces().Get(ctx, doomed, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		}).WithContext(ctx).Should(BeTrue(), "the namespace is deleted, its lease with it")
	})

	It("keeps a deleted VM's lease while its VMI still reports the MAC, and releases it once the VMI is gone", func(ctx context.Context) {
		created, err := createVM(ctx, namespace, newVM("graceful", vmInterface{name: "default", masquerade: true}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		eventuallyBound(ctx, namespace, 1)
		address := vmMACs(created)["default"]
		// Nothing runs KubeVirt here: the VMI and its status are written
		// as virt-controller and virt-handler would.
		runVMI(ctx, namespace, "graceful", address)
		// The VMI owns the lease too, so that the garbage collector keeps
		// it when the VM goes.
		Eventually(func(g Gomega) {
			lease, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Get(ctx, leaseName(address), metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(lease.OwnerReferences).To(HaveLen(2))
		}).WithContext(ctx).Should(Succeed())
		Expect(dynamicClient.Resource(vmResource).Namespace(namespace).Delete(ctx, "graceful", metav1.DeleteOptions{})).To(Succeed())
		Consistently(func(g Gomega) {
			_, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Get(ctx, leaseName(address), metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
		}).WithContext(ctx).WithTimeout(10 * time.Second).Should(Succeed())
		Expect(dynamicClient.Resource(vmiResource).Namespace(namespace).Delete(ctx, "graceful", metav1.DeleteOptions{})).To(Succeed())
		Eventually(func() bool {
			_, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Get(ctx, leaseName(address), metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		}).WithContext(ctx).Should(BeTrue())
	})

	It("denies a pod that asks for one MAC on two networks, naming both", func(ctx context.Context) {
		address := nextMAC()
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx,
			newPod("twice", `[{"name":"br1","mac":"`+address+`"},{"name":"br2","mac":"`+strings.ToUpper(address)+`"}]`), metav1.CreateOptions{})
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("duplicate MAC address " + address + " found on networks: " + namespace + "/br1 and " + namespace + "/br2"))
		var status apierrors.APIStatus
		Expect(errors.As(err, &status)).To(BeTrue())
		Expect(status.Status().Code).To(BeEquivalentTo(http.StatusUnprocessableEntity))
		Expect(leasesOf(ctx, namespace)).To(BeEmpty())
	})

	It("counts no collision with a pod that finished", func(ctx context.Context) {
		shared := nextMAC()
		// The pod that finished first; the controller sees its phase before
		// the second pod, since both come on one watch of Pods, in order.
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("done", `[{"name":"br1","mac":"`+shared+`"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		done, err := kubeClient.CoreV1().Pods(namespace).Get(ctx, "done", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		done.Status.Phase = corev1.PodSucceeded
		_, err = kubeClient.CoreV1().Pods(namespace).UpdateStatus(ctx, done, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("running", `[{"name":"br1","mac":"`+shared+`"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		// network-status says multus wired both pods.
		for _, name := range []string{"done", "running"} {
			_, err := kubeClient.CoreV1().Pods(namespace).Patch(ctx, name, "application/merge-patch+json",
				[]byte(`{"metadata":{"annotations":{"k8s.v1.cni.cncf.io/network-status":"[]"}}}`), metav1.PatchOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
		Consistently(scrapeMetrics).WithContext(ctx).WithTimeout(10 * time.Second).ShouldNot(ContainSubstring(`kmp_mac_collisions{mac="` + shared + `"}`))
		events, err := kubeClient.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: "reason=MACCollision"})
		Expect(err).NotTo(HaveOccurred())
		Expect(events.Items).To(BeEmpty())

		By("checking that the same two pods collide while both run")
		other := nextMAC()
		for _, name := range []string{"first", "second"} {
			_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod(name, `[{"name":"br1","mac":"`+other+`"}]`), metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
		Eventually(scrapeMetrics).WithContext(ctx).Should(ContainSubstring(`kmp_mac_collisions{mac="` + other + `"}`))
	})
})

// Deleting KubeVirt's CRDs affects every spec that uses VMs: nothing else
// runs meanwhile, and the CRDs are back before the next spec.
var _ = Describe("KubeVirt removed and installed again while the server runs", Serial, Ordered, func() {
	It("keeps watching VirtualMachines: a VM created afterwards keeps its lease Bound through several TTLs", func(ctx context.Context) {
		crds := []string{"virtualmachines.kubevirt.io", "virtualmachineinstances.kubevirt.io"}
		artifacts, err := filepath.Abs("../../artifacts/crds")
		Expect(err).NotTo(HaveOccurred())
		restore := func() {
			for _, file := range []string{"kubevirt.io_virtualmachines.yaml", "kubevirt.io_virtualmachineinstances.yaml"} {
				mustKubectl("apply", "-f", filepath.Join(artifacts, file))
			}
			mustKubectl(append([]string{"wait", "--for=condition=Established", "--timeout=60s", "crd"}, crds...)...)
		}
		DeferCleanup(restore)
		mustKubectl(append([]string{"delete", "crd", "--wait=true", "--timeout=120s"}, crds...)...)
		Eventually(func() bool {
			_, err := kubeClient.Discovery().ServerResourcesForGroupVersion("kubevirt.io/v1")
			return apierrors.IsNotFound(err)
		}).WithContext(ctx).Should(BeTrue())
		// Long enough for the server to notice KubeVirt is gone.
		Consistently(func() bool {
			_, err := kubeClient.Discovery().ServerResourcesForGroupVersion("kubevirt.io/v1")
			return apierrors.IsNotFound(err)
		}).WithContext(ctx).WithTimeout(15 * time.Second).Should(BeTrue())
		restore()

		namespace := createNamespace(ctx, "kubevirt-back")
		var created string
		Eventually(func() error {
			vm, err := createVM(ctx, namespace, newVM("returning", vmInterface{name: "default", masquerade: true}), metav1.CreateOptions{})
			if err == nil {
				created = vm.Name
			}
			return err
		}).WithContext(ctx).Should(Succeed())
		eventuallyBound(ctx, namespace, 1)
		Consistently(func(g Gomega) {
			leases := leasesOf(ctx, namespace)
			g.Expect(leases).To(HaveLen(1))
			for _, lease := range leases {
				g.Expect(lease.Status.Phase).To(BeEquivalentTo("Bound"))
				g.Expect(lease.Spec.Owner.Name).To(Equal(created))
			}
		}).WithContext(ctx).WithTimeout(3 * reservationTTL).WithPolling(time.Second).Should(Succeed())
	})
})

// getLease reads one lease, which must exist.
func getLease(ctx context.Context, namespace, name string) *v1alpha1.MacLease {
	GinkgoHelper()
	lease, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	return lease
}
