package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kubemacpool.io/kubemacpool/test/localcluster"
)

var _ = Describe("The lease controller", func() {
	var namespace string

	BeforeEach(func(ctx context.Context) {
		namespace = createNamespace(ctx, "lifecycle")
	})

	It("binds the leases of a generateName pod to the pod's final name and UID", func(ctx context.Context) {
		pod := newPod("", `[{"name":"br1"},{"name":"br2"}]`)
		pod.GenerateName = "worker-"
		created, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		owners := eventuallyBound(ctx, namespace, 2)
		for _, owner := range owners {
			Expect(owner).To(Equal("Pod/" + created.Name))
		}
		for _, lease := range leasesOf(ctx, namespace) {
			Expect(lease.OwnerReferences[0].UID).To(Equal(created.UID))
			Expect(lease.Status.ExpiresAt).To(BeNil())
		}
	})

	It("expires the lease of a pod that a later admission step rejected", func(ctx context.Context) {
		pod := newPod("rejected", `[{"name":"br1"}]`)
		pod.Spec.Containers[0].Name = "Not_A_Valid_Name"
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "validation after the webhook rejects it: %v", err)
		// The webhook leased a MAC before validation ran.
		Expect(leaseView(ctx, namespace)).To(HaveLen(1))
		Eventually(func() map[string]v1alpha1MacLeaseView { return leaseView(ctx, namespace) }).
			WithContext(ctx).WithTimeout(reservationTTL + time.Minute).Should(BeEmpty())
	})

	It("releases the leases of a deleted pod", func(ctx context.Context) {
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("doomed", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		eventuallyBound(ctx, namespace, 1)
		Expect(kubeClient.CoreV1().Pods(namespace).Delete(ctx, "doomed", metav1.DeleteOptions{GracePeriodSeconds: new(int64)})).To(Succeed())
		Eventually(func() map[string]v1alpha1MacLeaseView { return leaseView(ctx, namespace) }).WithContext(ctx).Should(BeEmpty())
	})

	It("frees every lease of a deleted namespace", func(ctx context.Context) {
		doomed, err := kubeClient.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "doomed-"}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = kubeClient.CoreV1().Pods(doomed.Name).Create(ctx, newPod("p", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = createVM(ctx, doomed.Name, newVM("v", vmInterface{name: "default", masquerade: true}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		createLease(ctx, doomed.Name, newLease(nextMAC(), "static"))
		Expect(leaseView(ctx, doomed.Name)).To(HaveLen(3))

		Expect(kubeClient.CoreV1().Namespaces().Delete(ctx, doomed.Name, metav1.DeleteOptions{})).To(Succeed())
		Eventually(func() bool {
			_, err := kubeClient.CoreV1().Namespaces().Get(ctx, doomed.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(BeTrue())
		all, err := macClient.MacpoolV1alpha1().MacLeases("").List(ctx, metav1.ListOptions{FieldSelector: "metadata.namespace=" + doomed.Name})
		Expect(err).NotTo(HaveOccurred())
		Expect(all.Items).To(BeEmpty())
	})
})

var _ = Describe("Adoption and collision detection", Ordered, func() {
	AfterAll(func(ctx context.Context) {
		registerWebhooks(ctx, localcluster.WebhookOptOut)
	})

	It("adopts the MACs of VMs created while the webhook was unregistered, and reports a collision among them", func(ctx context.Context) {
		first := createNamespace(ctx, "adopt-a")
		second := createNamespace(ctx, "adopt-b")
		shared, own := nextMAC(), nextMAC()

		unregisterWebhooks(ctx)
		// Nothing mutates now: the VMs keep exactly the MACs they were made with.
		Eventually(func() error {
			_, err := createVM(ctx, first, newVM("old-a", vmInterface{name: "default", masquerade: true, mac: shared}, vmInterface{name: "red", mac: own}), metav1.CreateOptions{})
			return err
		}).WithContext(ctx).Should(Succeed())
		_, err := createVM(ctx, second, newVM("old-b", vmInterface{name: "default", masquerade: true, mac: shared}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		registerWebhooks(ctx, localcluster.WebhookOptOut)

		// Each MAC gets exactly one Bound lease; the shared one goes to
		// whichever VM was adopted first.
		Eventually(func(g Gomega) {
			inFirst, inSecond := leaseView(ctx, first), leaseView(ctx, second)
			g.Expect(inFirst).To(HaveKeyWithValue(own, v1alpha1MacLeaseView{Owner: "VirtualMachine/old-a", Interface: "red", Phase: "Bound"}))
			_, sharedInFirst := inFirst[shared]
			_, sharedInSecond := inSecond[shared]
			g.Expect(sharedInFirst != sharedInSecond).To(BeTrue(), "the shared MAC is leased exactly once")
		}).WithContext(ctx).Should(Succeed())

		// Both VMs run: KubeVirt would report their MACs in VMI status.
		runVMI(ctx, first, "old-a", shared)
		runVMI(ctx, second, "old-b", shared)
		expectCollision(ctx, shared, "vmi/"+first+"/old-a", "vmi/"+second+"/old-b")

		Expect(dynamicClient.Resource(vmiResource).Namespace(second).Delete(ctx, "old-b", metav1.DeleteOptions{})).To(Succeed())
		Eventually(scrapeMetrics).WithContext(ctx).ShouldNot(ContainSubstring(`kmp_mac_collisions{mac="` + shared + `"}`))
	})

	It("reports a collision between a running pod and a running VMI, with events naming both", func(ctx context.Context) {
		namespace := createNamespace(ctx, "collide")
		shared := nextMAC()
		// network-status means multus wired the pod: it is on the network.
		pod := newPod("squatter", `[{"name":"br1","mac":"`+shared+`"}]`)
		pod.Annotations["k8s.v1.cni.cncf.io/network-status"] = `[]`
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		runVMI(ctx, namespace, "victim", shared)

		expectCollision(ctx, shared, "pod/"+namespace+"/squatter", "vmi/"+namespace+"/victim")
		Expect(kubeClient.CoreV1().Pods(namespace).Delete(ctx, "squatter", metav1.DeleteOptions{GracePeriodSeconds: new(int64)})).To(Succeed())
		Eventually(scrapeMetrics).WithContext(ctx).ShouldNot(ContainSubstring(`kmp_mac_collisions{mac="` + shared + `"}`))
	})
})

// runVMI creates a VirtualMachineInstance and writes the status KubeVirt
// would: Running, with the MAC on its interface.
func runVMI(ctx context.Context, namespace, name, address string) {
	GinkgoHelper()
	vmi := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "kubevirt.io/v1",
		"kind":       "VirtualMachineInstance",
		"metadata":   map[string]interface{}{"name": name, "namespace": namespace},
		"spec":       map[string]interface{}{"domain": map[string]interface{}{"devices": map[string]interface{}{}}},
	}}
	created, err := dynamicClient.Resource(vmiResource).Namespace(namespace).Create(ctx, vmi, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	created.Object["status"] = map[string]interface{}{
		"phase":      "Running",
		"interfaces": []interface{}{map[string]interface{}{"name": "default", "mac": strings.ToUpper(address)}},
	}
	_, err = dynamicClient.Resource(vmiResource).Namespace(namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	Expect(err).NotTo(HaveOccurred())
}

// expectCollision waits for the gauge of address to count the objects, and
// for a MACCollision event in the original's format on each of them.
func expectCollision(ctx context.Context, address string, keys ...string) {
	GinkgoHelper()
	Eventually(scrapeMetrics).WithContext(ctx).Should(ContainSubstring(`kmp_mac_collisions{mac="` + address + `"} 2`))
	Expect(scrapeMetrics()).To(MatchRegexp(`kubevirt_kmp_duplicate_macs [1-9]`))
	for _, key := range keys {
		parts := strings.SplitN(key, "/", 3)
		// An event in a namespace names only that namespace's objects and
		// counts the others.
		var own []string
		for _, other := range keys {
			if strings.SplitN(other, "/", 3)[1] == parts[1] {
				own = append(own, other)
			}
		}
		message := "MAC " + address + ": Collision between " + strings.Join(own, ", ")
		if elsewhere := len(keys) - len(own); elsewhere > 0 {
			message += fmt.Sprintf(" and %d object(s) in other namespaces", elsewhere)
		}
		Eventually(func() []string {
			events, err := kubeClient.CoreV1().Events(parts[1]).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + parts[2]})
			Expect(err).NotTo(HaveOccurred())
			var found []string
			for _, event := range events.Items {
				if event.Reason == "MACCollision" && event.Type == corev1.EventTypeWarning && event.Source.Component == "kubemacpool" {
					found = append(found, event.Message)
				}
			}
			return found
		}).WithContext(ctx).Should(ContainElement(message), "event on %s", key)
	}
}

// scrapeMetrics reads the plain Prometheus endpoint.
func scrapeMetrics() string {
	response, err := http.Get(cluster.MetricsURL())
	if err != nil {
		return err.Error()
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return err.Error()
	}
	return string(body)
}
