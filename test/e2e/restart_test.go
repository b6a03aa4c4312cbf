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
