package e2e

import (
	"context"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// warningCollector keeps the warnings API answers carry.
type warningCollector struct {
	mu       sync.Mutex
	warnings []string
}

func (c *warningCollector) HandleWarningHeader(_ int, _ string, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warnings = append(c.warnings, text)
}

// take returns the warnings collected since the last call.
func (c *warningCollector) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	taken := c.warnings
	c.warnings = nil
	return taken
}

// warningConfig is the suite's client configuration with its warnings
// collected instead of logged.
func warningConfig() (*restclient.Config, *warningCollector) {
	collector := &warningCollector{}
	config := cluster.RESTConfig()
	config.WarningHandler = collector
	return config, collector
}

// reassignedEvents are the messages of the MACAddressReassigned events of
// an object.
func reassignedEvents(ctx context.Context, namespace, name string) []string {
	GinkgoHelper()
	events, err := kubeClient.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: "reason=MACAddressReassigned,involvedObject.name=" + name})
	Expect(err).NotTo(HaveOccurred())
	messages := make([]string, 0, len(events.Items))
	for _, event := range events.Items {
		messages = append(messages, event.Message)
	}
	return messages
}

func inRange(start, end string) func(string) bool {
	r, err := mac.ParseRange(start, end)
	Expect(err).NotTo(HaveOccurred())
	return func(text string) bool {
		address, err := mac.Parse(text)
		return err == nil && r.Contains(address)
	}
}

var _ = Describe("conflictPolicy Reassign", func() {
	It("gives a VM cloned with its source's MACs new ones, in the same and in another namespace, and keeps the source's and a free requested MAC", func(ctx context.Context) {
		config, collector := warningConfig()
		vms := dynamic.NewForConfigOrDie(config)
		create := func(namespace string, vm *kubevirtv1.VirtualMachine, options metav1.CreateOptions) map[string]string {
			GinkgoHelper()
			created, err := vms.Resource(vmResource).Namespace(namespace).Create(ctx, toUnstructured(vm), options)
			Expect(err).NotTo(HaveOccurred())
			return vmMACs(fromUnstructured(created))
		}

		sourceNS, otherNS := createNamespace(ctx, "reassign-src"), createNamespace(ctx, "reassign-dst")
		createPoolFor(ctx, sourceNS, v1alpha1.MacPoolSpec{ConflictPolicy: v1alpha1.ConflictPolicyReassign,
			Ranges: []v1alpha1.MACRange{{Start: "0e:00:00:10:00:00", End: "0e:00:00:10:00:ff"}}})
		createPoolFor(ctx, otherNS, v1alpha1.MacPoolSpec{ConflictPolicy: v1alpha1.ConflictPolicyReassign,
			Ranges: []v1alpha1.MACRange{{Start: "0e:00:00:11:00:00", End: "0e:00:00:11:00:ff"}}})
		inSource, inOther := inRange("0e:00:00:10:00:00", "0e:00:00:10:00:ff"), inRange("0e:00:00:11:00:00", "0e:00:00:11:00:ff")

		source := create(sourceNS, newVM("source", vmInterface{name: "default", masquerade: true}, vmInterface{name: "br1"}), metav1.CreateOptions{})
		Expect(inSource(source["default"]) && inSource(source["br1"])).To(BeTrue(), "source MACs %v", source)
		collector.take()
		clone := func(name string) *kubevirtv1.VirtualMachine {
			return newVM(name, vmInterface{name: "default", masquerade: true, mac: source["default"]}, vmInterface{name: "br1", mac: source["br1"]})
		}

		By("a dry run answers like the real create and leases nothing")
		dry := create(sourceNS, clone("dry"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		Expect(dry["default"]).NotTo(Equal(source["default"]))
		Expect(dry["br1"]).NotTo(Equal(source["br1"]))
		Expect(collector.take()).To(HaveLen(2))
		Expect(leasesOf(ctx, sourceNS)).To(HaveLen(2))

		for _, target := range []struct {
			namespace string
			inPool    func(string) bool
		}{{sourceNS, inSource}, {otherNS, inOther}} {
			By("cloning into " + target.namespace)
			got := create(target.namespace, clone("clone"), metav1.CreateOptions{})
			Expect(got["default"]).NotTo(Equal(source["default"]))
			Expect(got["br1"]).NotTo(Equal(source["br1"]))
			Expect(target.inPool(got["default"]) && target.inPool(got["br1"])).To(BeTrue(), "clone MACs %v", got)

			want := []string{
				"MAC address " + source["default"] + " requested for default is already in use by another object; conflictPolicy Reassign replaced it with " + got["default"],
				"MAC address " + source["br1"] + " requested for br1 is already in use by another object; conflictPolicy Reassign replaced it with " + got["br1"],
			}
			warnings := collector.take()
			Expect(warnings).To(ConsistOf(want))
			Eventually(func() []string { return reassignedEvents(ctx, target.namespace, "clone") }).WithContext(ctx).Should(ConsistOf(want))
			// Hostile tenants: nothing names the holder or its namespace.
			for _, text := range append(warnings, reassignedEvents(ctx, target.namespace, "clone")...) {
				Expect(text).NotTo(ContainSubstring("source"))
				Expect(text).NotTo(ContainSubstring(sourceNS))
			}
			Expect(leaseView(ctx, target.namespace)).To(And(
				HaveKeyWithValue(got["default"], HaveField("Owner", "VirtualMachine/clone")),
				HaveKeyWithValue(got["br1"], HaveField("Owner", "VirtualMachine/clone"))))
		}
		Expect(reassignedEvents(ctx, sourceNS, "dry")).To(BeEmpty(), "a dry run records no event")

		By("the source keeps its own MACs and leases")
		Expect(vmMACs(getVM(ctx, sourceNS, "source"))).To(Equal(source))
		Expect(leaseView(ctx, sourceNS)).To(And(
			HaveKeyWithValue(source["default"], HaveField("Owner", "VirtualMachine/source")),
			HaveKeyWithValue(source["br1"], HaveField("Owner", "VirtualMachine/source"))))

		By("a requested MAC that nobody holds is kept")
		free := nextMAC()
		got := create(sourceNS, newVM("free", vmInterface{name: "br1", mac: free}), metav1.CreateOptions{})
		Expect(got["br1"]).To(Equal(free))
		Expect(collector.take()).To(BeEmpty())
		Expect(leaseView(ctx, sourceNS)).To(HaveKeyWithValue(free, HaveField("Owner", "VirtualMachine/free")))
	})

	It("gives a pod that asks for another pod's MAC a new one, with the warning and the event", func(ctx context.Context) {
		config, collector := warningConfig()
		pods := kubernetes.NewForConfigOrDie(config)
		namespace := createNamespace(ctx, "reassign-pods")
		createPoolFor(ctx, namespace, v1alpha1.MacPoolSpec{ConflictPolicy: v1alpha1.ConflictPolicyReassign,
			Ranges: []v1alpha1.MACRange{{Start: "0e:00:00:13:00:00", End: "0e:00:00:13:00:ff"}}})
		first, err := pods.CoreV1().Pods(namespace).Create(ctx, newPod("first", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		held := podNetworks(first)[0]["mac"].(string)
		collector.take()

		second, err := pods.CoreV1().Pods(namespace).Create(ctx, newPod("second", `[{"name":"br1","mac":"`+held+`"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		got := podNetworks(second)[0]["mac"].(string)
		Expect(got).NotTo(Equal(held))
		want := "MAC address " + held + " requested for " + namespace + "/br1 is already in use by another object; conflictPolicy Reassign replaced it with " + got
		Expect(collector.take()).To(ContainElement(want))
		Eventually(func() []string { return reassignedEvents(ctx, namespace, "second") }).WithContext(ctx).Should(Equal([]string{want}))
		Expect(strings.Contains(want, "first")).To(BeFalse())
	})
})
