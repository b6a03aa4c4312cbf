package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

var _ = Describe("MacLeases", func() {
	var tenantA, tenantB string

	BeforeEach(func(ctx context.Context) {
		tenantA = createNamespace(ctx, "tenant-a")
		tenantB = createNamespace(ctx, "tenant-b")
	})

	It("are created, read, listed, watched and deleted with client-go", func(ctx context.Context) {
		leases := macClient.MacpoolV1alpha1().MacLeases(tenantA)
		watcher, err := leases.Watch(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		defer watcher.Stop()

		mac := nextMAC()
		created := createLease(ctx, tenantA, newLease(mac, "web-0"))
		Expect(created.Name).To(Equal(leaseName(mac)))
		Expect(created.Namespace).To(Equal(tenantA))

		got, err := leases.Get(ctx, leaseName(mac), metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Spec.MACAddress).To(Equal(mac))
		Expect(got.Spec.Owner.Name).To(Equal("web-0"))

		list, err := leases.List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(list.Items).To(HaveLen(1))

		Expect(leases.Delete(ctx, leaseName(mac), metav1.DeleteOptions{})).To(Succeed())
		_, err = leases.Get(ctx, leaseName(mac), metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "get after delete: %v", err)

		Expect(nextEvent(watcher)).To(Equal(watch.Added))
		Expect(nextEvent(watcher)).To(Equal(watch.Deleted))
	})

	It("print the documented columns and answer to short names and the category with kubectl", func(ctx context.Context) {
		mac := nextMAC()
		createLease(ctx, tenantA, newLease(mac, "db-0"))

		output := mustKubectl("get", "macleases", "-n", tenantA)
		header := strings.Fields(strings.SplitN(output, "\n", 2)[0])
		Expect(header).To(Equal([]string{"MAC", "OWNER", "INTERFACE", "POOL", "PHASE", "AGE"}))
		Expect(output).To(ContainSubstring(mac))
		Expect(output).To(ContainSubstring("Pod/db-0"))
		Expect(output).To(ContainSubstring("default/bridge-net"))

		Expect(mustKubectl("get", "ml", "-n", tenantA)).To(ContainSubstring(mac))
		Expect(mustKubectl("get", "kubemacpool", "-n", tenantA)).To(ContainSubstring(mac))
		Expect(mustKubectl("get", "maclease", leaseName(mac), "-n", tenantA, "-o", "jsonpath={.spec.macAddress}")).To(Equal(mac))
	})

	It("are seen per namespace, and all together with -A", func(ctx context.Context) {
		macA, macB := nextMAC(), nextMAC()
		createLease(ctx, tenantA, newLease(macA, "a"))
		createLease(ctx, tenantB, newLease(macB, "b"))

		inA := mustKubectl("get", "macleases", "-n", tenantA)
		Expect(inA).To(ContainSubstring(macA))
		Expect(inA).NotTo(ContainSubstring(macB))

		all := mustKubectl("get", "macleases", "-A")
		Expect(all).To(ContainSubstring(macA))
		Expect(all).To(ContainSubstring(macB))

		listB, err := macClient.MacpoolV1alpha1().MacLeases(tenantB).List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(names(listB)).To(ConsistOf(leaseName(macB)))

		// A watch of namespace B, from the list's version, never shows
		// namespace A's leases.
		watcher, err := macClient.MacpoolV1alpha1().MacLeases(tenantB).Watch(ctx, metav1.ListOptions{ResourceVersion: listB.ResourceVersion})
		Expect(err).NotTo(HaveOccurred())
		defer watcher.Stop()
		createLease(ctx, tenantA, newLease(nextMAC(), "a2"))
		macB2 := nextMAC()
		createLease(ctx, tenantB, newLease(macB2, "b2"))
		event := <-watcher.ResultChan()
		Expect(event.Object.(*v1alpha1.MacLease).Name).To(Equal(leaseName(macB2)))
	})

	// client-go's WatchList (kube-controller-manager's informers, kubectl
	// --watch) asks for the initial state on the watch. The watch cache
	// serves it only while the storage layer knows that etcd supports
	// progress notifications: with the embedded member it did not know,
	// refused these watches and read every consistent list from etcd.
	It("stream the namespace's leases to a watch that asks for the initial events", func(ctx context.Context) {
		mac := nextMAC()
		createLease(ctx, tenantA, newLease(mac, "streamed"))
		createLease(ctx, tenantB, newLease(nextMAC(), "elsewhere"))
		watchCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		watcher, err := macClient.MacpoolV1alpha1().MacLeases(tenantA).Watch(watchCtx, metav1.ListOptions{
			SendInitialEvents:    ptr.To(true),
			AllowWatchBookmarks:  true,
			ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
		})
		Expect(err).NotTo(HaveOccurred())
		defer watcher.Stop()
		var initial []string
		for {
			var event watch.Event
			Eventually(watcher.ResultChan()).WithTimeout(30 * time.Second).Should(Receive(&event))
			Expect(event.Type).NotTo(Equal(watch.Error), "the watch was refused: %v", event.Object)
			lease := event.Object.(*v1alpha1.MacLease)
			if event.Type == watch.Bookmark && lease.Annotations[metav1.InitialEventsAnnotationKey] == "true" {
				break
			}
			if event.Type == watch.Added {
				initial = append(initial, lease.Namespace+"/"+lease.Name)
			}
		}
		Expect(initial).To(ConsistOf(tenantA + "/" + leaseName(mac)))
	})

	It("are unique across namespaces: a second lease of the same MAC is AlreadyExists without naming the holder", func(ctx context.Context) {
		mac := nextMAC()
		createLease(ctx, tenantA, newLease(mac, "holder"))

		_, err := macClient.MacpoolV1alpha1().MacLeases(tenantB).Create(ctx, newLease(mac, "intruder"), metav1.CreateOptions{})
		Expect(apierrors.IsAlreadyExists(err)).To(BeTrue(), "got %v", err)
		status := err.(apierrors.APIStatus).Status()
		Expect(status.Code).To(BeEquivalentTo(409))
		Expect(status.Message).NotTo(ContainSubstring(tenantA))
		Expect(status.Message).NotTo(ContainSubstring("holder"))

		// Also through kubectl, and also in the other spelling of the address.
		_, err = kubectlWithInput(fmt.Sprintf(`apiVersion: macpool.kubemacpool.io/v1alpha1
kind: MacLease
metadata:
  name: %s
spec:
  macAddress: %s
`, leaseName(mac), strings.ToUpper(strings.ReplaceAll(mac, ":", "-"))), "create", "-n", tenantB, "-f", "-")
		Expect(err).To(MatchError(ContainSubstring("AlreadyExists")))
	})

	It("of another namespace are NotFound by name and stay intact whatever is tried through this namespace", func(ctx context.Context) {
		mac := nextMAC()
		original := createLease(ctx, tenantA, newLease(mac, "protected"))
		name := leaseName(mac)
		fromB := macClient.MacpoolV1alpha1().MacLeases(tenantB)

		_, err := fromB.Get(ctx, name, metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "get: %v", err)

		_, err = fromB.Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"owner":{"apiVersion":"v1","kind":"Pod","name":"stolen"}}}`), metav1.PatchOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "merge patch: %v", err)

		stolen := newLease(mac, "stolen")
		stolen.ResourceVersion = original.ResourceVersion
		_, err = fromB.Update(ctx, stolen, metav1.UpdateOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "update: %v", err)

		_, err = fromB.UpdateStatus(ctx, stolen, metav1.UpdateOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "update status: %v", err)

		err = fromB.Delete(ctx, name, metav1.DeleteOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "delete: %v", err)

		err = fromB.Delete(ctx, name, metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "dry-run delete: %v", err)

		Expect(fromB.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})).To(Succeed())

		_, err = kubectl("patch", "maclease", name, "-n", tenantB, "--type=json", `-p=[{"op":"replace","path":"/spec/interface","value":"x"}]`)
		Expect(err).To(MatchError(ContainSubstring("NotFound")))
		_, err = kubectl("delete", "maclease", name, "-n", tenantB)
		Expect(err).To(MatchError(ContainSubstring("NotFound")))

		after, err := macClient.MacpoolV1alpha1().MacLeases(tenantA).Get(ctx, name, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(after.Spec).To(Equal(original.Spec))
		Expect(after.ResourceVersion).To(Equal(original.ResourceVersion))
	})

	It("hand each MAC to exactly one of many concurrent clients in different namespaces", func(ctx context.Context) {
		const clients, macsPerClient = 8, 40
		namespaces := make([]string, clients)
		for i := range namespaces {
			namespaces[i] = createNamespace(ctx, fmt.Sprintf("race-%d", i))
		}
		macs := make([]string, macsPerClient)
		for i := range macs {
			macs[i] = nextMAC()
		}

		var mu sync.Mutex
		winners := map[string][]string{}
		var unexpected []error
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func(namespace string) {
				defer GinkgoRecover()
				defer wg.Done()
				for _, mac := range macs {
					_, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Create(ctx, newLease(mac, "racer"), metav1.CreateOptions{})
					mu.Lock()
					switch {
					case err == nil:
						winners[mac] = append(winners[mac], namespace)
					case !apierrors.IsAlreadyExists(err):
						unexpected = append(unexpected, err)
					}
					mu.Unlock()
				}
			}(namespaces[c])
		}
		wg.Wait()
		Expect(unexpected).To(BeEmpty())
		for _, mac := range macs {
			Expect(winners[mac]).To(HaveLen(1), "MAC %s was leased to %v", mac, winners[mac])
		}
		all, err := macClient.MacpoolV1alpha1().MacLeases("").List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		stored := map[string]string{}
		for _, lease := range all.Items {
			stored[lease.Spec.MACAddress] = lease.Namespace
		}
		for _, mac := range macs {
			Expect(stored).To(HaveKeyWithValue(mac, winners[mac][0]))
		}
	})

	It("are selected by owner kind, owner name, pool and phase", func(ctx context.Context) {
		leases := macClient.MacpoolV1alpha1().MacLeases(tenantA)
		podMAC, vmMAC, staticMAC := nextMAC(), nextMAC(), nextMAC()
		createLease(ctx, tenantA, newLease(podMAC, "pod-1"))
		vmLease := newLease(vmMAC, "vm-1")
		vmLease.Spec.Owner = &v1alpha1.LeaseOwner{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "vm-1"}
		vmLease.Spec.Pool = "lab"
		// Reserved with a deadline far off: the controller would release a
		// Bound lease whose owner does not exist.
		inAnHour := metav1.NewTime(time.Now().Add(time.Hour))
		vmLease.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseReserved, ExpiresAt: &inAnHour}
		createLease(ctx, tenantA, vmLease)
		createLease(ctx, tenantA, &v1alpha1.MacLease{ObjectMeta: metav1.ObjectMeta{Name: leaseName(staticMAC)}})

		selected := func(selector string) []string {
			GinkgoHelper()
			list, err := leases.List(ctx, metav1.ListOptions{FieldSelector: selector})
			Expect(err).NotTo(HaveOccurred())
			return names(list)
		}
		Expect(selected("spec.owner.kind=VirtualMachine")).To(ConsistOf(leaseName(vmMAC)))
		Expect(selected("spec.owner.name=pod-1")).To(ConsistOf(leaseName(podMAC)))
		Expect(selected("spec.pool=lab")).To(ConsistOf(leaseName(vmMAC)))
		Expect(selected("status.phase=Reserved")).To(ConsistOf(leaseName(vmMAC)))
		Expect(selected("spec.owner.kind=")).To(ConsistOf(leaseName(staticMAC)))
		Expect(selected("spec.owner.kind!=Pod,spec.owner.kind!=")).To(ConsistOf(leaseName(vmMAC)))

		output := mustKubectl("get", "macleases", "-n", tenantA, "--field-selector", "spec.owner.kind=Pod", "-o", "name")
		Expect(strings.TrimSpace(output)).To(Equal("maclease.macpool.kubemacpool.io/" + leaseName(podMAC)))

		_, err := leases.List(ctx, metav1.ListOptions{FieldSelector: "spec.interface=x"})
		Expect(apierrors.IsBadRequest(err)).To(BeTrue(), "unsupported field selector: %v", err)
		Expect(err.Error()).To(ContainSubstring("field label not supported"))
	})

	It("are applied server-side with field ownership", func(ctx context.Context) {
		mac := nextMAC()
		manifest := fmt.Sprintf(`apiVersion: macpool.kubemacpool.io/v1alpha1
kind: MacLease
metadata:
  name: %s
spec:
  macAddress: %s
  interface: %s
`, leaseName(mac), mac, "%s")
		_, err := kubectlWithInput(fmt.Sprintf(manifest, "eth0"), "apply", "--server-side", "--field-manager=netops", "-n", tenantA, "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		_, err = kubectlWithInput(fmt.Sprintf(manifest, "eth1"), "apply", "--server-side", "--field-manager=netops", "-n", tenantA, "-f", "-")
		Expect(err).NotTo(HaveOccurred())

		lease, err := macClient.MacpoolV1alpha1().MacLeases(tenantA).Get(ctx, leaseName(mac), metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(lease.Spec.Interface).To(Equal("eth1"))
		var managers []string
		for _, entry := range lease.ManagedFields {
			managers = append(managers, entry.Manager)
		}
		Expect(managers).To(ContainElement("netops"))

		// Another manager changing a field netops owns is a conflict.
		_, err = kubectlWithInput(fmt.Sprintf(manifest, "eth2"), "apply", "--server-side", "--field-manager=intruder", "-n", tenantA, "-f", "-")
		Expect(err).To(MatchError(ContainSubstring("conflict")))
	})
})

func names(list *v1alpha1.MacLeaseList) []string {
	result := make([]string, 0, len(list.Items))
	for _, item := range list.Items {
		result = append(result, item.Name)
	}
	return result
}

func nextEvent(watcher watch.Interface) watch.EventType {
	GinkgoHelper()
	select {
	case event, ok := <-watcher.ResultChan():
		Expect(ok).To(BeTrue(), "watch closed")
		return event.Type
	case <-time.After(30 * time.Second):
		Fail("no watch event within 30s")
	}
	return ""
}
