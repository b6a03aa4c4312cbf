package e2e

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/informers/externalversions"
)

var _ = Describe("A restart of kubemacpool-apiserver", Ordered, func() {
	It("keeps every lease and lets a watching client catch up by re-listing", func(ctx context.Context) {
		namespace := createNamespace(ctx, "restart")
		before := make([]string, 5)
		for i := range before {
			before[i] = nextMAC()
			createLease(ctx, namespace, newLease(before[i], "survivor"))
		}

		// An informer is what controllers use: its reflector re-lists and
		// re-watches when the server goes away and comes back.
		informerCtx, stopInformer := context.WithCancel(ctx)
		defer stopInformer()
		factory := externalversions.NewSharedInformerFactoryWithOptions(macClient, 0, externalversions.WithNamespace(namespace))
		informer := factory.Macpool().V1alpha1().MacLeases().Informer()
		factory.Start(informerCtx.Done())
		Expect(cache.WaitForCacheSync(informerCtx.Done(), informer.HasSynced)).To(BeTrue())
		Expect(informer.GetStore().ListKeys()).To(HaveLen(len(before)))

		Expect(cluster.StopKubemacpool()).To(Succeed())
		Expect(cluster.StartKubemacpool(ctx)).To(Succeed())

		// kube-apiserver's availability controller may notice the downtime
		// only after the server is back, and answer 503 until its next
		// probe; a client retries that, as the message says. Any other
		// error fails at once.
		var list *v1alpha1.MacLeaseList
		Eventually(func(g Gomega) {
			var err error
			list, err = macClient.MacpoolV1alpha1().MacLeases(namespace).List(ctx, metav1.ListOptions{})
			if apierrors.IsServiceUnavailable(err) {
				g.Expect(err).NotTo(HaveOccurred(), "the aggregator still calls the server unavailable")
				return
			}
			if err != nil {
				StopTrying("listing the leases after the restart").Wrap(err).Now()
			}
		}).WithContext(ctx).WithTimeout(90 * time.Second).Should(Succeed())
		var stored []string
		for _, lease := range list.Items {
			stored = append(stored, lease.Spec.MACAddress)
		}
		Expect(stored).To(ConsistOf(before))

		after := nextMAC()
		createLease(ctx, namespace, newLease(after, "newcomer"))
		Eventually(func() []string {
			var seen []string
			for _, object := range informer.GetStore().List() {
				seen = append(seen, object.(*v1alpha1.MacLease).Spec.MACAddress)
			}
			return seen
		}).WithContext(ctx).WithTimeout(90 * time.Second).Should(ConsistOf(append(before, after)))
	})
})

// Serial: the spec stops kubemacpool-apiserver, which would fail any spec
// running alongside.
var _ = Describe("A restart of kubemacpool-apiserver while a pod is removed with --force", Serial, func() {
	It("keeps the MAC of a pod removed with --force while the only replica was down: the restarted server replays the Pod removals it missed", func(ctx context.Context) {
		// With one replica (the default) no other replica follows the Pods
		// while it restarts, so only what the server saved before it
		// stopped can tell it, once back, of a Pod removed meanwhile: a
		// Pod informer that starts afresh lists the Pods that exist and
		// never hears of one that is gone.
		Expect(cluster.KubemacpoolReplicas()).To(Equal(1), "the suite's cluster runs a single replica")
		namespace := createNamespace(ctx, "restart-forced")
		node, address := forcedPodOnPartitionedNode(ctx, namespace)
		bound := leasesOf(ctx, namespace)[address]
		// Every 10 s the leader saves the Pod resourceVersion it had
		// handled at the previous tick, and the restarted server replays
		// the Pod events from the last one saved. In a fresh cluster (a
		// focused run) the first save may come only at the second tick of
		// the server's term, and nothing reports it: wait two periods and
		// a margin, so that the spec does not depend on the save the
		// server also makes as it stops.
		time.Sleep(22 * time.Second)

		// Registered after createNamespace, so it runs before the
		// namespace's cleanup, which needs the server: a spec that fails
		// while the server is down leaves it running for the next.
		stopped := false
		DeferCleanup(func(ctx context.Context) {
			if stopped {
				Expect(cluster.StartKubemacpool(ctx)).To(Succeed())
			}
		})
		By("stopping the only replica, then removing the pod with --force while it is down")
		Expect(cluster.StopKubemacpool()).To(Succeed())
		stopped = true
		Expect(kubeClient.CoreV1().Pods(namespace).Delete(ctx, "forced", *metav1.NewDeleteOptions(0))).To(Succeed())
		Expect(cluster.StartKubemacpool(ctx)).To(Succeed())
		stopped = false

		By("the restarted server writes the hold of the node, and keeps the lease")
		// The lease as the server has it now. kube-apiserver's
		// availability controller may call the server unavailable (503)
		// until its next probe after the restart: that fails one attempt
		// only.
		heldLease := func(g Gomega) {
			list, err := macClient.MacpoolV1alpha1().MacLeases(namespace).List(ctx, metav1.ListOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			var found []v1alpha1.MacLease
			for _, lease := range list.Items {
				if lease.Spec.MACAddress == address {
					found = append(found, lease)
				}
			}
			g.Expect(found).To(HaveLen(1), "the lease of %s, the MAC of the pod removed while the server was down", address)
			lease := found[0]
			// The same lease, still the removed pod's: perhaps deleted
			// (Terminating), as any lease whose pod is gone, but kept, so
			// that its MAC is leased to no other object.
			g.Expect(lease.UID).To(Equal(bound.UID), "the lease the pod was bound to")
			g.Expect(lease.Spec.Owner).To(Equal(&v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "forced"}))
			g.Expect(lease.Annotations).To(HaveKeyWithValue("macpool.kubemacpool.io/node-holds",
				And(ContainSubstring(`"node":"`+node.Name+`"`), ContainSubstring(`"pod":"forced"`))))
		}
		Eventually(heldLease).WithContext(ctx).WithTimeout(90 * time.Second).Should(Succeed())
		// Held, not only annotated for a moment: the node never reports
		// Ready, so it never proves it stopped the pod.
		Consistently(heldLease).WithContext(ctx).WithTimeout(10 * time.Second).Should(Succeed())

		// What an alert reads: this start learnt of the removals from the
		// replayed watch.
		Expect(scrapeMetrics()).To(MatchRegexp(`(?m)^kmp_pod_removal_replay_timestamp_seconds\{result="watched"\} `))

		By("once the node is gone, so are its pods, the hold and the lease")
		Expect(kubeClient.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{})).To(Succeed())
		Eventually(func() map[string]v1alpha1.MacLease { return leasesOf(ctx, namespace) }).
			WithContext(ctx).WithTimeout(90 * time.Second).ShouldNot(HaveKey(address))
	})
})
