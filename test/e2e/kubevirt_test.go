package e2e

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

var (
	vmResource  = schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachines"}
	vmiResource = schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachineinstances"}
)

// vmInterface describes one interface of a test VM: masquerade on the pod
// network, or bridge on a multus network.
type vmInterface struct {
	name       string
	masquerade bool
	mac        string
}

func newVM(name string, interfaces ...vmInterface) *kubevirtv1.VirtualMachine {
	vm := &kubevirtv1.VirtualMachine{
		TypeMeta:   metav1.TypeMeta{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       kubevirtv1.VirtualMachineSpec{Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{}},
	}
	spec := &vm.Spec.Template.Spec
	for _, iface := range interfaces {
		device := kubevirtv1.Interface{Name: iface.name, MacAddress: iface.mac}
		network := kubevirtv1.Network{Name: iface.name}
		if iface.masquerade {
			device.Masquerade = &kubevirtv1.InterfaceMasquerade{}
			network.Pod = &kubevirtv1.PodNetwork{}
		} else {
			device.Bridge = &kubevirtv1.InterfaceBridge{}
			network.Multus = &kubevirtv1.MultusNetwork{NetworkName: iface.name + "-net"}
		}
		spec.Domain.Devices.Interfaces = append(spec.Domain.Devices.Interfaces, device)
		spec.Networks = append(spec.Networks, network)
	}
	return vm
}

func toUnstructured(obj runtime.Object) *unstructured.Unstructured {
	GinkgoHelper()
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	Expect(err).NotTo(HaveOccurred())
	return &unstructured.Unstructured{Object: content}
}

func fromUnstructured(obj *unstructured.Unstructured) *kubevirtv1.VirtualMachine {
	GinkgoHelper()
	vm := &kubevirtv1.VirtualMachine{}
	Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, vm)).To(Succeed())
	return vm
}

func createVM(ctx context.Context, namespace string, vm *kubevirtv1.VirtualMachine, options metav1.CreateOptions) (*kubevirtv1.VirtualMachine, error) {
	created, err := dynamicClient.Resource(vmResource).Namespace(namespace).Create(ctx, toUnstructured(vm), options)
	if err != nil {
		return nil, err
	}
	return fromUnstructured(created), nil
}

func getVM(ctx context.Context, namespace, name string) *kubevirtv1.VirtualMachine {
	GinkgoHelper()
	obj, err := dynamicClient.Resource(vmResource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	return fromUnstructured(obj)
}

// vmMACs maps interface names to their MACs.
func vmMACs(vm *kubevirtv1.VirtualMachine) map[string]string {
	macs := map[string]string{}
	for _, iface := range vm.Spec.Template.Spec.Domain.Devices.Interfaces {
		macs[iface.Name] = iface.MacAddress
	}
	return macs
}

// eventuallyBound waits until the namespace has count leases, all Bound
// with an owner reference and without the allocation's token, which the
// bind drops, and returns their owners by MAC.
func eventuallyBound(ctx context.Context, namespace string, count int) map[string]string {
	GinkgoHelper()
	owners := map[string]string{}
	Eventually(func(g Gomega) {
		leases := leasesOf(ctx, namespace)
		g.Expect(leases).To(HaveLen(count))
		for address, lease := range leases {
			g.Expect(lease.Status.Phase).To(BeEquivalentTo("Bound"), "lease %s", address)
			g.Expect(lease.Annotations).NotTo(HaveKey("macpool.kubemacpool.io/allocation-attempt"), "lease %s", address)
			// The owner first; VMIs and launcher pods that report the MAC
			// may follow, each once.
			g.Expect(lease.OwnerReferences).NotTo(BeEmpty())
			g.Expect(lease.OwnerReferences[0]).To(SatisfyAll(HaveField("Kind", lease.Spec.Owner.Kind), HaveField("Name", lease.Spec.Owner.Name)))
			uids := map[types.UID]bool{}
			for _, reference := range lease.OwnerReferences {
				g.Expect(uids).NotTo(HaveKey(reference.UID), "owner references of lease %s", address)
				uids[reference.UID] = true
			}
			owners[address] = lease.Spec.Owner.Kind + "/" + lease.Spec.Owner.Name
		}
	}).WithContext(ctx).Should(Succeed())
	return owners
}

var _ = Describe("The VirtualMachine webhook", func() {
	var namespace string

	BeforeEach(func(ctx context.Context) {
		namespace = createNamespace(ctx, "vms")
	})

	It("gives the README's simple-vm.yaml a MAC, and kubectl shows a Bound lease owned by VirtualMachine/simplevm", func(ctx context.Context) {
		mustKubectl("apply", "-n", namespace, "-f", "../../artifacts/examples/simple-vm.yaml")
		vm := getVM(ctx, namespace, "simplevm")
		address := vmMACs(vm)["default"]
		Expect(address).To(HavePrefix("02:"))

		Expect(eventuallyBound(ctx, namespace, 1)).To(Equal(map[string]string{address: "VirtualMachine/simplevm"}))
		output := mustKubectl("get", "macleases", "-n", namespace)
		Expect(output).To(ContainSubstring(address))
		Expect(output).To(ContainSubstring("VirtualMachine/simplevm"))
		Expect(output).To(ContainSubstring("Bound"))
	})

	It("gives five interfaces five MACs, keeps them on a re-apply without MACs, and follows added and removed interfaces", func(ctx context.Context) {
		interfaces := []vmInterface{{name: "default", masquerade: true}, {name: "red"}, {name: "green"}, {name: "blue"}, {name: "black"}}
		created, err := createVM(ctx, namespace, newVM("five", interfaces...), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		macs := vmMACs(created)
		Expect(macs).To(HaveLen(5))
		distinct := map[string]bool{}
		for _, address := range macs {
			Expect(address).NotTo(BeEmpty())
			distinct[address] = true
		}
		Expect(distinct).To(HaveLen(5))
		eventuallyBound(ctx, namespace, 5)

		// A re-apply of the original manifest, without MACs, keeps them.
		reapplied := newVM("five", interfaces...)
		reapplied.ResourceVersion = created.ResourceVersion
		updated, err := dynamicClient.Resource(vmResource).Namespace(namespace).Update(ctx, toUnstructured(reapplied), metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(vmMACs(fromUnstructured(updated))).To(Equal(macs))

		// Add one interface, remove another.
		changed := newVM("five", interfaces[0], interfaces[1], interfaces[2], interfaces[3], vmInterface{name: "white"})
		changed.ResourceVersion = updated.GetResourceVersion()
		updated, err = dynamicClient.Resource(vmResource).Namespace(namespace).Update(ctx, toUnstructured(changed), metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		after := vmMACs(fromUnstructured(updated))
		for _, kept := range []string{"default", "red", "green", "blue"} {
			Expect(after[kept]).To(Equal(macs[kept]), kept)
		}
		Expect(after["white"]).NotTo(BeEmpty())
		Expect(distinct).NotTo(HaveKey(after["white"]))

		Eventually(func() map[string]v1alpha1MacLeaseView { return leaseView(ctx, namespace) }).WithContext(ctx).Should(And(
			HaveLen(5),
			Not(HaveKey(macs["black"])),
			HaveKeyWithValue(after["white"], v1alpha1MacLeaseView{Owner: "VirtualMachine/five", Interface: "white", Phase: "Bound"}),
		))
	})

	It("denies a VM that repeats a MAC across its interfaces, in the pool's range and outside it", func(ctx context.Context) {
		for _, repeated := range []string{"02:00:00:00:00:77", "0a:00:00:00:00:77"} {
			vm := newVM("twins", vmInterface{name: "default", masquerade: true, mac: repeated}, vmInterface{name: "red", mac: repeated})
			_, err := createVM(ctx, namespace, vm, metav1.CreateOptions{})
			Expect(err).To(MatchError(ContainSubstring("duplicate MAC address " + repeated)))
		}
		Expect(leasesOf(ctx, namespace)).To(BeEmpty())
	})

	It("returns MACs on dry-run and leases nothing", func(ctx context.Context) {
		vm, err := createVM(ctx, namespace, newVM("dry", vmInterface{name: "default", masquerade: true}, vmInterface{name: "red"}), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		Expect(err).NotTo(HaveOccurred())
		Expect(vmMACs(vm)["default"]).NotTo(BeEmpty())
		Expect(vmMACs(vm)["red"]).NotTo(BeEmpty())
		Expect(leasesOf(ctx, namespace)).To(BeEmpty())
	})

	It("frees the leases of a deleted VM", func(ctx context.Context) {
		_, err := createVM(ctx, namespace, newVM("shortlived", vmInterface{name: "default", masquerade: true}, vmInterface{name: "red"}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		eventuallyBound(ctx, namespace, 2)
		Expect(dynamicClient.Resource(vmResource).Namespace(namespace).Delete(ctx, "shortlived", metav1.DeleteOptions{})).To(Succeed())
		Eventually(func() map[string]v1alpha1MacLeaseView { return leaseView(ctx, namespace) }).WithContext(ctx).Should(BeEmpty())
	})

	It("leaves VMs in a namespace that opted out alone", func(ctx context.Context) {
		labelNamespace(ctx, namespace, "mutatevirtualmachines.kubemacpool.io", "ignore")
		eventuallyVMsWebhook(ctx, namespace, false)
		vm, err := createVM(ctx, namespace, newVM("ignored", vmInterface{name: "default", masquerade: true}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(vmMACs(vm)["default"]).To(BeEmpty())
		Expect(leasesOf(ctx, namespace)).To(BeEmpty())
	})
})

// v1alpha1MacLeaseView is what a spec compares of a lease.
type v1alpha1MacLeaseView struct {
	Owner, Interface, Phase string
}

func leaseView(ctx context.Context, namespace string) map[string]v1alpha1MacLeaseView {
	GinkgoHelper()
	view := map[string]v1alpha1MacLeaseView{}
	for address, lease := range leasesOf(ctx, namespace) {
		entry := v1alpha1MacLeaseView{Interface: lease.Spec.Interface, Phase: string(lease.Status.Phase)}
		if lease.Spec.Owner != nil {
			entry.Owner = lease.Spec.Owner.Kind + "/" + lease.Spec.Owner.Name
		}
		view[address] = entry
	}
	return view
}
