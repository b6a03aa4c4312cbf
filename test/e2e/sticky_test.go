package e2e

import (
	"context"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// stickyPool is a pool for namespace that retains the MACs of deleted
// objects for d.
func stickyPool(ctx context.Context, namespace, start, end string, d time.Duration, policy v1alpha1.ConflictPolicy) string {
	GinkgoHelper()
	return createPoolFor(ctx, namespace, v1alpha1.MacPoolSpec{
		Ranges:         []v1alpha1.MACRange{{Start: start, End: end}},
		ConflictPolicy: policy,
		Retention:      &v1alpha1.RetentionPolicy{Duration: metav1.Duration{Duration: d}},
	})
}

// podMACs maps each network of a pod (name, or name@interface) to its MAC.
func podMACs(ctx context.Context, namespace, name string) map[string]string {
	GinkgoHelper()
	pod, err := kubeClient.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	macs := map[string]string{}
	for _, network := range podNetworks(pod) {
		key := network["name"].(string)
		if iface, ok := network["interface"].(string); ok {
			key += "@" + iface
		}
		macs[key] = network["mac"].(string)
	}
	return macs
}

// eventuallyPhase waits until every lease of macs in namespace is in phase
// for owner (Kind/name), and returns them by MAC.
func eventuallyPhase(ctx context.Context, namespace, owner string, phase v1alpha1.MacLeasePhase, macs map[string]string) map[string]v1alpha1.MacLease {
	GinkgoHelper()
	var leases map[string]v1alpha1.MacLease
	Eventually(func(g Gomega) {
		leases = leasesOf(ctx, namespace)
		for _, address := range macs {
			g.Expect(leases).To(HaveKey(address))
			lease := leases[address]
			g.Expect(lease.Status.Phase).To(Equal(phase), "lease %s", address)
			g.Expect(lease.Spec.Owner).NotTo(BeNil())
			g.Expect(lease.Spec.Owner.Kind + "/" + lease.Spec.Owner.Name).To(Equal(owner))
			// The garbage collector must never release a lease kept for
			// retention with its owner.
			g.Expect(lease.OwnerReferences).To(BeEmpty(), "lease %s", address)
		}
	}).WithContext(ctx).Should(Succeed())
	return leases
}

// createAgain creates pod right after an object of its name was deleted,
// as a StatefulSet controller does, retrying the answer "try again": the
// admission waits up to 2 s for the lease controller to retain the old
// object's leases, and a loaded machine may take longer.
func createAgain(ctx context.Context, namespace string, pod *corev1.Pod) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, pod.DeepCopy(), metav1.CreateOptions{})
		if err != nil {
			g.Expect(err.Error()).To(ContainSubstring("try again"))
		}
		g.Expect(err).NotTo(HaveOccurred())
	}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
}

func poolRetained(ctx context.Context, pool string) func() (int64, error) {
	return func() (int64, error) {
		p, err := macClient.MacpoolV1alpha1().MacPools().Get(ctx, pool, metav1.GetOptions{})
		if err != nil {
			return 0, err
		}
		return p.Status.Retained, nil
	}
}

var _ = Describe("Sticky MACs (spec.retention)", func() {
	It("gives a StatefulSet-style pod deleted and created again its MACs back on every network", func(ctx context.Context) {
		namespace := createNamespace(ctx, "sticky-pod")
		pool := stickyPool(ctx, namespace, "0e:00:00:3a:00:00", "0e:00:00:3a:00:ff", time.Hour, v1alpha1.ConflictPolicyWarn)
		networks := `[{"name":"br1"},{"name":"br2","interface":"net2"},{"name":"br1","interface":"net3"}]`

		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("db-0", networks), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		before := podMACs(ctx, namespace, "db-0")
		Expect(before).To(HaveLen(3))
		eventuallyPhase(ctx, namespace, "Pod/db-0", v1alpha1.MacLeasePhaseBound, before)

		By("deleting the pod: its leases are Retained, with owner, network and an expiry, and counted in the pool")
		deleted := time.Now()
		Expect(kubeClient.CoreV1().Pods(namespace).Delete(ctx, "db-0", metav1.DeleteOptions{})).To(Succeed())
		retained := eventuallyPhase(ctx, namespace, "Pod/db-0", v1alpha1.MacLeasePhaseRetained, before)
		for network, address := range before {
			lease := retained[address]
			Expect(lease.Spec.Interface).To(Equal(namespace + "/" + network))
			Expect(lease.Status.ExpiresAt).NotTo(BeNil())
			Expect(lease.Status.ExpiresAt.Time).To(BeTemporally("~", deleted.Add(time.Hour), time.Minute))
		}
		Eventually(poolRetained(ctx, pool)).WithContext(ctx).Should(BeEquivalentTo(3))
		Expect(mustKubectl("get", "ml", "-n", namespace)).To(MatchRegexp(`(?m)^` + before["br1"] + `\s+Pod/db-0\s+` + namespace + `/br1\s+` + pool + `\s+Retained\s`))
		Expect(mustKubectl("get", "macpool", pool, "-o", "wide")).To(MatchRegexp(pool + `\s.*\s1h0m0s\s+3\s`))

		By("another pod of the namespace gets other MACs")
		other, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("db-1", networks), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		for _, network := range podNetworks(other) {
			Expect(before).NotTo(ContainElement(network["mac"]))
		}

		By("creating db-0 again: the same MAC on each network, and the leases go back to Bound")
		_, err = kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("db-0", networks), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podMACs(ctx, namespace, "db-0")).To(Equal(before))
		eventuallyPhase(ctx, namespace, "Pod/db-0", v1alpha1.MacLeasePhaseBound, before)
		Eventually(poolRetained(ctx, pool)).WithContext(ctx).Should(BeEquivalentTo(0))

		By("deleted and created again at once, as a StatefulSet does, before the controller may have seen the deletion")
		Expect(kubeClient.CoreV1().Pods(namespace).Delete(ctx, "db-0", metav1.DeleteOptions{})).To(Succeed())
		createAgain(ctx, namespace, newPod("db-0", networks))
		Expect(podMACs(ctx, namespace, "db-0")).To(Equal(before))
		eventuallyPhase(ctx, namespace, "Pod/db-0", v1alpha1.MacLeasePhaseBound, before)
	})

	It("gives a StatefulSet pod removed with --force on a node that may still run it, and created again at once, other MACs", func(ctx context.Context) {
		// The StatefulSet controller creates the pod again as soon as it is
		// gone, which can be before the lease controller has seen it go; the
		// old pod's sandbox may still be on the network with its MAC.
		namespace := createNamespace(ctx, "sticky-forced")
		stickyPool(ctx, namespace, "0e:00:00:3e:00:00", "0e:00:00:3e:00:ff", time.Hour, v1alpha1.ConflictPolicyReject)
		node := partitionedNode(ctx, kubeClient, namespace)
		pod := newPod("db-0", `[{"name":"br1"}]`)
		zero := int64(0)
		pod.Spec.TerminationGracePeriodSeconds = &zero
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		before := podMACs(ctx, namespace, "db-0")
		eventuallyPhase(ctx, namespace, "Pod/db-0", v1alpha1.MacLeasePhaseBound, before)
		runOnNode(ctx, kubeClient, namespace, "db-0", node.Name)

		Expect(kubeClient.CoreV1().Pods(namespace).Delete(ctx, "db-0", *metav1.NewDeleteOptions(0))).To(Succeed())
		createAgain(ctx, namespace, newPod("db-0", `[{"name":"br1"}]`))
		Expect(podMACs(ctx, namespace, "db-0")["br1"]).NotTo(Equal(before["br1"]))

		By("the old MAC stays Retained, held for the node")
		retained := eventuallyPhase(ctx, namespace, "Pod/db-0", v1alpha1.MacLeasePhaseRetained, before)
		Expect(retained[before["br1"]].Annotations).To(HaveKeyWithValue("macpool.kubemacpool.io/node-holds",
			And(ContainSubstring(`"node":"`+node.Name+`"`), ContainSubstring(`"pod":"db-0"`))))

		By("once the node is gone the hold goes, and the MAC stays retained for the name")
		Expect(kubeClient.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{})).To(Succeed())
		Eventually(func() map[string]string { return leasesOf(ctx, namespace)[before["br1"]].Annotations }).
			WithContext(ctx).WithTimeout(90 * time.Second).ShouldNot(HaveKey("macpool.kubemacpool.io/node-holds"))
		eventuallyPhase(ctx, namespace, "Pod/db-0", v1alpha1.MacLeasePhaseRetained, before)
	})

	It("gives a VirtualMachine deleted and created again every interface's MAC back", func(ctx context.Context) {
		namespace := createNamespace(ctx, "sticky-vm")
		pool := stickyPool(ctx, namespace, "0e:00:00:3b:00:00", "0e:00:00:3b:00:ff", time.Hour, v1alpha1.ConflictPolicyWarn)
		vm, err := createVM(ctx, namespace, newVM("db", vmInterface{name: "default", masquerade: true}, vmInterface{name: "br1"}, vmInterface{name: "br2"}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		before := vmMACs(vm)
		Expect(before).To(HaveLen(3))
		eventuallyPhase(ctx, namespace, "VirtualMachine/db", v1alpha1.MacLeasePhaseBound, before)

		Expect(dynamicClient.Resource(vmResource).Namespace(namespace).Delete(ctx, "db", metav1.DeleteOptions{})).To(Succeed())
		retained := eventuallyPhase(ctx, namespace, "VirtualMachine/db", v1alpha1.MacLeasePhaseRetained, before)
		for iface, address := range before {
			Expect(retained[address].Spec.Interface).To(Equal(iface))
		}
		Eventually(poolRetained(ctx, pool)).WithContext(ctx).Should(BeEquivalentTo(3))

		By("created again, with its interfaces in another order: each interface gets its own MAC back")
		vm, err = createVM(ctx, namespace, newVM("db", vmInterface{name: "br2"}, vmInterface{name: "default", masquerade: true}, vmInterface{name: "br1"}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(vmMACs(vm)).To(Equal(before))
		eventuallyPhase(ctx, namespace, "VirtualMachine/db", v1alpha1.MacLeasePhaseBound, before)
		Eventually(poolRetained(ctx, pool)).WithContext(ctx).Should(BeEquivalentTo(0))
	})

	// Under retention leases have no owner references: a lease Bound to the
	// VM's name is the VM's own for the lease controller, which keeps it
	// while the VM's VMI still reports the MAC. Putting the MAC back (an
	// edit reverted) is then no conflict, even under Reject.
	It("lets a running VirtualMachine take back, under Reject, a MAC it dropped while its VMI still reports it", func(ctx context.Context) {
		namespace := createNamespace(ctx, "sticky-readd")
		stickyPool(ctx, namespace, "0e:00:00:3f:00:00", "0e:00:00:3f:00:ff", time.Hour, v1alpha1.ConflictPolicyReject)
		vm, err := createVM(ctx, namespace, newVM("web", vmInterface{name: "default", masquerade: true}, vmInterface{name: "br1"}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		macs := vmMACs(vm)
		eventuallyPhase(ctx, namespace, "VirtualMachine/web", v1alpha1.MacLeasePhaseBound, macs)

		By("its VMI runs with both MACs")
		vmi := createVMI(ctx, namespace, "web", []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "web", UID: vm.UID}})
		vmi.Object["status"] = map[string]interface{}{"phase": "Running", "interfaces": []interface{}{
			map[string]interface{}{"name": "default", "mac": macs["default"]},
			map[string]interface{}{"name": "br1", "mac": macs["br1"]},
		}}
		_, err = dynamicClient.Resource(vmiResource).Namespace(namespace).UpdateStatus(ctx, vmi, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())

		update := func(interfaces ...vmInterface) error {
			GinkgoHelper()
			stored, err := dynamicClient.Resource(vmResource).Namespace(namespace).Get(ctx, "web", metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			changed := newVM("web", interfaces...)
			changed.ResourceVersion = stored.GetResourceVersion()
			_, err = dynamicClient.Resource(vmResource).Namespace(namespace).Update(ctx, toUnstructured(changed), metav1.UpdateOptions{})
			return err
		}
		By("br1 is dropped from the VM; its lease stays the VM's while the VMI reports the MAC")
		Expect(update(vmInterface{name: "default", masquerade: true, mac: macs["default"]})).To(Succeed())
		Consistently(func() v1alpha1MacLeaseView { return leaseView(ctx, namespace)[macs["br1"]] }).WithContext(ctx).
			WithTimeout(3 * time.Second).Should(Equal(v1alpha1MacLeaseView{Owner: "VirtualMachine/web", Interface: "br1", Phase: "Bound"}))

		By("put back with its MAC, it is the VM's own")
		Expect(update(vmInterface{name: "default", masquerade: true, mac: macs["default"]}, vmInterface{name: "br1", mac: macs["br1"]})).To(Succeed())
		eventuallyPhase(ctx, namespace, "VirtualMachine/web", v1alpha1.MacLeasePhaseBound, macs)
	})

	It("releases retained MACs when the retention runs out, and refuses a pool of only retained addresses until then", func(ctx context.Context) {
		namespace := createNamespace(ctx, "sticky-expiry")
		const retention = 15 * time.Second
		pool := stickyPool(ctx, namespace, "0e:00:00:3c:00:00", "0e:00:00:3c:00:01", retention, v1alpha1.ConflictPolicyWarn)
		networks := `[{"name":"br1"},{"name":"br2"}]`
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("web-0", networks), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		before := podMACs(ctx, namespace, "web-0")
		eventuallyPhase(ctx, namespace, "Pod/web-0", v1alpha1.MacLeasePhaseBound, before)
		Expect(kubeClient.CoreV1().Pods(namespace).Delete(ctx, "web-0", metav1.DeleteOptions{})).To(Succeed())
		eventuallyPhase(ctx, namespace, "Pod/web-0", v1alpha1.MacLeasePhaseRetained, before)

		By("the pool holds only retained addresses: another pod is refused, with the pool and the count named")
		_, err = kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("web-1", `[{"name":"br1"}]`), metav1.CreateOptions{})
		expectClientError(err, http.StatusConflict, `MAC pool "`+pool+`" is exhausted`, `2 of them are retained for deleted objects`)
		Expect(leasesOf(ctx, namespace)).To(HaveLen(2))

		By("when the time runs out the leases are released and the addresses are free again")
		Eventually(func() map[string]v1alpha1.MacLease { return leasesOf(ctx, namespace) }).WithContext(ctx).
			WithTimeout(retention + time.Minute).Should(BeEmpty())
		Eventually(poolRetained(ctx, pool)).WithContext(ctx).Should(BeEquivalentTo(0))
		other, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("web-1", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(before).To(ContainElement(podNetworks(other)[0]["mac"]))
	})

	It("never gives a retained MAC to another namespace, nor to another object that asks for it", func(ctx context.Context) {
		owner, hostile := createNamespace(ctx, "sticky-a"), createNamespace(ctx, "sticky-b")
		pool := stickyPool(ctx, owner, "0e:00:00:3d:00:00", "0e:00:00:3d:00:ff", time.Hour, v1alpha1.ConflictPolicyReject)
		// One pool serves both namespaces.
		labelNamespace(ctx, hostile, "e2e.kubemacpool.io/pool", owner)
		Eventually(func() (string, error) {
			probe, err := kubeClient.CoreV1().Pods(hostile).Create(ctx, newPod("probe", `[{"name":"br1"}]`), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				return "", err
			}
			return podNetworks(probe)[0]["mac"].(string), nil
		}).WithContext(ctx).Should(HavePrefix("0e:00:00:3d:00:"))

		_, err := kubeClient.CoreV1().Pods(owner).Create(ctx, newPod("db-0", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		before := podMACs(ctx, owner, "db-0")
		eventuallyPhase(ctx, owner, "Pod/db-0", v1alpha1.MacLeasePhaseBound, before)
		Expect(kubeClient.CoreV1().Pods(owner).Delete(ctx, "db-0", metav1.DeleteOptions{})).To(Succeed())
		eventuallyPhase(ctx, owner, "Pod/db-0", v1alpha1.MacLeasePhaseRetained, before)
		address := before["br1"]

		By("db-0 in another namespace gets another MAC, and its own network key")
		_, err = kubeClient.CoreV1().Pods(hostile).Create(ctx, newPod("db-0", `[{"name":"br1","namespace":"`+owner+`"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podMACs(ctx, hostile, "db-0")).NotTo(ContainElement(address))

		By("asking for the retained MAC explicitly is a conflict, from another namespace and from another object alike")
		for _, attempt := range []struct{ namespace, name string }{{hostile, "thief"}, {owner, "db-1"}} {
			_, err = kubeClient.CoreV1().Pods(attempt.namespace).Create(ctx, newPod(attempt.name, `[{"name":"br1","mac":"`+address+`"}]`), metav1.CreateOptions{})
			expectClientError(err, http.StatusConflict, address, "already in use by another object")
			if attempt.namespace == hostile {
				// Nothing tells the other tenant who holds it.
				Expect(err.Error()).NotTo(ContainSubstring(owner))
			}
		}
		Expect(leasesOf(ctx, hostile)).NotTo(HaveKey(address))
		eventuallyPhase(ctx, owner, "Pod/db-0", v1alpha1.MacLeasePhaseRetained, before)
		Eventually(poolRetained(ctx, pool)).WithContext(ctx).Should(BeEquivalentTo(1))

		By("db-0 created again in its own namespace gets it back")
		_, err = kubeClient.CoreV1().Pods(owner).Create(ctx, newPod("db-0", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podMACs(ctx, owner, "db-0")).To(Equal(before))
		eventuallyPhase(ctx, owner, "Pod/db-0", v1alpha1.MacLeasePhaseBound, before)
		Expect(mustKubectl("get", "ml", "-A", "--field-selector", "status.phase=Retained")).NotTo(ContainSubstring(address))
	})
})
