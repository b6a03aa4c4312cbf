package e2e

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// kubeVirtIdentity is the server's default --kubevirt-identity.
const kubeVirtIdentity = "system:serviceaccount:kubevirt:kubevirt-controller"

var _ = Describe("The namespace guard", func() {
	It("answers a PUT with the holder's or a guessed UID NotFound, without naming the UID", func(ctx context.Context) {
		holder, intruder := createNamespace(ctx, "guard-holder"), createNamespace(ctx, "guard-intruder")
		held := createLease(ctx, holder, newLease(nextMAC(), "owner"))
		for _, uid := range []types.UID{held.UID, "00000000-0000-0000-0000-000000000000"} {
			forged := held.DeepCopy()
			forged.Namespace, forged.UID, forged.ResourceVersion = intruder, uid, ""
			_, err := macClient.MacpoolV1alpha1().MacLeases(intruder).Update(ctx, forged, metav1.UpdateOptions{})
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "uid %s: %v", uid, err)
			Expect(err.Error()).NotTo(ContainSubstring(string(held.UID)))
		}
	})

	It("answers a create of a held MAC AlreadyExists without the holder, dry-run, applied or not", func(ctx context.Context) {
		holder, intruder := createNamespace(ctx, "guard-holder"), createNamespace(ctx, "guard-intruder")
		address := nextMAC()
		createLease(ctx, holder, newLease(address, "owner"))
		for _, dryRun := range [][]string{nil, {metav1.DryRunAll}} {
			_, err := macClient.MacpoolV1alpha1().MacLeases(intruder).Create(ctx, newLease(address, "copy"), metav1.CreateOptions{DryRun: dryRun})
			Expect(apierrors.IsAlreadyExists(err)).To(BeTrue(), "create, dry-run %v: %v", dryRun, err)
			Expect(err.Error()).NotTo(ContainSubstring(holder))
		}
		manifest := `apiVersion: macpool.kubemacpool.io/v1alpha1
kind: MacLease
metadata:
  name: ` + leaseName(address) + `
spec:
  owner: {apiVersion: v1, kind: Pod, name: copy}
`
		for _, extra := range [][]string{nil, {"--dry-run=server"}} {
			args := append([]string{"apply", "--server-side", "-n", intruder, "-f", "-"}, extra...)
			output, err := kubectlWithInput(manifest, args...)
			Expect(err).To(HaveOccurred(), "apply %v: %s", extra, output)
			Expect(err.Error()).To(ContainSubstring("already exists"))
			Expect(err.Error()).NotTo(ContainSubstring(holder))
		}
		Expect(leasesOf(ctx, intruder)).To(BeEmpty())
		Expect(leaseView(ctx, holder)).To(HaveKeyWithValue(address, v1alpha1MacLeaseView{Owner: "Pod/owner", Interface: "default/bridge-net"}))
	})
})

// rejectPool gives namespace a pool under conflictPolicy Reject of the 256
// addresses 0e:00:00:<block>:00:00 to 0e:00:00:<block>:00:ff.
func rejectPool(ctx context.Context, namespace string, block int) {
	GinkgoHelper()
	createPoolFor(ctx, namespace, v1alpha1.MacPoolSpec{
		Ranges:         []v1alpha1.MACRange{{Start: fmt.Sprintf("0e:00:00:%02x:00:00", block), End: fmt.Sprintf("0e:00:00:%02x:00:ff", block)}},
		ConflictPolicy: v1alpha1.ConflictPolicyReject,
	})
}

// heldElsewhere leases a new MAC in a new namespace named after prefix and
// returns the MAC.
func heldElsewhere(ctx context.Context, prefix string) string {
	GinkgoHelper()
	held := nextMAC()
	createLease(ctx, createNamespace(ctx, prefix), newLease(held, "holder"))
	return held
}

var _ = Describe("Under conflictPolicy Reject", func() {
	It("denies the second of two replicas (same generateName) that ask for the same fixed MAC", func(ctx context.Context) {
		namespace := createNamespace(ctx, "replicas")
		rejectPool(ctx, namespace, 0x05)
		fixed := nextMAC()
		replica := func() (*corev1.Pod, error) {
			pod := newPod("", `[{"name":"br1","mac":"`+fixed+`"}]`)
			pod.GenerateName = "web-"
			return kubeClient.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
		}
		_, err := replica()
		Expect(err).NotTo(HaveOccurred())
		_, err = replica()
		Expect(err).To(MatchError(ContainSubstring("MAC address " + fixed + " requested for " + namespace + "/br1 is already in use by another object")))
	})

	// The webhook reads a VirtualMachine as KubeVirt does, case-sensitively:
	// a member "ſpec" (U+017F, which encoding/json folds to "spec") after
	// the template's spec must not hide its interfaces from the webhook
	// while KubeVirt runs them. The VM CRD here keeps unknown fields, as a
	// CRD may.
	It("denies a VirtualMachine that asks for a held MAC behind a case-folded spec member", func(ctx context.Context) {
		namespace := createNamespace(ctx, "folded")
		held := heldElsewhere(ctx, "folded-holder")
		rejectPool(ctx, namespace, 0x07)
		vm := toUnstructured(newVM("folded", vmInterface{name: "red", mac: held}))
		Expect(unstructured.SetNestedMap(vm.Object, map[string]interface{}{}, "spec", "template", "ſpec")).To(Succeed())
		_, err := dynamicClient.Resource(vmResource).Namespace(namespace).Create(ctx, vm, metav1.CreateOptions{})
		Expect(err).To(MatchError(ContainSubstring("MAC address " + held + " requested for")))
		Expect(err).To(MatchError(ContainSubstring("is already in use by another object")))
		Expect(leasesOf(ctx, namespace)).To(BeEmpty())
	})

	// kube-apiserver wipes a deletionTimestamp sent with a create, but on a
	// create through server-side apply only after the mutating webhooks: a
	// webhook condition that skipped objects being deleted let such a VM be
	// stored with a held MAC nobody checked.
	It("denies a VirtualMachine applied server-side with a deletionTimestamp that asks for a held MAC", func(ctx context.Context) {
		namespace := createNamespace(ctx, "applied-deleted")
		held := heldElsewhere(ctx, "applied-deleted-holder")
		rejectPool(ctx, namespace, 0x08)
		vm := toUnstructured(newVM("applied", vmInterface{name: "red", mac: held}))
		vm.SetDeletionTimestamp(&metav1.Time{Time: time.Now()})
		_, err := dynamicClient.Resource(vmResource).Namespace(namespace).Apply(ctx, "applied", vm, metav1.ApplyOptions{FieldManager: "tenant"})
		Expect(err).To(MatchError(ContainSubstring("MAC address " + held + " requested for")))
		Expect(err).To(MatchError(ContainSubstring("is already in use by another object")))
		_, err = dynamicClient.Resource(vmResource).Namespace(namespace).Get(ctx, "applied", metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the VM was stored: %v", err)
		Expect(leasesOf(ctx, namespace)).To(BeEmpty())
	})
})

var _ = Describe("Pods that look like KubeVirt's", func() {
	var namespace string

	BeforeEach(func(ctx context.Context) {
		namespace = createNamespace(ctx, "launchers")
	})

	It("get leases when the virt-launcher label and VMI owner are forged, or network-status is written at creation", func(ctx context.Context) {
		// The owner chain is real (a VMI of a VM, so the garbage collector
		// leaves the pod alone); what is forged is the creator: a tenant,
		// not KubeVirt, with KubeVirt's label.
		vm, err := createVM(ctx, namespace, newVM("real", vmInterface{name: "red"}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		vmi := createVMI(ctx, namespace, "real", []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "real", UID: vm.UID}})
		forged := newPod("virt-launcher-fake", `[{"name":"br1"}]`)
		forged.Labels = map[string]string{"kubevirt.io": "virt-launcher"}
		forged.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Name: "real", UID: vmi.GetUID()}}
		created, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, forged, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		forgedMAC, _ := podNetworks(created)[0]["mac"].(string)
		Expect(forgedMAC).NotTo(BeEmpty())

		wired := newPod("wired", `[{"name":"br1"}]`)
		wired.Annotations["k8s.v1.cni.cncf.io/network-status"] = `[]`
		created, err = kubeClient.CoreV1().Pods(namespace).Create(ctx, wired, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		wiredMAC, _ := podNetworks(created)[0]["mac"].(string)
		Expect(wiredMAC).NotTo(BeEmpty())

		// Leased at admission, like any pod's.
		view := leaseView(ctx, namespace)
		Expect(view).To(HaveKeyWithValue(forgedMAC, HaveField("Owner", "Pod/virt-launcher-fake")))
		Expect(view).To(HaveKeyWithValue(wiredMAC, HaveField("Owner", "Pod/wired")))
	})

	It("are denied under Reject when the forged launcher asks for a held MAC", func(ctx context.Context) {
		held := heldElsewhere(ctx, "holder")
		rejectPool(ctx, namespace, 0x06)
		forged := newPod("virt-launcher-fake", `[{"name":"br1","mac":"`+held+`"}]`)
		forged.Labels = map[string]string{"kubevirt.io": "virt-launcher"}
		forged.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Name: "fake", UID: "00000000-0000-0000-0000-000000000001"}}
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, forged, metav1.CreateOptions{})
		Expect(err).To(MatchError(ContainSubstring("is already in use by another object")))
	})

	// A tenant who may create VMIs writes their owner references: a VMI
	// that names the tenant's own VM as its owner runs with whatever MACs
	// the VMI asks for, and KubeVirt creates its launcher pod with them.
	It("admit the MACs of the launcher of a tenant's VMI that names the tenant's VM as its owner only under its pool's conflictPolicy", func(ctx context.Context) {
		held := heldElsewhere(ctx, "launcher-holder")
		rejectPool(ctx, namespace, 0x0c)
		vm, err := createVM(ctx, namespace, newVM("decoy"), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		evil := createVMI(ctx, namespace, "evil", []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "decoy", UID: vm.UID}})
		launcher := func(address string) *corev1.Pod {
			pod := newPod("", `[{"name":"br1","mac":"`+address+`"}]`)
			pod.GenerateName = "virt-launcher-evil-"
			pod.Labels = map[string]string{"kubevirt.io": "virt-launcher"}
			pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Name: "evil", UID: evil.GetUID()}}
			return pod
		}

		By("a MAC another namespace holds is denied, as for any pod")
		_, err = kubeVirtClient().CoreV1().Pods(namespace).Create(ctx, launcher(held), metav1.CreateOptions{})
		Expect(err).To(MatchError(ContainSubstring("is already in use by another object")))

		By("a free MAC is leased to the VM the VMI names, as its webhook would have, and the pod is left as KubeVirt made it")
		free := nextMAC()
		created, err := kubeVirtClient().CoreV1().Pods(namespace).Create(ctx, launcher(free), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(created.Annotations[networksAnnotation]).To(Equal(launcher(free).Annotations[networksAnnotation]))
		Expect(leasesOf(ctx, namespace)).To(HaveKeyWithValue(free, HaveField("Spec.Owner.Name", "decoy")))
	})

	// A live migration's target launcher carries the MACs the guest runs
	// with, which the source launcher holds: under Reject it used to be
	// refused. The VMI's status is no proof by itself (its creator may
	// write it): a MAC it reports counts only while a launcher of the VMI
	// holds its lease.
	It("let a standalone VMI's migration target carry the MAC its source launcher holds under Reject, and no MAC the status alone names", func(ctx context.Context) {
		rejectPool(ctx, namespace, 0x0e)
		own, held := nextMAC(), heldElsewhere(ctx, "migration-holder")
		lonely := createVMI(ctx, namespace, "lonely", nil)
		launcher := func(address string) *corev1.Pod { return standaloneLauncher(lonely, address) }
		reports := func(addresses ...string) { GinkgoHelper(); reportMACs(ctx, namespace, "lonely", addresses...) }

		By("the first launcher leases the MAC")
		source, err := kubeVirtClient().CoreV1().Pods(namespace).Create(ctx, launcher(own), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(eventuallyBound(ctx, namespace, 1)).To(Equal(map[string]string{own: "Pod/" + source.Name}))

		By("the guest runs with it; the migration's target launcher carries it too")
		reports(own)
		_, err = kubeVirtClient().CoreV1().Pods(namespace).Create(ctx, launcher(own), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		By("a status that names another namespace's MAC gives the launcher nothing")
		reports(own, held)
		_, err = kubeVirtClient().CoreV1().Pods(namespace).Create(ctx, launcher(held), metav1.CreateOptions{})
		Expect(err).To(MatchError(ContainSubstring("is already in use by another object")))
		Expect(leasesOf(ctx, namespace)).To(HaveLen(1))
	})

	// The lease of a standalone VMI's MAC is its first launcher's. After
	// a migration that launcher goes, and the lease must follow the guest
	// to the launcher that runs it: the next migration's target carries
	// the MAC only while a launcher of the VMI holds its lease.
	It("let a standalone VMI migrate again under Reject once its first launcher is gone", func(ctx context.Context) {
		rejectPool(ctx, namespace, 0x0f)
		own := nextMAC()
		twice := createVMI(ctx, namespace, "twice", nil)

		By("the first launcher leases the MAC, and the guest runs with it")
		first, err := kubeVirtClient().CoreV1().Pods(namespace).Create(ctx, standaloneLauncher(twice, own), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(eventuallyBound(ctx, namespace, 1)).To(Equal(map[string]string{own: "Pod/" + first.Name}))
		reportMACs(ctx, namespace, "twice", own)

		By("the first migration's target carries it, and the source goes once the guest moved")
		second, err := kubeVirtClient().CoreV1().Pods(namespace).Create(ctx, standaloneLauncher(twice, own), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(kubeClient.CoreV1().Pods(namespace).Delete(ctx, first.Name, metav1.DeleteOptions{})).To(Succeed())

		By("the lease follows the guest to the launcher that runs it")
		Eventually(func() string { return leaseView(ctx, namespace)[own].Owner }).Should(Equal("Pod/" + second.Name))

		By("the second migration's target carries it too")
		_, err = kubeVirtClient().CoreV1().Pods(namespace).Create(ctx, standaloneLauncher(twice, own), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(leasesOf(ctx, namespace)).To(HaveLen(1))
	})

	It("give the launcher of a standalone VMI a MAC and a lease, and leave a VM's launcher created by KubeVirt alone", func(ctx context.Context) {
		standalone := createVMI(ctx, namespace, "lonely", nil)
		launcher := newPod("", `[{"name":"br1"}]`)
		launcher.GenerateName = "virt-launcher-lonely-"
		launcher.Labels = map[string]string{"kubevirt.io": "virt-launcher"}
		launcher.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Name: "lonely", UID: standalone.GetUID()}}
		created, err := kubeVirtClient().CoreV1().Pods(namespace).Create(ctx, launcher, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		address, _ := podNetworks(created)[0]["mac"].(string)
		Expect(address).NotTo(BeEmpty())
		Expect(eventuallyBound(ctx, namespace, 1)).To(Equal(map[string]string{address: "Pod/" + created.Name}))

		vm, err := createVM(ctx, namespace, newVM("owned", vmInterface{name: "red"}), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		owned := createVMI(ctx, namespace, "owned", []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "owned", UID: vm.UID}})
		vmLauncher := newPod("", `[{"name":"red-net","mac":"`+vmMACs(vm)["red"]+`"}]`)
		vmLauncher.GenerateName = "virt-launcher-owned-"
		vmLauncher.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Name: "owned", UID: owned.GetUID()}}
		created, err = kubeVirtClient().CoreV1().Pods(namespace).Create(ctx, vmLauncher, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(created.Annotations[networksAnnotation]).To(Equal(vmLauncher.Annotations[networksAnnotation]), "not re-encoded: the webhook left it alone")
		Expect(eventuallyBound(ctx, namespace, 2)).To(HaveKeyWithValue(vmMACs(vm)["red"], "VirtualMachine/owned"))

		// The same pod from a tenant is no launcher: it asks for a MAC
		// that its VM holds, and gets the warning of any other pod.
		tenantCopy := vmLauncher.DeepCopy()
		tenantCopy.GenerateName = "copy-"
		result := kubeClient.CoreV1().RESTClient().Post().Namespace(namespace).Resource("pods").Body(tenantCopy).Do(ctx)
		Expect(result.Error()).NotTo(HaveOccurred())
		Expect(result.Warnings()).To(ContainElement(HaveField("Text", ContainSubstring("already leased to another object"))))
	})
})

var _ = Describe("MACCollision events", func() {
	It("name only the objects of their namespace; the MacPool's event, in namespace default, counts them", func(ctx context.Context) {
		first, second := createNamespace(ctx, "collide-a"), createNamespace(ctx, "collide-b")
		shared := nextMAC()
		_, err := kubeClient.CoreV1().Pods(first).Create(ctx, newPod("alpha", `[{"name":"br1","mac":"`+shared+`"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = kubeClient.CoreV1().Pods(second).Create(ctx, newPod("beta", `[{"name":"br1","mac":"`+shared+`"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		for _, side := range []struct{ own, other, name string }{{first, second, "alpha"}, {second, first, "beta"}} {
			want := "MAC " + shared + ": Collision between pod/" + side.own + "/" + side.name + " and 1 object(s) in other namespaces"
			Eventually(func() []string { return collisionEvents(ctx, side.own, side.name) }).WithContext(ctx).Should(ContainElement(want))
			for _, message := range collisionEvents(ctx, side.own, side.name) {
				Expect(message).NotTo(ContainSubstring(side.other))
			}
		}
		// The MacPool is cluster-scoped: its events are stored in namespace
		// "default", which tenants may be allowed to read. It names nobody.
		counted := "MAC " + shared + ": Collision between 2 objects in 2 namespace(s)"
		Eventually(func() []string { return collisionEvents(ctx, metav1.NamespaceDefault, "default") }).WithContext(ctx).Should(ContainElement(counted))
		for _, message := range collisionEvents(ctx, metav1.NamespaceDefault, "default") {
			Expect(message).NotTo(SatisfyAny(ContainSubstring(first), ContainSubstring(second)))
		}
	})
})

// collisionEvents are the messages of the MACCollision events on the object
// named name in namespace.
func collisionEvents(ctx context.Context, namespace, name string) []string {
	GinkgoHelper()
	events, err := kubeClient.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	Expect(err).NotTo(HaveOccurred())
	var messages []string
	for _, event := range events.Items {
		if event.Reason == "MACCollision" {
			messages = append(messages, event.Message)
		}
	}
	return messages
}

// createVMI creates a VirtualMachineInstance; nothing runs it.
// standaloneLauncher is a virt-launcher Pod of vmi, a VMI no VM owns, as
// KubeVirt makes it, asking for address.
func standaloneLauncher(vmi *unstructured.Unstructured, address string) *corev1.Pod {
	pod := newPod("", `[{"name":"br1","mac":"`+address+`"}]`)
	pod.GenerateName = "virt-launcher-" + vmi.GetName() + "-"
	pod.Labels = map[string]string{"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": string(vmi.GetUID())}
	pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Name: vmi.GetName(), UID: vmi.GetUID()}}
	return pod
}

// reportMACs makes the spec and status of the VMI name in namespace name
// addresses on its interfaces, as KubeVirt's do while the guest runs.
func reportMACs(ctx context.Context, namespace, name string, addresses ...string) {
	GinkgoHelper()
	vmi, err := dynamicClient.Resource(vmiResource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	var specInterfaces, statusInterfaces []interface{}
	for i, address := range addresses {
		iface := fmt.Sprintf("net%d", i)
		specInterfaces = append(specInterfaces, map[string]interface{}{"name": iface, "macAddress": address, "bridge": map[string]interface{}{}})
		statusInterfaces = append(statusInterfaces, map[string]interface{}{"name": iface, "mac": address})
	}
	Expect(unstructured.SetNestedSlice(vmi.Object, specInterfaces, "spec", "domain", "devices", "interfaces")).To(Succeed())
	vmi, err = dynamicClient.Resource(vmiResource).Namespace(namespace).Update(ctx, vmi, metav1.UpdateOptions{})
	Expect(err).NotTo(HaveOccurred())
	Expect(unstructured.SetNestedField(vmi.Object, "Running", "status", "phase")).To(Succeed())
	Expect(unstructured.SetNestedSlice(vmi.Object, statusInterfaces, "status", "interfaces")).To(Succeed())
	_, err = dynamicClient.Resource(vmiResource).Namespace(namespace).UpdateStatus(ctx, vmi, metav1.UpdateOptions{})
	Expect(err).NotTo(HaveOccurred())
}

func createVMI(ctx context.Context, namespace, name string, owners []metav1.OwnerReference) *unstructured.Unstructured {
	GinkgoHelper()
	vmi := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "kubevirt.io/v1",
		"kind":       "VirtualMachineInstance",
		"metadata":   map[string]interface{}{"name": name, "namespace": namespace},
		"spec":       map[string]interface{}{"domain": map[string]interface{}{"devices": map[string]interface{}{}}},
	}}
	vmi.SetOwnerReferences(owners)
	created, err := dynamicClient.Resource(vmiResource).Namespace(namespace).Create(ctx, vmi, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return created
}

// kubeVirtClient acts as virt-controller does: as KubeVirt's service
// account (with the cluster admin's rights, so no RBAC is needed here).
func kubeVirtClient() kubernetes.Interface {
	config := cluster.RESTConfig()
	config.Impersonate.UserName = kubeVirtIdentity
	config.Impersonate.Groups = []string{"system:masters", "system:authenticated"}
	return kubernetes.NewForConfigOrDie(config)
}
