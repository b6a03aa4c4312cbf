package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

const networksAnnotation = "k8s.v1.cni.cncf.io/networks"

// newPod returns a pod with the given networks annotation. Nothing runs it:
// there is no node, and the webhook acts at creation.
func newPod(name, networks string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{networksAnnotation: networks}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
	}
}

// podNetworks decodes the networks annotation of a pod as a JSON list.
func podNetworks(pod *corev1.Pod) []map[string]interface{} {
	GinkgoHelper()
	var networks []map[string]interface{}
	Expect(json.Unmarshal([]byte(pod.Annotations[networksAnnotation]), &networks)).To(Succeed(), pod.Annotations[networksAnnotation])
	return networks
}

// patchNetworks sets a pod's networks annotation with a merge patch, of the
// pod or of the subresource given.
func patchNetworks(ctx context.Context, namespace, name, networks string, subresource ...string) (*corev1.Pod, error) {
	GinkgoHelper()
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{networksAnnotation: networks}}})
	Expect(err).NotTo(HaveOccurred())
	return kubeClient.CoreV1().Pods(namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}, subresource...)
}

// leasesOf lists a namespace's leases by MAC.
func leasesOf(ctx context.Context, namespace string) map[string]v1alpha1.MacLease {
	GinkgoHelper()
	list, err := macClient.MacpoolV1alpha1().MacLeases(namespace).List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	byMAC := map[string]v1alpha1.MacLease{}
	for _, lease := range list.Items {
		byMAC[lease.Spec.MACAddress] = lease
	}
	return byMAC
}

var _ = Describe("The Pod webhook", func() {
	var namespace string

	BeforeEach(func(ctx context.Context) {
		namespace = createNamespace(ctx, "pods")
	})

	It("gives every network a distinct MAC, keeps every other field, and leases each MAC to the pod", func(ctx context.Context) {
		other := createNamespace(ctx, "pods-other")
		annotation := `[{"name":"br1","interface":"net1","ips":["10.0.0.5/24"],"cni-args":{"vlan":7},"futureField":true},{"name":"br2","namespace":"` + other + `"}]`
		pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("two-nets", annotation), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		networks := podNetworks(pod)
		Expect(networks).To(HaveLen(2))
		first, second := networks[0]["mac"].(string), networks[1]["mac"].(string)
		Expect(first).NotTo(BeEmpty())
		Expect(second).NotTo(BeEmpty())
		Expect(first).NotTo(Equal(second))
		for _, address := range []string{first, second} {
			parsed, err := mac.ParseUnicast(address)
			Expect(err).NotTo(HaveOccurred())
			Expect(parsed.Octet(0)).To(BeEquivalentTo(0x02), "from the default pool")
		}
		Expect(networks[0]).To(HaveKeyWithValue("interface", "net1"))
		Expect(networks[0]).To(HaveKeyWithValue("ips", ConsistOf("10.0.0.5/24")))
		Expect(networks[0]).To(HaveKeyWithValue("cni-args", HaveKeyWithValue("vlan", BeEquivalentTo(7))))
		Expect(networks[0]).To(HaveKeyWithValue("futureField", true))
		Expect(networks[0]).NotTo(HaveKey("namespace"), "a defaulted namespace is not written back")
		Expect(networks[1]).To(HaveKeyWithValue("namespace", other))

		leases := leasesOf(ctx, namespace)
		Expect(leases).To(HaveLen(2))
		Expect(leases[first].Spec.Owner).To(Equal(&v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "two-nets"}))
		Expect(leases[first].Spec.Interface).To(Equal(namespace + "/br1@net1"))
		Expect(leases[second].Spec.Interface).To(Equal(other + "/br2"))
		Expect(leases[first].Spec.Pool).To(Equal("default"))
		// Reserved at admission; the controller may have bound it already.
		Expect(leases[first].Status.Phase).To(BeElementOf(v1alpha1.MacLeasePhaseReserved, v1alpha1.MacLeasePhaseBound))
	})

	It("keeps a pod's MACs through edits of its networks annotation, and leases the networks an edit adds", func(ctx context.Context) {
		pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("hotplug", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		first := podNetworks(pod)[0]["mac"].(string)
		eventuallyBound(ctx, namespace, 1)
		setNetworks := func(networks string) (*corev1.Pod, error) { return patchNetworks(ctx, namespace, "hotplug", networks) }

		// Dropped from the annotation, the MAC would be released while the
		// pod's interface still has it.
		for _, edited := range []string{`[{"name":"br1"}]`, `[{"name":"br1","mac":"` + nextMAC() + `"}]`} {
			_, err = setNetworks(edited)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("the MAC " + first + " of network " + namespace + "/br1 cannot be removed or changed"))
		}
		Expect(leasesOf(ctx, namespace)).To(HaveKey(first))
		// Moved to another network, the MAC would skip that network's pool.
		_, err = setNetworks(`[{"name":"br2","mac":"` + first + `"}]`)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("the MAC " + first + " of network " + namespace + "/br1 cannot be moved to network " + namespace + "/br2"))

		// A dynamic networks controller would plug the added network in.
		updated, err := setNetworks(`[{"name":"br1","mac":"` + first + `"},{"name":"br2"}]`)
		Expect(err).NotTo(HaveOccurred())
		networks := podNetworks(updated)
		Expect(networks).To(HaveLen(2))
		second, _ := networks[1]["mac"].(string)
		Expect(second).NotTo(BeEmpty())
		Expect(second).NotTo(Equal(first))
		owners := eventuallyBound(ctx, namespace, 2)
		Expect(owners).To(HaveKeyWithValue(second, "Pod/hotplug"))
	})

	It("keeps a pod's MACs through edits of its networks annotation made through the status subresource", func(ctx context.Context) {
		// kube-apiserver keeps the annotations a pods/status update writes:
		// a kubelet, multus's ServiceAccount or anybody granted pods/status
		// could drop a MAC there, unseen by a webhook on pods alone, and the
		// lease controller would release it while the pod's interface has it.
		pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("status-edit", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		first := podNetworks(pod)[0]["mac"].(string)
		eventuallyBound(ctx, namespace, 1)
		setNetworks := func(networks string) (*corev1.Pod, error) {
			return patchNetworks(ctx, namespace, "status-edit", networks, "status")
		}

		_, err = setNetworks(`[{"name":"br1"}]`)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("the MAC " + first + " of network " + namespace + "/br1 cannot be removed or changed"))
		stored, err := kubeClient.CoreV1().Pods(namespace).Get(ctx, "status-edit", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(stored)[0]).To(HaveKeyWithValue("mac", first))
		Consistently(func() map[string]v1alpha1.MacLease { return leasesOf(ctx, namespace) }).WithTimeout(3 * time.Second).Should(HaveKey(first))

		// A network added there is leased as through the pod itself.
		updated, err := setNetworks(`[{"name":"br1","mac":"` + first + `"},{"name":"br2"}]`)
		Expect(err).NotTo(HaveOccurred())
		networks := podNetworks(updated)
		Expect(networks).To(HaveLen(2))
		second, _ := networks[1]["mac"].(string)
		Expect(second).NotTo(BeEmpty())
		Expect(eventuallyBound(ctx, namespace, 2)).To(HaveKeyWithValue(second, "Pod/status-edit"))
	})

	It("refuses a binding, through pods/binding or the bindings resource, that would set a pending pod's networks", func(ctx context.Context) {
		// kube-apiserver merges a Binding's annotations into the pod it
		// binds, with no admission of the pod: a scheduler's write could
		// otherwise replace the networks and MACs the pod was admitted with.
		// The same BindingREST serves the pods/binding subresource and the
		// namespaced bindings resource (POST .../namespaces/NS/bindings).
		routes := []struct {
			pod  string
			bind func(*corev1.Binding) error
		}{
			{"pending", func(binding *corev1.Binding) error {
				return kubeClient.CoreV1().Pods(namespace).Bind(ctx, binding, metav1.CreateOptions{})
			}},
			{"pending-legacy", func(binding *corev1.Binding) error {
				return kubeClient.CoreV1().RESTClient().Post().Namespace(namespace).Resource("bindings").Body(binding).Do(ctx).Error()
			}},
		}
		for _, route := range routes {
			pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod(route.pod, `[{"name":"br1"}]`), metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
			first := podNetworks(pod)[0]["mac"].(string)
			err = route.bind(&corev1.Binding{
				ObjectMeta: metav1.ObjectMeta{Name: route.pod, Annotations: map[string]string{networksAnnotation: `[{"name":"br1","mac":"` + nextMAC() + `"}]`}},
				Target:     corev1.ObjectReference{Kind: "Node", Name: "no-such-node"},
			})
			Expect(err).To(HaveOccurred(), route.pod)
			Expect(err.Error()).To(ContainSubstring("a Binding may not set a Pod's networks"))
			stored, err := kubeClient.CoreV1().Pods(namespace).Get(ctx, route.pod, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(stored.Spec.NodeName).To(BeEmpty())
			Expect(podNetworks(stored)[0]).To(HaveKeyWithValue("mac", first))
		}
	})

	It("keeps the MAC of a pod removed with --force while its node may still run it, until the node is gone", func(ctx context.Context) {
		// kubectl delete --force removes the pod at once; its node's kubelet
		// keeps the sandbox, and the MAC, on the network until it hears of
		// it, which on a partitioned node may be never. Nothing runs here:
		// a Node that never reports Ready is such a node.
		node, address := forcedPodOnPartitionedNode(ctx, namespace)

		Expect(kubeClient.CoreV1().Pods(namespace).Delete(ctx, "forced", *metav1.NewDeleteOptions(0))).To(Succeed())
		// The garbage collector deletes the lease of the pod that is gone;
		// the lease stays Terminating, its MAC out of the allocator's reach.
		Eventually(func(g Gomega) {
			lease, found := leasesOf(ctx, namespace)[address]
			g.Expect(found).To(BeTrue())
			g.Expect(lease.DeletionTimestamp).NotTo(BeNil())
		}).WithTimeout(time.Minute).Should(Succeed())
		Consistently(func() map[string]v1alpha1.MacLease { return leasesOf(ctx, namespace) }).
			WithTimeout(15 * time.Second).Should(HaveKey(address))
		// The hold is on the lease, for the next leader and for the reader,
		// and the namespace admin may not remove it.
		holds := leasesOf(ctx, namespace)[address].Annotations["macpool.kubemacpool.io/node-holds"]
		Expect(holds).To(And(ContainSubstring(`"node":"`+node.Name+`"`), ContainSubstring(`"pod":"forced"`)))
		_, tenantKubeconfig := userWithRole(ctx, "admin-"+namespace, namespace, "admin")
		_, err := kubectlAs(tenantKubeconfig, "annotate", "maclease", "-n", namespace, strings.ReplaceAll(address, ":", "-"),
			"macpool.kubemacpool.io/node-holds-")
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("macpool.kubemacpool.io/node-holds]: setting, changing or removing it takes update permission on macleases/finalizers"))

		// A pod its creator pinned to that node, which no kubelet took
		// (no host IP reported), keeps nothing: a tenant may write
		// spec.nodeName, and would otherwise hold MACs for as long as the
		// node's object stays.
		pinned := newPod("pinned", `[{"name":"br1"}]`)
		pinned.Spec.NodeName = node.Name
		zero := int64(0)
		pinned.Spec.TerminationGracePeriodSeconds = &zero
		pinned, err = kubeClient.CoreV1().Pods(namespace).Create(ctx, pinned, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		pinnedAddress := podNetworks(pinned)[0]["mac"].(string)
		Eventually(func() map[string]v1alpha1.MacLease { return leasesOf(ctx, namespace) }).
			WithTimeout(time.Minute).Should(HaveKeyWithValue(pinnedAddress, HaveField("Status.Phase", BeEquivalentTo("Bound"))))
		Expect(kubeClient.CoreV1().Pods(namespace).Delete(ctx, "pinned", *metav1.NewDeleteOptions(0))).To(Succeed())
		Eventually(func() map[string]v1alpha1.MacLease { return leasesOf(ctx, namespace) }).
			WithTimeout(time.Minute).ShouldNot(HaveKey(pinnedAddress))
		Expect(leasesOf(ctx, namespace)).To(HaveKey(address))

		// The node is deleted: its pods are gone with it, and so is the lease.
		Expect(kubeClient.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{})).To(Succeed())
		Eventually(func() map[string]v1alpha1.MacLease { return leasesOf(ctx, namespace) }).
			WithTimeout(90 * time.Second).ShouldNot(HaveKey(address))
	})

	It("accepts the short comma form and rewrites it as a JSON list", func(ctx context.Context) {
		pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("comma", "br1, "+namespace+"/br2@eth9"), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		networks := podNetworks(pod)
		Expect(networks).To(HaveLen(2))
		Expect(networks[0]).To(HaveKeyWithValue("name", "br1"))
		Expect(networks[1]).To(HaveKeyWithValue("interface", "eth9"))
		Expect(networks[0]["mac"]).NotTo(Equal(networks[1]["mac"]))
		Expect(leasesOf(ctx, namespace)).To(HaveLen(2))
	})

	It("leases the MACs of a generateName pod to its name prefix, then to its name", func(ctx context.Context) {
		pod := newPod("", `[{"name":"br1"}]`)
		pod.GenerateName = "worker-"
		created, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		address := podNetworks(created)[0]["mac"].(string)
		// The webhook sees only the prefix; the controller binds the name.
		lease := leasesOf(ctx, namespace)[address]
		Expect(lease.Spec.Owner.Name).To(HavePrefix("worker-"))
		Expect(eventuallyBound(ctx, namespace, 1)).To(HaveKeyWithValue(address, "Pod/"+created.Name))
	})

	It("leases a free requested MAC, and warns about one that another namespace holds", func(ctx context.Context) {
		requested := nextMAC()
		pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("asks", `[{"name":"br1","mac":"`+strings.ToUpper(requested)+`"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(pod)[0]["mac"]).To(Equal(strings.ToUpper(requested)), "the user's spelling is kept")
		Expect(leasesOf(ctx, namespace)).To(HaveKey(requested))

		other := createNamespace(ctx, "pods-other")
		output, err := kubectlWithInput(`apiVersion: v1
kind: Pod
metadata:
  name: copycat
  annotations:
    k8s.v1.cni.cncf.io/networks: '[{"name":"br1","mac":"`+requested+`"}]'
spec:
  containers:
  - name: app
    image: registry.k8s.io/pause:3.10
`, "create", "-n", other, "-f", "-", "--warnings-as-errors=false")
		Expect(err).NotTo(HaveOccurred(), output)
		Expect(leasesOf(ctx, other)).To(BeEmpty(), "the holder keeps its lease")
		Expect(leasesOf(ctx, namespace)[requested].Spec.Owner.Name).To(Equal("asks"))
	})

	It("denies a multicast or malformed requested MAC and a malformed annotation with a clear message, leasing nothing", func(ctx context.Context) {
		for annotation, message := range map[string]string{
			`[{"name":"br1"},{"name":"br2","mac":"01:00:5e:00:00:01"}]`: "multicast",
			`[{"name":"br1","mac":"02:00:00:00:00"}]`:                   "invalid MAC address",
			`[{"name":"br1"`:         "invalid JSON",
			`[{"interface":"net1"}]`: `"name" is required`,
		} {
			_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("bad", annotation), metav1.CreateOptions{})
			Expect(err).To(HaveOccurred(), annotation)
			Expect(err.Error()).To(ContainSubstring("k8s.v1.cni.cncf.io/networks"), annotation)
			Expect(err.Error()).To(ContainSubstring(message), annotation)
			code := err.(apierrors.APIStatus).Status().Code
			Expect(code).To(BeNumerically(">=", 400), "%v", err)
			Expect(code).To(BeNumerically("<", 500), "a client error, not a server error: %v", err)
		}
		Expect(leasesOf(ctx, namespace)).To(BeEmpty(), "a denied pod leaves no lease, not even for the network that came first")
	})

	It("returns a mutated pod on dry-run and leases nothing", func(ctx context.Context) {
		pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("dry", `[{"name":"br1"}]`), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(pod)[0]["mac"]).NotTo(BeEmpty())
		Expect(leasesOf(ctx, namespace)).To(BeEmpty())
	})

	It("leaves pods without the annotation and opted-out namespaces alone", func(ctx context.Context) {
		plain := newPod("plain", "")
		delete(plain.Annotations, networksAnnotation)
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, plain, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		ignored := createNamespace(ctx, "pods-ignored")
		labelNamespace(ctx, ignored, "mutatepods.kubemacpool.io", "ignore")
		eventuallyPodsWebhook(ctx, ignored, false)
		created, err := kubeClient.CoreV1().Pods(ignored).Create(ctx, newPod("ignored", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(created.Annotations[networksAnnotation]).To(Equal(`[{"name":"br1"}]`))
		Expect(leasesOf(ctx, namespace)).To(BeEmpty())
		Expect(leasesOf(ctx, ignored)).To(BeEmpty())
	})
})

// labelNamespace sets one label on a namespace.
func labelNamespace(ctx context.Context, namespace, key, value string) {
	GinkgoHelper()
	patch := []byte(`{"metadata":{"labels":{"` + key + `":"` + value + `"}}}`)
	_, err := kubeClient.CoreV1().Namespaces().Patch(ctx, namespace, "application/merge-patch+json", patch, metav1.PatchOptions{})
	Expect(err).NotTo(HaveOccurred())
}

// partitionedNode is a Node that never reports Ready, as a node cut off
// from the control plane: nothing runs on these machines, so a Pod bound to
// it may, as far as the cluster can tell, still run there.
func partitionedNode(ctx context.Context, kube kubernetes.Interface, namespace string) *corev1.Node {
	GinkgoHelper()
	node, err := kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "partitioned-" + namespace}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx context.Context) {
		_ = kube.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{})
	})
	return node
}

// forcedPodOnPartitionedNode creates, in an empty namespace, the Pod
// "forced" with one network and no grace period, waits for its lease to be
// bound, and reports it running on a partitionedNode. It returns the node
// and the Pod's MAC.
func forcedPodOnPartitionedNode(ctx context.Context, namespace string) (*corev1.Node, string) {
	GinkgoHelper()
	node := partitionedNode(ctx, kubeClient, namespace)
	pod := newPod("forced", `[{"name":"br1"}]`)
	zero := int64(0)
	pod.Spec.TerminationGracePeriodSeconds = &zero
	pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	address := podNetworks(pod)[0]["mac"].(string)
	eventuallyBound(ctx, namespace, 1)
	runOnNode(ctx, kubeClient, namespace, "forced", node.Name)
	return node, address
}

// runOnNode reports a Pod scheduled to node and running there, as a
// scheduler and a kubelet would.
func runOnNode(ctx context.Context, kube kubernetes.Interface, namespace, name, node string) {
	GinkgoHelper()
	Expect(kube.CoreV1().Pods(namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: name}, Target: corev1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})).To(Succeed())
	running, err := kube.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	running.Status.Phase = corev1.PodRunning
	running.Status.HostIP = "192.0.2.10"
	running.Status.HostIPs = []corev1.HostIP{{IP: "192.0.2.10"}}
	running.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Image: "registry.k8s.io/pause:3.10",
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
	_, err = kube.CoreV1().Pods(namespace).UpdateStatus(ctx, running, metav1.UpdateOptions{})
	Expect(err).NotTo(HaveOccurred())
}
