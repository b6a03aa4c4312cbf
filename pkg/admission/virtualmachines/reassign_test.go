package virtualmachines

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	versionedfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
	"kubemacpool.io/kubemacpool/pkg/generated/informers/externalversions"
)

// reassignService is a synced allocation service whose default pool,
// 02:00:00:00:00:00-03, has conflictPolicy Reassign, and whose namespace
// "ns" holds the leases of VirtualMachine "source": 00 on multus0 and 01 on
// multus1.
func reassignService(t *testing.T) *allocation.Service {
	t.Helper()
	objects := []runtime.Object{&v1alpha1.MacPool{
		ObjectMeta: metav1.ObjectMeta{Name: macpool.DefaultPoolName},
		Spec: v1alpha1.MacPoolSpec{ConflictPolicy: v1alpha1.ConflictPolicyReassign,
			Ranges: []v1alpha1.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:03"}}},
	}}
	for i, iface := range []string{"multus0", "multus1"} {
		address := []string{"02:00:00:00:00:00", "02:00:00:00:00:01"}[i]
		objects = append(objects, &v1alpha1.MacLease{
			ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(address, ":", "-"), Namespace: "ns"},
			Spec: v1alpha1.MacLeaseSpec{MACAddress: address, Pool: "default", Interface: iface,
				Owner: &v1alpha1.LeaseOwner{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "source"}},
		})
	}
	client := versionedfake.NewSimpleClientset(objects...)
	return syncedService(t, client, allocation.ClientLeases(client), kubefake.NewClientset().CoreV1())
}

// syncedService is an allocation service over client's MacPools and
// MacLeases, writing through leases, whose namespace "ns" exists, once its
// informers have synced.
func syncedService(tb testing.TB, client *versionedfake.Clientset, leases allocation.Leases, liveNamespaces typedcorev1.NamespacesGetter) *allocation.Service {
	tb.Helper()
	factory := externalversions.NewSharedInformerFactory(client, 0)
	namespaces := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := namespaces.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}); err != nil {
		tb.Fatal(err)
	}
	service, err := allocation.New(client, leases, factory.Macpool().V1alpha1().MacLeases().Informer(), factory.Macpool().V1alpha1().MacPools(),
		corelisters.NewNamespaceLister(namespaces), func() bool { return true }, liveNamespaces, time.Minute, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), service.HasSynced) {
		tb.Fatal("the service did not sync")
	}
	return service
}

// A clone of VirtualMachine "source" that carries its MACs gets fresh ones
// on every interface whose MAC the source holds, with a warning and an
// event per interface; the source is asked again (an UPDATE with the same
// MACs) and keeps its own.
func TestMutateReassignsAClonesMACs(t *testing.T) {
	// The pool's cursor starts at a random offset: 02 and 03 go to the two
	// interfaces in either order.
	tests := []struct {
		name   string
		vm     string
		update bool
		want   bool // new MACs for both interfaces
	}{
		{name: "the clone gets new MACs", vm: "clone", want: true},
		{name: "the source keeps its own", vm: "source", update: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vm := vmWith(2, 0)
			vm.Name, vm.Namespace = tt.vm, "ns"
			vm.Spec.Template.Spec.Domain.Devices.Interfaces[0].MacAddress = "02:00:00:00:00:00"
			vm.Spec.Template.Spec.Domain.Devices.Interfaces[1].MacAddress = "02:00:00:00:00:01"
			raw, err := json.Marshal(vm)
			if err != nil {
				t.Fatal(err)
			}
			request := &admissionv1.AdmissionRequest{
				Operation: admissionv1.Create, Namespace: "ns",
				Kind:   metav1.GroupVersionKind{Group: "kubevirt.io", Version: "v1", Kind: "VirtualMachine"},
				Object: runtime.RawExtension{Raw: raw},
			}
			if tt.update {
				request.Operation, request.OldObject = admissionv1.Update, runtime.RawExtension{Raw: raw}
			}
			events := record.NewFakeRecorder(10)
			response := (&Mutator{Allocations: reassignService(t), MaxMACs: 32, Events: events}).Mutate(context.Background(), request)
			if !response.Allowed {
				t.Fatalf("denied: %+v", response.Result)
			}
			var operations []struct{ Path, Value string }
			if len(response.Patch) > 0 {
				if err := json.Unmarshal(response.Patch, &operations); err != nil {
					t.Fatal(err)
				}
			}
			got := map[string]string{}
			for _, operation := range operations {
				got[operation.Path] = operation.Value
			}
			var wantWarnings []string
			if tt.want {
				first := got["/spec/template/spec/domain/devices/interfaces/0/macAddress"]
				second := got["/spec/template/spec/domain/devices/interfaces/1/macAddress"]
				if len(got) != 2 || !(first == "02:00:00:00:00:02" && second == "02:00:00:00:00:03" || first == "02:00:00:00:00:03" && second == "02:00:00:00:00:02") {
					t.Fatalf("patch %s, want 02:00:00:00:00:02 and 03 on interfaces 0 and 1", response.Patch)
				}
				wantWarnings = []string{
					"MAC address 02:00:00:00:00:00 requested for multus0 is already in use by another object; conflictPolicy Reassign replaced it with " + first,
					"MAC address 02:00:00:00:00:01 requested for multus1 is already in use by another object; conflictPolicy Reassign replaced it with " + second,
				}
			} else if len(got) != 0 {
				t.Fatalf("patch %s, want none", response.Patch)
			}
			if strings.Join(response.Warnings, "\n") != strings.Join(wantWarnings, "\n") {
				t.Errorf("warnings %q, want %q", response.Warnings, wantWarnings)
			}
			close(events.Events)
			var recorded []string
			for event := range events.Events {
				recorded = append(recorded, event)
			}
			if len(recorded) != len(wantWarnings) {
				t.Fatalf("events %q, want one per warning %q", recorded, wantWarnings)
			}
			for i, event := range recorded {
				if event != "Warning MACAddressReassigned "+wantWarnings[i] {
					t.Errorf("event %q, want the warning %q", event, wantWarnings[i])
				}
			}
		})
	}
}
