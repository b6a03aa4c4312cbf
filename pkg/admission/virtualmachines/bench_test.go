package virtualmachines

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	versionedfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
)

// memoryLeases keeps the leases the service writes in a map, so that a
// benchmark measures the webhook and the allocator, not the fake
// clientset's object tracker.
type memoryLeases struct {
	mu     sync.Mutex
	leases map[string]*v1alpha1.MacLease
}

func (m *memoryLeases) Create(_ context.Context, lease *v1alpha1.MacLease) (*v1alpha1.MacLease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, found := m.leases[lease.Name]; found {
		return nil, apierrors.NewAlreadyExists(macpool.Resource("macleases"), lease.Name)
	}
	m.leases[lease.Name] = lease
	return lease, nil
}

func (m *memoryLeases) Get(_ context.Context, namespace, name string) (*v1alpha1.MacLease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	lease, found := m.leases[name]
	if !found || lease.Namespace != namespace {
		return nil, apierrors.NewNotFound(macpool.Resource("macleases"), name)
	}
	return lease, nil
}

func (m *memoryLeases) Delete(_ context.Context, namespace, name string, _ metav1.Preconditions) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if lease, found := m.leases[name]; !found || lease.Namespace != namespace {
		return apierrors.NewNotFound(macpool.Resource("macleases"), name)
	}
	delete(m.leases, name)
	return nil
}

// memoryService is a synced allocation service over memoryLeases, with a
// default pool of 2^24 addresses and namespace "ns".
func memoryService(tb testing.TB) *allocation.Service {
	tb.Helper()
	client := versionedfake.NewSimpleClientset(&v1alpha1.MacPool{
		ObjectMeta: metav1.ObjectMeta{Name: macpool.DefaultPoolName},
		Spec:       v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:ff:ff:ff"}}},
	})
	return syncedService(tb, client, &memoryLeases{leases: map[string]*v1alpha1.MacLease{}}, nil)
}

// benchmarkVM is pkg/kubevirt/testdata/vm.json; with MACs, its interfaces
// carry 02:00:01:00:00:00 and 02:00:01:00:00:01.
func benchmarkVM(tb testing.TB, withMACs bool) []byte {
	tb.Helper()
	raw, err := os.ReadFile("../../kubevirt/testdata/vm.json")
	if err != nil {
		tb.Fatal(err)
	}
	if !withMACs {
		return raw
	}
	var vm map[string]interface{}
	if err := json.Unmarshal(raw, &vm); err != nil {
		tb.Fatal(err)
	}
	interfaces, _, err := unstructured.NestedSlice(vm, "spec", "template", "spec", "domain", "devices", "interfaces")
	if err != nil {
		tb.Fatal(err)
	}
	for i, iface := range interfaces {
		iface.(map[string]interface{})["macAddress"] = fmt.Sprintf("02:00:01:00:00:%02x", i)
	}
	if err := unstructured.SetNestedSlice(vm, interfaces, "spec", "template", "spec", "domain", "devices", "interfaces"); err != nil {
		tb.Fatal(err)
	}
	if raw, err = json.Marshal(vm); err != nil {
		tb.Fatal(err)
	}
	return raw
}

// BenchmarkMutate admits the CREATE of pkg/kubevirt/testdata/vm.json, a
// VirtualMachine as kube-apiserver sends it (managed fields, labels, a data
// volume template, cloud-init, about 5 KB) with two bridge interfaces on
// multus networks: each operation decodes the VM, plans, leases two MACs in
// memory and builds the patch.
func BenchmarkMutate(b *testing.B) {
	raw := benchmarkVM(b, false)
	mutator := &Mutator{Allocations: memoryService(b), MaxMACs: 32}
	request := &admissionv1.AdmissionRequest{
		Operation: admissionv1.Create, Namespace: "ns",
		Kind:   metav1.GroupVersionKind{Group: "kubevirt.io", Version: "v1", Kind: "VirtualMachine"},
		Object: runtime.RawExtension{Raw: raw},
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	cpu := startCPU(b)
	for b.Loop() {
		request.UID = types.UID("request")
		response := mutator.Mutate(ctx, request)
		if !response.Allowed || len(response.Patch) == 0 {
			b.Fatalf("got %+v", response)
		}
	}
	cpu.report(b)
}

// BenchmarkMutateUpdate admits an UPDATE of the VM of BenchmarkMutate that
// keeps the MACs it has: both objects are decoded and planned, and nothing
// is leased, so this is the decoding and the plan alone.
func BenchmarkMutateUpdate(b *testing.B) {
	raw := benchmarkVM(b, true)
	mutator := &Mutator{Allocations: memoryService(b), MaxMACs: 32}
	request := &admissionv1.AdmissionRequest{
		UID: types.UID("request"), Operation: admissionv1.Update, Namespace: "ns",
		Kind:      metav1.GroupVersionKind{Group: "kubevirt.io", Version: "v1", Kind: "VirtualMachine"},
		Object:    runtime.RawExtension{Raw: raw},
		OldObject: runtime.RawExtension{Raw: raw},
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(2 * len(raw)))
	cpu := startCPU(b)
	for b.Loop() {
		response := mutator.Mutate(ctx, request)
		if !response.Allowed || len(response.Patch) != 0 {
			b.Fatalf("got %+v", response)
		}
	}
	cpu.report(b)
}

// cpuClock is the CPU time (user and system, all threads, the garbage
// collector's included) the process has used. On a shared machine ns/op
// is wall time and moves with the neighbours' load; cpu-ns/op moves less.
type cpuClock struct{ start time.Duration }

func processCPU(tb testing.TB) time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

func startCPU(tb testing.TB) cpuClock { return cpuClock{start: processCPU(tb)} }

// report adds cpu-ns/op, the CPU time since start per operation.
func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPU(b)-c.start)/float64(b.N), "cpu-ns/op")
}
