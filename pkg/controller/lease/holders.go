package lease

import (
	"runtime"
	"strings"
	"sync"
	"weak"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kubemacpool.io/kubemacpool/pkg/collision"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
	"kubemacpool.io/kubemacpool/pkg/multus"
	"kubemacpool.io/kubemacpool/pkg/retention"
)

var (
	pods = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// holder is an object that carries MACs: a Pod or a VirtualMachine.
type holder struct {
	apiVersion, kind string
	namespace, name  string
	uid              string
	// interfaces maps each carried MAC (canonical colon form) to the
	// interface or network key it is on.
	interfaces map[string]string
	// retention is the object's choice about sticky MACs, as its leases
	// record it (retention.ObjectChoice).
	retention string
	// networks are the multus networks (namespace/name) each MAC of a Pod
	// is on, for collision detection; nil for a VirtualMachine.
	networks []collision.Holding
}

// podHolder reads the MACs of a Pod from its metadata. The kubevirt.io
// label and owner references are the pod creator's to write, so a
// virt-launcher pod is a holder like any other: the MACs of a
// VirtualMachine's launcher are leased to the VM already (nothing to bind or
// adopt), and a standalone VMI's launcher owns its leases, as in the original.
func podHolder(pod *metav1.PartialObjectMetadata) *holder {
	annotation, found := pod.Annotations[multus.NetworksAnnotation]
	if !found {
		return nil
	}
	networks, err := multus.Parse(annotation, pod.Namespace)
	if err != nil {
		return nil
	}
	h := &holder{apiVersion: "v1", kind: "Pod", namespace: pod.Namespace, name: pod.Name, uid: string(pod.UID), interfaces: map[string]string{},
		retention: retention.ObjectChoice(pod.Annotations, pod.Name, pod.GenerateName)}
	for i, network := range networks.Elements() {
		if network.MAC != "" {
			h.interfaces[network.MAC] = networks.Key(i)
			h.networks = append(h.networks, collision.Holding{MAC: network.MAC, Network: network.Namespace + "/" + network.Name})
		}
	}
	return h
}

// provenLauncher reports whether pod is a virt-launcher pod: one whose owner
// reference names a VirtualMachineInstance that the VMI informer holds with
// that very UID. A label or a reference to a VMI that does not exist is
// anybody's to write and proves nothing.
func (c *Controller) provenLauncher(pod *metav1.PartialObjectMetadata) bool {
	return c.launcherVMI(pod) != nil
}

// launcherVMI returns the VirtualMachineInstance that pod's owner reference
// names, if the VMI informer holds it with that UID; nil otherwise. Even
// then the reference proves only that the VMI exists: a tenant who may
// create VMIs writes the owner references of its own pods too.
func (c *Controller) launcherVMI(pod *metav1.PartialObjectMetadata) *unstructured.Unstructured {
	_, vmis := c.vmCaches()
	if vmis == nil {
		return nil
	}
	for _, owner := range pod.OwnerReferences {
		group, err := schema.ParseGroupVersion(owner.APIVersion)
		if err != nil || group.Group != kubevirt.VirtualMachineInstances.Group || owner.Kind != kubevirt.KindVirtualMachineInstance {
			continue
		}
		obj, exists, err := vmis.GetByKey(pod.Namespace + "/" + owner.Name)
		if err != nil || !exists {
			continue
		}
		if vmi, ok := obj.(*unstructured.Unstructured); ok && vmi.GetUID() == owner.UID {
			return vmi
		}
	}
	return nil
}

// vmHolders holds the holder read of each VirtualMachine object that is
// still referenced: the informers' objects are never changed (a new version
// is a new object) and a holder is never changed once built, so what was
// read of an object stays true for as long as the object lives. Keys are
// weak: an entry goes once the informer has let go of its object.
var vmHolders sync.Map // weak.Pointer[unstructured.Unstructured] -> *holder

// vmHolder reads the MACs of the managed interfaces of a VirtualMachine.
// One version of a VM is read several times (its event handler, the MAC
// index, each of its leases' syncs), so the holder is read once per object
// (vmHolders), and only what it needs (kubevirt.ReadVirtualMachine, as the
// webhook reads it): converting the whole object on every read was a tenth
// of the server's CPU per VM admitted.
func vmHolder(object *unstructured.Unstructured) (*holder, error) {
	key := weak.Make(object)
	if cached, ok := vmHolders.Load(key); ok {
		return cached.(*holder), nil
	}
	h, err := readVMHolder(object)
	if err != nil {
		return nil, err
	}
	if _, loaded := vmHolders.LoadOrStore(key, h); !loaded {
		runtime.AddCleanup(object, func(key weak.Pointer[unstructured.Unstructured]) { vmHolders.Delete(key) }, key)
	}
	return h, nil
}

// readVMHolder reads the holder of a VirtualMachine object.
func readVMHolder(object *unstructured.Unstructured) (*holder, error) {
	vm, err := kubevirt.ReadVirtualMachine(object)
	if err != nil {
		return nil, err
	}
	h := &holder{apiVersion: "kubevirt.io/v1", kind: kubevirt.KindVirtualMachine, namespace: vm.Namespace, name: vm.Name, uid: string(vm.UID),
		retention: retention.ObjectChoice(vm.Annotations, vm.Name, vm.GenerateName)}
	h.interfaces = kubevirt.ManagedMACs(vm)
	return h, nil
}

// macIndex is the name of the informer index from MAC to objects.
const macIndex = "mac"

// indexKey qualifies a MAC with the namespace, so that a lookup returns only
// the objects of that namespace that report it (reportedIndex).
func indexKey(namespace, address string) string { return namespace + "/" + address }

// indexHolder keys a holder by each MAC it carries, in every namespace: a
// lease looks for its holders in its own namespace (holdersCarrying filters
// them), and a lease let go for those of any namespace (queueHoldersOf).
// A MAC has one holder, a few in a migration or a collision, so the filter
// costs next to nothing.
func indexHolder(h *holder) []string {
	if h == nil {
		return nil
	}
	keys := make([]string, 0, len(h.interfaces))
	for address := range h.interfaces {
		keys = append(keys, address)
	}
	return keys
}

// ownedBy reports whether h is the object a lease names: the same kind,
// and the same name or, for an object admitted with generateName (a Pod or
// a VirtualMachine), a name with that prefix.
func (h *holder) ownedBy(kind, name string) bool {
	if h.kind != kind || name == "" {
		return false
	}
	return h.name == name || strings.HasPrefix(h.name, name)
}
