package lease

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
)

func TestProvenLauncher(t *testing.T) {
	leases := fake.NewSimpleClientset()
	config, _ := withInformers(Config{
		Leases:        leases,
		LeaseInformer: internalLeaseInformer(leases),
		Kube:          kubefake.NewSimpleClientset(),
	})
	c, err := New(config)
	if err != nil {
		t.Fatal(err)
	}
	vmi := &unstructured.Unstructured{}
	vmi.SetAPIVersion("kubevirt.io/v1")
	vmi.SetKind("VirtualMachineInstance")
	vmi.SetNamespace("tenant")
	vmi.SetName("vm")
	vmi.SetUID("uid-vmi")
	// The VMI cache of a synced generation of KubeVirt informers.
	vmis := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := vmis.Add(vmi); err != nil {
		t.Fatal(err)
	}
	c.kubeVirt = &kubeVirtWatch{vms: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}), vmis: vmis}
	ownedBy := func(apiVersion, name string, uid types.UID) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: "VirtualMachineInstance", Name: name, UID: uid}}
	}
	cases := []struct {
		name   string
		labels map[string]string
		owners []metav1.OwnerReference
		want   bool
	}{
		{"owned by a VMI that exists with that UID", nil, ownedBy("kubevirt.io/v1", "vm", "uid-vmi"), true},
		{"a forged virt-launcher label", map[string]string{"kubevirt.io": "virt-launcher"}, nil, false},
		{"owned by a VMI that does not exist", nil, ownedBy("kubevirt.io/v1", "ghost", "uid-ghost"), false},
		{"owned by the VMI's name with another UID", nil, ownedBy("kubevirt.io/v1", "vm", "uid-forged"), false},
		{"owned by a VMI of another group", nil, ownedBy("example.com/v1", "vm", "uid-vmi"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant", Name: "virt-launcher-vm-x", Labels: tc.labels, OwnerReferences: tc.owners,
				Annotations: map[string]string{"k8s.v1.cni.cncf.io/networks": `[{"name":"br1","mac":"02:00:00:00:00:01"}]`}}}
			if got := c.provenLauncher(pod); got != tc.want {
				t.Errorf("provenLauncher = %v, want %v", got, tc.want)
			}
			// Whatever its markers, the pod holds the MACs it carries, so
			// that a lease made for it is bound and never expires under it.
			if h := podHolder(pod); h == nil || h.interfaces["02:00:00:00:00:01"] == "" {
				t.Errorf("podHolder = %+v, want the pod to hold its MAC", h)
			}
		})
	}
}
