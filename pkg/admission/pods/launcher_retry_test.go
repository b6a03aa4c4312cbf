package pods

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	versionedfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
)

// kube-apiserver may call the webhook again for the same request while the
// first call still runs. The launcher webhook's first call leased a MAC of
// the VM's launcher that had no lease yet; the retried call finds that
// Reserved lease "leased to the VM" and answers with the MAC. It must take
// the lease over first (a new attempt token, a new version): the first call
// may still fail, and its Abort deletes the version it created, which would
// leave the admitted launcher carrying a MAC without a lease.
func TestRetriedLauncherCallTakesTheEarlierCallsLeaseOver(t *testing.T) {
	const kubevirt = "system:serviceaccount:kubevirt:kubevirt-controller"
	const address = "0e:00:00:00:00:02"
	vm := kubeVirtObject("VirtualMachine", "vm", "uid-vm")
	vmi := kubeVirtObject("VirtualMachineInstance", "vm", "uid-vmi", ownedBy("VirtualMachine", "vm", "uid-vm"))
	vm.SetNamespace("ns")
	vmi.SetNamespace("ns")
	service, client := newServiceWith(t, true, v1alpha1.MacPoolSpec{ConflictPolicy: v1alpha1.ConflictPolicyReject})
	m := &Mutator{Allocations: service, Launchers: &Launchers{
		KubeVirt: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), vm, vmi), Identity: kubevirt}}
	request := launcherRequest(t, `[{"name":"a","mac":"`+address+`"}]`, kubevirt, "", "vm", "uid-vmi")
	request.UID = "req"
	callTwice(t, m, request, func() string { return leaseToken(t, client, "0e-00-00-00-00-02") })
}

// callTwice calls m for request twice, as kube-apiserver retrying it, and
// fails unless both calls admit and the second takes over the lease the
// first made: token reads the lease's attempt token.
func callTwice(t *testing.T, m *Mutator, request *admissionv1.AdmissionRequest, token func() string) {
	t.Helper()
	if response := m.Mutate(context.Background(), request); !response.Allowed {
		t.Fatalf("first call: %+v", response.Result)
	}
	first := token()
	if !strings.HasPrefix(first, "req/") {
		t.Fatalf("the first call's token is %q, want one of request req", first)
	}
	if response := m.Mutate(context.Background(), request); !response.Allowed {
		t.Fatalf("retried call: %+v", response.Result)
	}
	if second := token(); second == first || !strings.HasPrefix(second, "req/") {
		t.Errorf("after the retried call the lease carries %q, the first call's %q: want it taken over by the retried call, "+
			"or the first call's Abort frees the MAC the admitted launcher carries", second, first)
	}
}

// leaseToken is the attempt token of the lease name in namespace ns.
func leaseToken(t *testing.T, client *versionedfake.Clientset, name string) string {
	t.Helper()
	lease, err := client.MacpoolV1alpha1().MacLeases("ns").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return lease.Annotations[allocation.AttemptAnnotation]
}

// The same for the launcher of a standalone VMI: its guest's MACs count as
// running when a launcher of the VMI holds them, and the Reserved lease the
// first call made for the new launcher's generateName prefix reads as the
// source launcher's (its name has the prefix). The retried call must take
// that lease over too before it answers.
func TestRetriedStandaloneLauncherCallTakesTheEarlierCallsLeaseOver(t *testing.T) {
	const kubevirt = "system:serviceaccount:kubevirt:kubevirt-controller"
	const running = "0e:00:00:00:00:01"
	lonely := runningStandaloneVMI(running)
	source := launcherPod("virt-launcher-lonely-source", "uid-source")
	service, client := newServiceWith(t, true, v1alpha1.MacPoolSpec{ConflictPolicy: v1alpha1.ConflictPolicyReject})
	m := &Mutator{Allocations: service, Launchers: &Launchers{
		KubeVirt: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), lonely, source), Identity: kubevirt}}
	request := launcherRequest(t, `[{"name":"a","mac":"`+running+`"}]`, kubevirt, "", "lonely", "uid-lonely")
	pod := &metav1.PartialObjectMetadata{}
	if err := json.Unmarshal(request.Object.Raw, pod); err != nil {
		t.Fatal(err)
	}
	pod.Name, pod.GenerateName = "", "virt-launcher-lonely-"
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	request.Object.Raw = raw
	request.UID = "req"
	callTwice(t, m, request, func() string { return leaseToken(t, client, "0e-00-00-00-00-01") })
}
