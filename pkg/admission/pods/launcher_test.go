package pods

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/multus"
)

func kubeVirtObject(kind, name string, uid types.UID, owners ...metav1.OwnerReference) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("kubevirt.io/v1")
	obj.SetKind(kind)
	obj.SetNamespace("tenant")
	obj.SetName(name)
	obj.SetUID(uid)
	obj.SetOwnerReferences(owners)
	return obj
}

func ownedBy(kind, name string, uid types.UID) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "kubevirt.io/v1", Kind: kind, Name: name, UID: uid}
}

func TestLaunchersOfVirtualMachine(t *testing.T) {
	vm := kubeVirtObject("VirtualMachine", "vm", "uid-vm")
	vmi := kubeVirtObject("VirtualMachineInstance", "vm", "uid-vmi", ownedBy("VirtualMachine", "vm", "uid-vm"))
	standalone := kubeVirtObject("VirtualMachineInstance", "lonely", "uid-lonely")
	orphan := kubeVirtObject("VirtualMachineInstance", "orphan", "uid-orphan", ownedBy("VirtualMachine", "gone", "uid-gone"))
	stale := kubeVirtObject("VirtualMachineInstance", "stale", "uid-stale", ownedBy("VirtualMachine", "vm", "uid-old-vm"))

	const kubevirt = "system:serviceaccount:kubevirt:kubevirt-controller"
	cases := []struct {
		name     string
		owners   []metav1.OwnerReference
		labels   map[string]string
		user     string
		identity string
		want     bool
	}{
		{"the launcher of a VM's VMI, created by KubeVirt", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "vm", "uid-vmi")}, nil, kubevirt, kubevirt, true},
		{"the same pod created by a tenant", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "vm", "uid-vmi")}, nil, "tenant", kubevirt, false},
		{"the same pod by anybody when no identity is configured", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "vm", "uid-vmi")}, nil, "tenant", "", true},
		{"a forged label alone", nil, map[string]string{"kubevirt.io": "virt-launcher"}, kubevirt, kubevirt, false},
		{"an owner reference to a VMI that does not exist", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "ghost", "uid-ghost")}, nil, kubevirt, kubevirt, false},
		{"an owner reference with another UID than the VMI's", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "vm", "uid-forged")}, nil, kubevirt, kubevirt, false},
		{"an owner reference of another group", []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "VirtualMachineInstance", Name: "vm", UID: "uid-vmi"}}, nil, kubevirt, kubevirt, false},
		{"the launcher of a standalone VMI", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "lonely", "uid-lonely")}, nil, kubevirt, kubevirt, false},
		{"a VMI whose VM is gone", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "orphan", "uid-orphan")}, nil, kubevirt, kubevirt, false},
		{"a VMI owned by an earlier VM of the same name", []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "stale", "uid-stale")}, nil, kubevirt, kubevirt, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), vm, vmi, standalone, orphan, stale)
			launchers := &Launchers{KubeVirt: client, Identity: tc.identity}
			pod := &metav1.ObjectMeta{Namespace: "tenant", Name: "virt-launcher-x", Labels: tc.labels, OwnerReferences: tc.owners}
			request := &admissionv1.AdmissionRequest{Namespace: "tenant", UserInfo: authenticationv1.UserInfo{Username: tc.user}}
			got, err := launchers.virtualMachineOf(context.Background(), request, pod)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if (got != nil) != tc.want || got != nil && got.GetUID() != vm.GetUID() {
				t.Errorf("virtualMachineOf = %v, want the VM: %v", got, tc.want)
			}
		})
	}
}

func TestLaunchersUnavailable(t *testing.T) {
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	client.PrependReactor("get", "virtualmachineinstances", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	launchers := &Launchers{KubeVirt: client}
	pod := &metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "vm", "uid-vmi")}}
	_, err := launchers.virtualMachineOf(context.Background(), &admissionv1.AdmissionRequest{Namespace: "tenant"}, pod)
	var unavailable *UnavailableError
	if !errors.As(err, &unavailable) {
		t.Fatalf("got %v, want an UnavailableError: a failed check must not skip the pod", err)
	}
}

// A proven launcher's MACs are its VM's. Those its VM's webhook leased (or
// a static reservation of the namespace) need nothing; any other is
// requested for the VM under the pool's policy, as the VM webhook would have:
// a tenant who may create VMIs writes their owner references, so a VMI that
// names the tenant's VM as its owner gets a launcher with any MAC. Nothing is
// allocated or patched: the guest keeps the MACs KubeVirt chose.
func TestLauncherMACs(t *testing.T) {
	const kubevirt = "system:serviceaccount:kubevirt:kubevirt-controller"
	vm := kubeVirtObject("VirtualMachine", "vm", "uid-vm")
	vmi := kubeVirtObject("VirtualMachineInstance", "vm", "uid-vmi", ownedBy("VirtualMachine", "vm", "uid-vm"))
	forged := kubeVirtObject("VirtualMachineInstance", "evil", "uid-evil", ownedBy("VirtualMachine", "vm", "uid-vm"))
	for _, obj := range []*unstructured.Unstructured{vm, vmi, forged} {
		obj.SetNamespace("ns")
	}
	leased := func(address string, mutate func(*v1alpha1.MacLease)) *v1alpha1.MacLease {
		lease := heldBy(address, "")
		lease.Spec.Owner = &v1alpha1.LeaseOwner{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "vm"}
		lease.Spec.Interface = "red"
		if mutate != nil {
			mutate(lease)
		}
		return lease
	}
	boundTo := func(uid types.UID) func(*v1alpha1.MacLease) {
		return func(lease *v1alpha1.MacLease) {
			lease.OwnerReferences = []metav1.OwnerReference{ownedBy("VirtualMachine", "vm", uid)}
			lease.Status.Phase = v1alpha1.MacLeasePhaseBound
		}
	}
	reserved := func(lease *v1alpha1.MacLease) { lease.Status.Phase = v1alpha1.MacLeasePhaseReserved }
	static := func(lease *v1alpha1.MacLease) { lease.Spec.Owner = nil }
	// Retained for an earlier VM of the name, whose launcher a node may
	// still run with the MAC: no owner references, as under any retention.
	heldRetained := func(lease *v1alpha1.MacLease) {
		lease.Status.Phase = v1alpha1.MacLeasePhaseRetained
		lease.Annotations = map[string]string{macpool.NodeHoldsAnnotation: `[{"node":"node-1","pod":"virt-launcher-vm-old","stoppedBy":"2026-12-01T18:00:00Z"}]`}
	}
	const (
		skipped = "skipped" // admitted untouched, no new lease
		leases  = "leased"  // admitted untouched, the MAC newly leased to the VM
	)
	for _, tc := range []struct {
		name     string
		vmi      string
		networks string
		lease    *v1alpha1.MacLease
		policy   v1alpha1.ConflictPolicy
		want     string
		code     int32 // of a denial, when want is empty
	}{
		{"the VM's MAC, bound to it", "vm", `[{"name":"a","mac":"0e:00:00:00:00:01"}]`, leased("0e:00:00:00:00:01", boundTo("uid-vm")), "", skipped, 0},
		{"the VM's MAC, reserved for its name", "vm", `[{"name":"a","mac":"0e:00:00:00:00:01"}]`, leased("0e:00:00:00:00:01", reserved), "", skipped, 0},
		{"a static reservation of the namespace", "vm", `[{"name":"a","mac":"0e:00:00:00:00:01"}]`, leased("0e:00:00:00:00:01", static), "", skipped, 0},
		{"networks without a MAC", "vm", `[{"name":"a"}]`, nil, "", skipped, 0},
		{"a MAC another object holds, from a forged VMI", "evil", `[{"name":"a","mac":"0e:00:00:00:00:01"}]`, heldBy("0e:00:00:00:00:01", "victim"), "", "", http.StatusConflict},
		{"a MAC another object holds, under Reassign", "evil", `[{"name":"a","mac":"0e:00:00:00:00:01"}]`, heldBy("0e:00:00:00:00:01", "victim"), v1alpha1.ConflictPolicyReassign, "", http.StatusConflict},
		{"a MAC of an earlier VM of the same name", "vm", `[{"name":"a","mac":"0e:00:00:00:00:01"}]`, leased("0e:00:00:00:00:01", boundTo("uid-old-vm")), "", "", http.StatusConflict},
		{"a MAC retained for an earlier VM of the same name, from a forged VMI", "evil", `[{"name":"a","mac":"0e:00:00:00:00:01"}]`, leased("0e:00:00:00:00:01", heldRetained), "", "", http.StatusConflict},
		{"a free MAC from a forged VMI", "evil", `[{"name":"a","mac":"0e:00:00:00:00:02"}]`, nil, "", leases, 0},
		{"the VM's MAC without a lease yet", "vm", `[{"name":"a","mac":"0e:00:00:00:00:02"}]`, nil, "", leases, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stored []runtime.Object
			if tc.lease != nil {
				stored = append(stored, tc.lease)
			}
			policy := tc.policy
			if policy == "" {
				policy = v1alpha1.ConflictPolicyReject
			}
			service, client := newServiceWith(t, true, v1alpha1.MacPoolSpec{ConflictPolicy: policy}, stored...)
			m := &Mutator{Allocations: service, Launchers: &Launchers{
				KubeVirt: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), vm, vmi, forged), Identity: kubevirt}}
			owner := map[string]*unstructured.Unstructured{"vm": vmi, "evil": forged}[tc.vmi]
			request := launcherRequest(t, tc.networks, kubevirt, "", owner.GetName(), owner.GetUID())

			response := m.Mutate(context.Background(), request)
			list, err := client.MacpoolV1alpha1().MacLeases("ns").List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var added []string
			for _, lease := range list.Items {
				if tc.lease == nil || lease.Name != tc.lease.Name {
					added = append(added, lease.Spec.Owner.Kind+"/"+lease.Spec.Owner.Name+" "+lease.Spec.MACAddress)
				}
			}
			switch tc.want {
			case skipped:
				if !response.Allowed || response.Patch != nil || len(added) != 0 {
					t.Errorf("allowed %v (%+v), patch %s, new leases %v: want it left alone", response.Allowed, response.Result, response.Patch, added)
				}
			case leases:
				if !response.Allowed || response.Patch != nil || len(added) != 1 || added[0] != "VirtualMachine/vm 0e:00:00:00:00:02" {
					t.Errorf("allowed %v (%+v), patch %s, new leases %v: want the MAC leased to the VM, the pod untouched", response.Allowed, response.Result, response.Patch, added)
				}
			default:
				if response.Allowed || response.Result == nil || response.Result.Code != tc.code || len(added) != 0 {
					t.Errorf("allowed %v, result %+v, new leases %v: want a denial with %d", response.Allowed, response.Result, added, tc.code)
				}
			}
		})
	}
}

// On an update a launcher is asked only about the MACs the update adds:
// KubeVirt unplugs an interface by dropping its MAC, also when the launcher
// carries a MAC its VM does not lease (admitted under conflictPolicy Warn).
func TestLauncherUpdates(t *testing.T) {
	const kubevirt = "system:serviceaccount:kubevirt:kubevirt-controller"
	vm := kubeVirtObject("VirtualMachine", "vm", "uid-vm")
	vmi := kubeVirtObject("VirtualMachineInstance", "vm", "uid-vmi", ownedBy("VirtualMachine", "vm", "uid-vm"))
	vm.SetNamespace("ns")
	vmi.SetNamespace("ns")
	hotplugged := heldBy("0e:00:00:00:00:02", "")
	hotplugged.Spec.Owner = &v1alpha1.LeaseOwner{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "vm"}
	hotplugged.OwnerReferences = []metav1.OwnerReference{ownedBy("VirtualMachine", "vm", "uid-vm")}
	const (
		warned  = `{"name":"a","mac":"0e:00:00:00:00:01"}`
		plugged = `{"name":"b","mac":"0e:00:00:00:00:02"}`
		forged  = `{"name":"c","mac":"0e:00:00:00:00:03"}`
	)
	for _, tc := range []struct {
		name, before, after string
		allowed             bool
	}{
		{"an unplug", "[" + warned + "," + plugged + "]", "[" + warned + "]", true},
		{"a hotplug of the VM's MAC", "[" + warned + "]", "[" + warned + "," + plugged + "]", true},
		{"a MAC another object holds, added", "[" + warned + "]", "[" + warned + "," + forged + "]", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			service, _ := newServiceWith(t, true, v1alpha1.MacPoolSpec{ConflictPolicy: v1alpha1.ConflictPolicyReject},
				heldBy("0e:00:00:00:00:01", "victim"), hotplugged, heldBy("0e:00:00:00:00:03", "victim"))
			m := &Mutator{Allocations: service, Launchers: &Launchers{
				KubeVirt: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), vm, vmi), Identity: kubevirt}}
			encode := func(networks string) []byte {
				pod := &metav1.PartialObjectMetadata{
					TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
					ObjectMeta: metav1.ObjectMeta{Name: "virt-launcher-vm-x", Namespace: "ns", UID: "uid-pod",
						Annotations:     map[string]string{multus.NetworksAnnotation: networks},
						OwnerReferences: []metav1.OwnerReference{ownedBy("VirtualMachineInstance", "vm", "uid-vmi")}},
				}
				raw, err := json.Marshal(pod)
				if err != nil {
					t.Fatal(err)
				}
				return raw
			}
			request := &admissionv1.AdmissionRequest{
				Operation: admissionv1.Update, Namespace: "ns", UID: "req",
				Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
				Object:    runtime.RawExtension{Raw: encode(tc.after)},
				OldObject: runtime.RawExtension{Raw: encode(tc.before)},
				UserInfo:  authenticationv1.UserInfo{Username: kubevirt},
			}
			response := m.Mutate(context.Background(), request)
			if response.Allowed != tc.allowed || response.Allowed && response.Patch != nil {
				t.Errorf("allowed %v (%+v), patch %s; want allowed %v, untouched", response.Allowed, response.Result, response.Patch, tc.allowed)
			}
		})
	}
}

// The launcher of a standalone VMI is a regular Pod and gets leases, but its
// requested MACs are its guest's too: KubeVirt writes the VMI's MACs into
// the networks annotation and gives the guest the VMI's, whatever the
// annotation says by the time the CNI plugin reads it. A MAC another object
// holds is therefore refused under Reassign, as for a VM's launcher, rather
// than replaced in the annotation while the guest keeps it on the wire. A
// network without a MAC is still given one (the guest takes the pod
// interface's), and a Pod a tenant creates naming the VMI is no launcher.
func TestStandaloneVMILauncherMACsAreNotReassigned(t *testing.T) {
	const kubevirt = "system:serviceaccount:kubevirt:kubevirt-controller"
	lonely := kubeVirtObject("VirtualMachineInstance", "lonely", "uid-lonely")
	lonely.SetNamespace("ns")
	for _, tc := range []struct {
		name, networks, user string
		policy               v1alpha1.ConflictPolicy
		code                 int32 // of a denial; 0 when admitted
		patched              bool
	}{
		{"a MAC another object holds, under Reassign", `[{"name":"a","mac":"0e:00:00:00:00:01"}]`, kubevirt, v1alpha1.ConflictPolicyReassign, http.StatusConflict, false},
		{"a MAC another object holds, under Warn", `[{"name":"a","mac":"0e:00:00:00:00:01"}]`, kubevirt, v1alpha1.ConflictPolicyWarn, 0, false},
		{"a network without a MAC, under Reassign", `[{"name":"a"}]`, kubevirt, v1alpha1.ConflictPolicyReassign, 0, true},
		{"the same Pod created by a tenant, under Reassign", `[{"name":"a","mac":"0e:00:00:00:00:01"}]`, "tenant", v1alpha1.ConflictPolicyReassign, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			service, client := newServiceWith(t, true, v1alpha1.MacPoolSpec{ConflictPolicy: tc.policy}, heldBy("0e:00:00:00:00:01", "victim"))
			m := &Mutator{Allocations: service, Launchers: &Launchers{
				KubeVirt: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), lonely), Identity: kubevirt}}
			request := launcherRequest(t, tc.networks, tc.user, "", "lonely", "uid-lonely")
			request.UID = "req"

			response := m.Mutate(context.Background(), request)
			list, err := client.MacpoolV1alpha1().MacLeases("ns").List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.code != 0 {
				if response.Allowed || response.Result == nil || response.Result.Code != tc.code || len(list.Items) != 1 {
					t.Errorf("allowed %v, result %+v, %d leases: want a denial with %d and no new lease", response.Allowed, response.Result, len(list.Items), tc.code)
				}
				return
			}
			if !response.Allowed || (response.Patch != nil) != tc.patched {
				t.Errorf("allowed %v (%+v), patch %s: want admitted, patched %v", response.Allowed, response.Result, response.Patch, tc.patched)
			}
		})
	}
}

// The target launcher of a standalone VMI's live migration carries the MACs
// its guest runs with already, leased to the source launcher: KubeVirt
// reports them in the VMI's status, on the interface of the spec that has
// them. They need nothing, under any conflictPolicy; the lease stays with
// the source launcher and then with the VMI that reports the MAC. A MAC
// the status reports only from the guest agent (no interface of the spec)
// proves nothing: the guest sets it.
func TestStandaloneVMIMigrationTargetKeepsTheGuestsMACs(t *testing.T) {
	const kubevirt = "system:serviceaccount:kubevirt:kubevirt-controller"
	const running, guests = "0e:00:00:00:00:01", "0e:00:00:00:00:02"
	lonely := runningStandaloneVMI(running)
	// A MAC the guest agent reports, on no interface of the spec.
	lonely.Object["status"].(map[string]any)["interfaces"] = append(lonely.Object["status"].(map[string]any)["interfaces"].([]any),
		map[string]any{"interfaceName": "dummy0", "mac": guests})
	source := func(address string) *v1alpha1.MacLease {
		lease := heldBy(address, "virt-launcher-lonely-source")
		lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "virt-launcher-lonely-source", UID: "uid-source"}}
		lease.Status.Phase = v1alpha1.MacLeasePhaseBound
		return lease
	}
	// The migration's source, which KubeVirt made for the VMI.
	sourcePod := launcherPod("virt-launcher-lonely-source", "uid-source")
	for _, policy := range []v1alpha1.ConflictPolicy{v1alpha1.ConflictPolicyReject, v1alpha1.ConflictPolicyReassign} {
		for _, tc := range []struct {
			name, networks string
			allowed        bool
		}{
			{"the MAC the guest runs with", `[{"name":"a","mac":"` + running + `"}]`, true},
			{"a MAC only the guest agent reports", `[{"name":"a","mac":"` + guests + `"}]`, false},
		} {
			t.Run(string(policy)+"/"+tc.name, func(t *testing.T) {
				service, client := newServiceWith(t, true, v1alpha1.MacPoolSpec{ConflictPolicy: policy}, source(running), source(guests))
				m := &Mutator{Allocations: service, Launchers: &Launchers{
					KubeVirt: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), lonely, sourcePod), Identity: kubevirt}}
				request := launcherRequest(t, tc.networks, kubevirt, "virt-launcher-lonely-target", "lonely", "uid-lonely")
				request.UID = "req"

				response := m.Mutate(context.Background(), request)
				list, err := client.MacpoolV1alpha1().MacLeases("ns").List(context.Background(), metav1.ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if response.Allowed != tc.allowed || response.Patch != nil || len(list.Items) != 2 {
					t.Errorf("allowed %v (%+v), patch %s, %d leases: want allowed %v, untouched, no new lease",
						response.Allowed, response.Result, response.Patch, len(list.Items), tc.allowed)
				}
			})
		}
	}
}

// A VMI has no status subresource: its creator writes its status as freely
// as its spec. A status that reports, on the spec's interface, a MAC no
// launcher of the VMI holds proves nothing about the guest: the MAC of
// another object is requested like any other, under the pool's
// conflictPolicy, and a launcher's MAC counts as the guest's only while
// its lease is that launcher's (a Pod of the namespace that KubeVirt made
// for this VMI).
func TestStandaloneVMIStatusProvesNoMACItsLaunchersDoNotHold(t *testing.T) {
	const kubevirt = "system:serviceaccount:kubevirt:kubevirt-controller"
	const held = "0e:00:00:00:00:01"
	forged := runningStandaloneVMI(held)
	// A Pod of the tenant's that names the VMI but holds nothing.
	decoy := launcherPod("virt-launcher-lonely-decoy", "uid-decoy")
	for _, policy := range []v1alpha1.ConflictPolicy{v1alpha1.ConflictPolicyReject, v1alpha1.ConflictPolicyReassign} {
		t.Run(string(policy), func(t *testing.T) {
			service, client := newServiceWith(t, true, v1alpha1.MacPoolSpec{ConflictPolicy: policy}, heldBy(held, "victim"))
			m := &Mutator{Allocations: service, Launchers: &Launchers{
				KubeVirt: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), forged, decoy), Identity: kubevirt}}
			request := launcherRequest(t, `[{"name":"a","mac":"`+held+`"}]`, kubevirt, "virt-launcher-lonely-abcde", "lonely", "uid-lonely")
			request.UID = "req"

			response := m.Mutate(context.Background(), request)
			list, err := client.MacpoolV1alpha1().MacLeases("ns").List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if response.Allowed || response.Result == nil || response.Result.Code != http.StatusConflict || len(list.Items) != 1 {
				t.Errorf("allowed %v (%+v), %d leases: want a 409 and no new lease", response.Allowed, response.Result, len(list.Items))
			}
		})
	}
}

// launcherRequest is podRequest for a Pod named name (if not empty) that
// user creates, with an owner reference to the VMI name/uid: what a
// virt-launcher Pod looks like to the webhook.
func launcherRequest(t *testing.T, networks, user, name, vmi string, vmiUID types.UID) *admissionv1.AdmissionRequest {
	t.Helper()
	request := podRequest(t, networks)
	request.UserInfo = authenticationv1.UserInfo{Username: user}
	pod := &metav1.PartialObjectMetadata{}
	if err := json.Unmarshal(request.Object.Raw, pod); err != nil {
		t.Fatal(err)
	}
	if name != "" {
		pod.Name = name
	}
	pod.OwnerReferences = []metav1.OwnerReference{ownedBy("VirtualMachineInstance", vmi, vmiUID)}
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	request.Object.Raw = raw
	return request
}

// launcherPod is a stored Pod of namespace ns labelled and owned as
// KubeVirt makes the launchers of the VMI lonely (uid-lonely).
func launcherPod(name string, uid types.UID) *unstructured.Unstructured {
	pod := &unstructured.Unstructured{}
	pod.SetAPIVersion("v1")
	pod.SetKind("Pod")
	pod.SetNamespace("ns")
	pod.SetName(name)
	pod.SetUID(uid)
	pod.SetLabels(map[string]string{"kubevirt.io/created-by": "uid-lonely"})
	pod.SetOwnerReferences([]metav1.OwnerReference{ownedBy("VirtualMachineInstance", "lonely", "uid-lonely")})
	return pod
}

// runningStandaloneVMI is the VMI "lonely" of namespace ns, owned by no
// VirtualMachine, whose spec gives its interface red address and whose
// status reports it running with it.
func runningStandaloneVMI(address string) *unstructured.Unstructured {
	vmi := kubeVirtObject("VirtualMachineInstance", "lonely", "uid-lonely")
	vmi.SetNamespace("ns")
	vmi.Object["spec"] = map[string]any{"domain": map[string]any{"devices": map[string]any{"interfaces": []any{
		map[string]any{"name": "red", "macAddress": address, "bridge": map[string]any{}}}}}}
	vmi.Object["status"] = map[string]any{"phase": "Running", "interfaces": []any{
		map[string]any{"name": "red", "mac": address}}}
	return vmi
}
