package e2e

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

var nadResource = schema.GroupVersionResource{Group: "k8s.cni.cncf.io", Version: "v1", Resource: "network-attachment-definitions"}

// createNAD makes a NetworkAttachmentDefinition with the given labels in
// namespace; nothing wires it (there is no node), the webhook only reads it.
func createNAD(ctx context.Context, namespace, name string, labels map[string]string) {
	GinkgoHelper()
	nad := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "k8s.cni.cncf.io/v1",
		"kind":       "NetworkAttachmentDefinition",
		"metadata":   map[string]interface{}{"name": name, "namespace": namespace},
		"spec":       map[string]interface{}{"config": `{"cniVersion":"0.3.1","type":"bridge","bridge":"` + name + `"}`},
	}}
	nad.SetLabels(labels)
	_, err := dynamicClient.Resource(nadResource).Namespace(namespace).Create(ctx, nad, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
}

// createNetworkPool makes a pool of networks and removes it after the spec.
func createNetworkPool(ctx context.Context, name string, selector *v1alpha1.NetworkSelector, start, end string) {
	GinkgoHelper()
	_, err := macClient.MacpoolV1alpha1().MacPools().Create(ctx, &v1alpha1.MacPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: start, End: end}}, NetworkSelector: selector},
	}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx context.Context) {
		Expect(macClient.MacpoolV1alpha1().MacPools().Delete(ctx, name, metav1.DeleteOptions{})).To(Succeed())
	})
}

// dryRunMACs are the MACs a dry-run pod with networks gets, in order.
func dryRunMACs(ctx context.Context, namespace, networks string) ([]string, error) {
	pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("probe", networks), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return nil, err
	}
	var macs []string
	for _, network := range podNetworks(pod) {
		macs = append(macs, fmt.Sprint(network["mac"]))
	}
	return macs, nil
}

var _ = Describe("Pools per network", func() {
	It("give the interface on each network its pool's range, by reference and by label, ahead of the namespace's pool", func(ctx context.Context) {
		namespace := createNamespace(ctx, "netpools")
		createNAD(ctx, namespace, "red-net", nil)
		createNAD(ctx, namespace, "blue-net", map[string]string{"e2e.kubemacpool.io/tier": namespace})
		red, blue := namespace+"-red", namespace+"-blue"
		createNetworkPool(ctx, red, &v1alpha1.NetworkSelector{Networks: []v1alpha1.NetworkReference{{Namespace: namespace, Name: "red-net"}}},
			"0e:00:20:00:00:00", "0e:00:20:00:00:ff")
		createNetworkPool(ctx, blue, &v1alpha1.NetworkSelector{LabelSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"e2e.kubemacpool.io/tier": namespace}}}, "0e:00:21:00:00:00", "0e:00:21:00:00:ff")
		// The namespace's own pool serves its other networks.
		own := createPoolFor(ctx, namespace, v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "0e:00:22:00:00:00", End: "0e:00:22:00:00:ff"}}})

		networks := `[{"name":"red-net"},{"name":"blue-net"},{"name":"plain"}]`
		// The allocator learns about pools through its watch.
		Eventually(func() ([]string, error) { return dryRunMACs(ctx, namespace, networks) }).WithContext(ctx).Should(
			HaveExactElements(HavePrefix("0e:00:20:00:00:"), HavePrefix("0e:00:21:00:00:"), HavePrefix("0e:00:22:00:00:")))

		pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("multi", networks), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		macs := podNetworks(pod)
		Expect(macs[0]["mac"]).To(HavePrefix("0e:00:20:00:00:"))
		Expect(macs[1]["mac"]).To(HavePrefix("0e:00:21:00:00:"))
		Expect(macs[2]["mac"]).To(HavePrefix("0e:00:22:00:00:"))
		leases := leasesOf(ctx, namespace)
		Expect(leases[macs[0]["mac"].(string)].Spec.Pool).To(Equal(red))
		Expect(leases[macs[1]["mac"].(string)].Spec.Pool).To(Equal(blue))
		Expect(leases[macs[2]["mac"].(string)].Spec.Pool).To(Equal(own))

		// A VirtualMachine: its bridge interfaces are on red-net and
		// blue-net (newVM names the network <interface>-net), its
		// masquerade interface on the pod network, which is no multus
		// network: the namespace's pool.
		vm, err := createVM(ctx, namespace, newVM("vm", vmInterface{name: "default", masquerade: true}, vmInterface{name: "red"}, vmInterface{name: "blue"}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		vmMACs := vmMACs(vm)
		Expect(vmMACs).To(HaveKeyWithValue("red", HavePrefix("0e:00:20:00:00:")))
		Expect(vmMACs).To(HaveKeyWithValue("blue", HavePrefix("0e:00:21:00:00:")))
		Expect(vmMACs).To(HaveKeyWithValue("default", HavePrefix("0e:00:22:00:00:")))

		// Relabelling the network moves it out of the label-selected pool.
		_, err = dynamicClient.Resource(nadResource).Namespace(namespace).Patch(ctx, "blue-net", "application/merge-patch+json",
			[]byte(`{"metadata":{"labels":{"e2e.kubemacpool.io/tier":null}}}`), metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() ([]string, error) { return dryRunMACs(ctx, namespace, `[{"name":"blue-net"}]`) }).WithContext(ctx).Should(
			HaveExactElements(HavePrefix("0e:00:22:00:00:")))

		// A second pool of red-net: the webhook names both.
		createNetworkPool(ctx, namespace+"-red2", &v1alpha1.NetworkSelector{Networks: []v1alpha1.NetworkReference{{Namespace: namespace, Name: "red-net"}}},
			"0e:00:23:00:00:00", "0e:00:23:00:00:ff")
		Eventually(func() error {
			_, err := dryRunMACs(ctx, namespace, `[{"name":"red-net"}]`)
			return err
		}).WithContext(ctx).Should(MatchError(ContainSubstring(
			fmt.Sprintf(`network %s/red-net of namespace %q is selected by more than one MacPool ([%s %s]): make their networkSelectors exclusive`,
				namespace, namespace, red, namespace+"-red2"))))
	})

	It("refuse a pool whose network selector is empty or names a network badly, naming the field", func(ctx context.Context) {
		_, err := kubectlWithInput(`apiVersion: macpool.kubemacpool.io/v1alpha1
kind: MacPool
metadata:
  name: bad-network-selector
spec:
  ranges: [{start: "0e:00:24:00:00:00", end: "0e:00:24:00:00:ff"}]
  networkSelector:
    networks: [{namespace: "In.Valid", name: "red-net"}, {namespace: infra, name: ""}]
`, "create", "-f", "-")
		Expect(err).To(MatchError(And(
			ContainSubstring(`spec.networkSelector.networks[0].namespace: Invalid value: "In.Valid"`),
			ContainSubstring(`spec.networkSelector.networks[1].name: Required value`))))
		_, err = kubectlWithInput(`apiVersion: macpool.kubemacpool.io/v1alpha1
kind: MacPool
metadata:
  name: bad-network-selector
spec:
  ranges: [{start: "0e:00:24:00:00:00", end: "0e:00:24:00:00:ff"}]
  networkSelector: {}
`, "create", "-f", "-")
		Expect(err).To(MatchError(ContainSubstring(`spec.networkSelector: Required value`)))
	})
})

var _ = Describe("Collisions per L2 network", func() {
	It("count a MAC on two different networks as no collision, on the same network as one, and on undefined networks as possibly shared", func(ctx context.Context) {
		namespace := createNamespace(ctx, "l2")
		shared := nextMAC()
		onRed, onBlue, alsoOnRed := "pod/"+namespace+"/on-red", "pod/"+namespace+"/on-blue", "pod/"+namespace+"/also-on-red"
		// conflictPolicy Warn (the default pool's) admits a requested MAC
		// that another pod holds, with a warning.
		for _, pod := range []struct{ name, network string }{{"on-red", "red-net"}, {"on-blue", "blue-net"}} {
			_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod(pod.name, `[{"name":"`+pod.network+`","mac":"`+shared+`"}]`), metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
		By("networks nobody defined may be one L2 domain: a collision")
		expectCollision(ctx, shared, onBlue, onRed)

		By("once both are defined they are two L2 domains: no collision")
		createNAD(ctx, namespace, "red-net", nil)
		createNAD(ctx, namespace, "blue-net", nil)
		Eventually(scrapeMetrics).WithContext(ctx).ShouldNot(ContainSubstring(`kmp_mac_collisions{mac="` + shared + `"}`))

		By("a third holder on red-net collides with the first only")
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("also-on-red", `[{"name":"red-net","mac":"`+shared+`"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		expectCollision(ctx, shared, alsoOnRed, onRed)
		Expect(scrapeMetrics()).To(ContainSubstring(`kmp_mac_collisions{mac="` + shared + `"} 2`))
		for _, message := range collisionEvents(ctx, namespace, "on-blue") {
			Expect(message).NotTo(ContainSubstring("also-on-red"), "the pod on blue-net shares no L2 network with the others")
		}

		By("the holder on red-net gone, what is left is on two networks: no collision")
		Expect(kubeClient.CoreV1().Pods(namespace).Delete(ctx, "also-on-red", metav1.DeleteOptions{GracePeriodSeconds: new(int64)})).To(Succeed())
		Eventually(scrapeMetrics).WithContext(ctx).ShouldNot(ContainSubstring(`kmp_mac_collisions{mac="` + shared + `"}`))
	})
})
