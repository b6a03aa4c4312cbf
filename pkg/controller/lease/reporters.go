package lease

import (
	"encoding/json"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/kubevirt"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/multus"
)

// reportedIndex finds, by namespace and MAC, the objects that report a MAC
// on the wire without owning a lease: VirtualMachineInstances and
// virt-launcher pods. A VM deleted, or its MAC edited, keeps running with
// the old MAC in them through its grace period; its lease must stay until
// none of them reports the MAC any more.
const reportedIndex = "reported"

func indexReported(obj interface{}) []string {
	namespace, macs := reportedMACs(obj)
	keys := make([]string, 0, len(macs))
	for _, address := range macs {
		keys = append(keys, indexKey(namespace, address))
	}
	return keys
}

// reportedMACs returns the namespace and the canonical MACs an object
// reports: a VMI in its status and spec, a virt-launcher pod in its multus
// annotations. Anything else reports none.
func reportedMACs(obj interface{}) (string, []string) {
	var found []string
	var namespace string
	switch typed := obj.(type) {
	case *unstructured.Unstructured:
		namespace = typed.GetNamespace()
		statusInterfaces, _, _ := unstructured.NestedSlice(typed.Object, "status", "interfaces")
		for _, iface := range statusInterfaces {
			if fields, ok := iface.(map[string]interface{}); ok {
				found = appendMAC(found, fields["mac"])
			}
		}
		specInterfaces, _, _ := unstructured.NestedSlice(typed.Object, "spec", "domain", "devices", "interfaces")
		for _, iface := range specInterfaces {
			if fields, ok := iface.(map[string]interface{}); ok {
				found = appendMAC(found, fields["macAddress"])
			}
		}
	case *corev1.Pod:
		meta := podMetadata(typed)
		if !kubevirt.ClaimsLauncher(meta.Labels, meta.OwnerReferences) {
			return "", nil
		}
		namespace = typed.Namespace
		if annotation, ok := typed.Annotations[multus.NetworksAnnotation]; ok {
			if networks, err := multus.Parse(annotation, typed.Namespace); err == nil {
				for _, network := range networks.Elements() {
					found = appendMAC(found, network.MAC)
				}
			}
		}
		var status []struct {
			MAC string `json:"mac"`
		}
		if annotation, ok := typed.Annotations[multus.NetworkStatusAnnotation]; ok && json.Unmarshal([]byte(annotation), &status) == nil {
			for _, network := range status {
				found = appendMAC(found, network.MAC)
			}
		}
	}
	return namespace, found
}

// appendMAC adds value, if it is a MAC, in canonical form and only once.
func appendMAC(macs []string, value interface{}) []string {
	text, ok := value.(string)
	if !ok || text == "" {
		return macs
	}
	address, err := mac.Parse(text)
	if err != nil {
		return macs
	}
	canonical := address.String()
	for _, existing := range macs {
		if existing == canonical {
			return macs
		}
	}
	return append(macs, canonical)
}

// stillReported tells whether a VMI or virt-launcher pod in namespace still
// reports address.
func (c *Controller) stillReported(namespace, address string) bool {
	_, vmis := c.vmCaches()
	key := indexKey(namespace, address)
	for _, indexer := range []cache.Indexer{c.pods, vmis} {
		if indexer == nil {
			continue
		}
		objects, err := indexer.ByIndex(reportedIndex, key)
		if err == nil && len(objects) > 0 {
			return true
		}
	}
	return false
}

// queueReported queues the leases of the MACs an object reported before and
// reports now, so that a lease kept for it is released once it is gone.
func (c *Controller) queueReported(old, obj interface{}) {
	for _, o := range []interface{}{old, obj} {
		if o == nil {
			continue
		}
		_, macs := reportedMACs(o)
		for _, address := range macs {
			c.queueLeasesOf(address)
		}
	}
}

// podMetadata is the metadata of a Pod as the holder functions read it.
func podMetadata(pod *corev1.Pod) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: pod.ObjectMeta}
}

// reporterReferences are owner references to the VMIs and virt-launcher
// pods in namespace that report address, sorted by UID so that the list is
// stable.
func (c *Controller) reporterReferences(namespace, address string) []metav1.OwnerReference {
	_, vmis := c.vmCaches()
	key := indexKey(namespace, address)
	var references []metav1.OwnerReference
	for _, indexer := range []cache.Indexer{c.pods, vmis} {
		if indexer == nil {
			continue
		}
		objects, err := indexer.ByIndex(reportedIndex, key)
		if err != nil {
			continue
		}
		for _, obj := range objects {
			switch typed := obj.(type) {
			case *corev1.Pod:
				references = append(references, metav1.OwnerReference{APIVersion: "v1", Kind: kindPod, Name: typed.Name, UID: typed.UID})
			case *unstructured.Unstructured:
				references = append(references, metav1.OwnerReference{APIVersion: "kubevirt.io/v1", Kind: kubevirt.KindVirtualMachineInstance, Name: typed.GetName(), UID: typed.GetUID()})
			}
		}
	}
	sort.Slice(references, func(i, j int) bool { return references[i].UID < references[j].UID })
	return references
}
