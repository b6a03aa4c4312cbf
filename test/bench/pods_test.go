package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	macpoolv1alpha1 "kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

const networksAnnotation = "k8s.v1.cni.cncf.io/networks"

var vmResource = schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachines"}

// newPod is a pod on one multus network without a MAC, which the webhook
// fills in. Nothing runs it: the local control plane has no nodes.
func newPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{networksAnnotation: `[{"name":"br1"}]`}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
	}
}

// newVM is a halted VirtualMachine with two interfaces, masquerade on the
// pod network and bridge on a multus network, as in
// artifacts/examples/multi-nic-vm.yaml: the webhook gives each a MAC.
func newVM(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "kubevirt.io/v1",
		"kind":       "VirtualMachine",
		"metadata":   map[string]interface{}{"name": name},
		"spec": map[string]interface{}{
			"runStrategy": "Halted",
			"template": map[string]interface{}{"spec": map[string]interface{}{
				"domain": map[string]interface{}{
					"devices": map[string]interface{}{"interfaces": []interface{}{
						map[string]interface{}{"name": "default", "masquerade": map[string]interface{}{}},
						map[string]interface{}{"name": "red", "bridge": map[string]interface{}{}},
					}},
					"resources": map[string]interface{}{"requests": map[string]interface{}{"memory": "64Mi"}},
				},
				"networks": []interface{}{
					map[string]interface{}{"name": "default", "pod": map[string]interface{}{}},
					map[string]interface{}{"name": "red", "multus": map[string]interface{}{"networkName": "red-net"}},
				},
			}},
		},
	}}
}

// podClients are the client counts of BenchmarkPodCreate and its chart.
var podClients = []int{1, 4, 16, 32}

// BenchmarkPodCreate compares Pods created in a namespace the Pod webhook
// manages (each admission leases a MAC, which the lease controller then
// binds to the Pod) with Pods created in a namespace labelled
// mutatepods.kubemacpool.io=ignore, which kube-apiserver does not send to
// the webhook. b.N is the number of Pods on each side. It runs for 1, 4, 16
// and 32 clients, then charts pods/s with and without the webhook by client
// count in _output/bench/pods-by-clients.svg.
func BenchmarkPodCreate(b *testing.B) {
	rates := map[int]admissionRates{}
	for _, clients := range podClients {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			e := setup(b)
			pods := func(namespace string, wantMAC bool) func(ctx context.Context, i int) error {
				return func(ctx context.Context, i int) error {
					created, err := e.kube.CoreV1().Pods(namespace).Create(ctx, newPod(fmt.Sprintf("p-%d", i)), metav1.CreateOptions{})
					if err != nil {
						return err
					}
					if got := strings.Contains(created.Annotations[networksAnnotation], `"mac"`); got != wantMAC {
						return fmt.Errorf("pod %s/%s: networks %s, want a MAC: %v", namespace, created.Name, created.Annotations[networksAnnotation], wantMAC)
					}
					return nil
				}
			}
			// The floor runs where the targets are measured, at 16
			// clients, to keep make bench short.
			var floor func(context.Context, int) error
			if clients == 16 {
				floor = pods(nsFloor, true)
			}
			rates[clients] = benchmarkAdmission(b, e, clients, "pod", pods(nsManaged, true), pods(nsIgnored, false), floor, func(ctx context.Context) error {
				for _, namespace := range []string{nsManaged, nsIgnored, nsFloor} {
					if err := e.kube.CoreV1().Pods(namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
	if shared == nil || len(rates) == 0 {
		return // the cluster did not start; the sub-benchmarks said why
	}
	if err := writePodsChart(shared, rates); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkVMCreate is BenchmarkPodCreate for VirtualMachines with two
// interfaces, so two leases per VM; the baseline namespace is labelled
// mutatevirtualmachines.kubemacpool.io=ignore.
func BenchmarkVMCreate(b *testing.B) {
	for _, clients := range []int{16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			e := setup(b)
			vms := func(namespace string, wantMAC bool) func(ctx context.Context, i int) error {
				return func(ctx context.Context, i int) error {
					created, err := e.dynamic.Resource(vmResource).Namespace(namespace).Create(ctx, newVM(fmt.Sprintf("vm-%d", i)), metav1.CreateOptions{})
					if err != nil {
						return err
					}
					interfaces, _, _ := unstructured.NestedSlice(created.Object, "spec", "template", "spec", "domain", "devices", "interfaces")
					for _, iface := range interfaces {
						address, _ := iface.(map[string]interface{})["macAddress"].(string)
						if (address != "") != wantMAC {
							return fmt.Errorf("vm %s/%s: interface %v, want a MAC: %v", namespace, created.GetName(), iface, wantMAC)
						}
					}
					return nil
				}
			}
			_ = benchmarkAdmission(b, e, clients, "vm", vms(nsManaged, true), vms(nsIgnored, false), vms(nsFloor, true), func(ctx context.Context) error {
				for _, namespace := range []string{nsManaged, nsIgnored, nsFloor} {
					if err := e.dynamic.Resource(vmResource).Namespace(namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
}

// waitBound returns once no lease in the namespace is un-Bound: one
// consistent List of the un-Bound leases, then a watch from its
// resourceVersion with the same selector, on which a lease that becomes
// Bound leaves the selection (a DELETED event). So bind-wait-s is the lag
// itself, not a polling interval (the wait polled every 250 ms until
// 2026-11-30), and the wait costs the server one List per round, not one
// every few milliseconds: each List of a consistent read is served by etcd
// and decodes every lease it returns, which a 20 ms poll made a tenth of the
// server's CPU in a profile of the Pod rounds.
func waitBound(ctx context.Context, leases macleaseLister) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	selector := metav1.ListOptions{FieldSelector: "status.phase!=Bound"}
	list, err := leases.List(ctx, selector)
	if err != nil {
		return fmt.Errorf("listing the leases not Bound: %w", err)
	}
	pending := map[string]bool{}
	for _, lease := range list.Items {
		pending[lease.Name] = true
	}
	if len(pending) == 0 {
		return nil
	}
	selector.ResourceVersion = list.ResourceVersion
	watcher, err := leases.Watch(ctx, selector)
	if err != nil {
		return fmt.Errorf("watching the leases not Bound: %w", err)
	}
	defer watcher.Stop()
	for len(pending) > 0 {
		select {
		case event, open := <-watcher.ResultChan():
			if !open {
				return fmt.Errorf("the watch of the leases not Bound ended with %d left", len(pending))
			}
			accessor, err := meta.Accessor(event.Object)
			if err != nil {
				return fmt.Errorf("a %s event of %T: %w", event.Type, event.Object, err)
			}
			switch event.Type {
			case watch.Added, watch.Modified:
				pending[accessor.GetName()] = true
			case watch.Deleted:
				delete(pending, accessor.GetName())
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for the leases to be Bound: %w (%d left)", ctx.Err(), len(pending))
		}
	}
	return nil
}

// macleaseLister is the part of the MacLease client that waitBound uses.
type macleaseLister interface {
	List(context.Context, metav1.ListOptions) (*macpoolv1alpha1.MacLeaseList, error)
	Watch(context.Context, metav1.ListOptions) (watch.Interface, error)
}

// admissionRates are the creates per second of a benchmarkAdmission.
type admissionRates struct {
	with, without float64
	ops           int
}

// benchmarkAdmission runs b.N creates through the webhook (managed) and b.N
// without it (ignored), and b.N through the floor webhook unless floor is
// nil, reports the comparison, removes the objects and their leases with
// deleteAll, and returns the rates.
func benchmarkAdmission(b *testing.B, e *env, clients int, unit string, managed, ignored, floor func(context.Context, int) error, deleteAll func(context.Context) error) admissionRates {
	ctx := context.Background()
	leases := e.mac.MacpoolV1alpha1().MacLeases(nsManaged)
	subject := &side{op: managed, settle: func(ctx context.Context) error {
		// The leases exist once admission returns; binding them to
		// their owners is the controller's work caused by this round.
		return waitBound(ctx, leases)
	}, profile: e.profiles.cpuProfile(), kasProfile: e.kasProfiles.cpuProfile()}
	// kube-apiserver is profiled on both sides, so that what the webhook
	// adds to its work shows as the difference of the two.
	base := &side{op: ignored, kasProfile: e.kasProfiles.cpuProfile()}
	sides := []*side{base, subject}
	var floorSide *side
	if floor != nil {
		floorSide = &side{op: floor, kasProfile: e.kasProfiles.cpuProfile()}
		sides = append(sides, floorSide)
	}
	b.ResetTimer()
	compare(ctx, b, e, clients, b.N, sides...)
	b.StopTimer()
	if err := subject.profile.save(b.Name() + ".cpu"); err != nil {
		b.Fatal(err)
	}
	if err := subject.kasProfile.save(b.Name() + ".kube-apiserver.cpu"); err != nil {
		b.Fatal(err)
	}
	if err := base.kasProfile.save(b.Name() + ".kube-apiserver-base.cpu"); err != nil {
		b.Fatal(err)
	}
	if floorSide != nil {
		if err := floorSide.kasProfile.save(b.Name() + ".kube-apiserver-floor.cpu"); err != nil {
			b.Fatal(err)
		}
	}

	b.ReportMetric(float64(subject.wall.Nanoseconds())/float64(subject.ops), "ns/op")
	b.ReportMetric(subject.rate(), unit+"s/s")
	b.ReportMetric(base.rate(), "base-"+unit+"s/s")
	b.ReportMetric(100*subject.rate()/base.rate(), "%-of-base")
	b.ReportMetric(subject.percentileMs(50), "p50-ms")
	b.ReportMetric(subject.percentileMs(99), "p99-ms")
	b.ReportMetric(base.percentileMs(50), "base-p50-ms")
	b.ReportMetric(base.percentileMs(99), "base-p99-ms")
	b.ReportMetric(cpuMsPerOp(subject.kmpTicks, subject.ops), "kmp-cpu-ms/"+unit)
	b.ReportMetric(cpuMsPerOp(base.kmpTicks, base.ops), "base-kmp-cpu-ms/"+unit)
	b.ReportMetric(cpuMsPerOp(subject.kasTicks, subject.ops), "kas-cpu-ms/"+unit)
	b.ReportMetric(cpuMsPerOp(base.kasTicks, base.ops), "base-kas-cpu-ms/"+unit)
	b.ReportMetric(subject.settled.Seconds(), "bind-wait-s")
	if floorSide != nil {
		b.ReportMetric(floorSide.rate(), "floor-"+unit+"s/s")
		b.ReportMetric(100*floorSide.rate()/base.rate(), "floor-%-of-base")
		b.ReportMetric(100*subject.rate()/floorSide.rate(), "%-of-floor")
		b.ReportMetric(cpuMsPerOp(floorSide.kasTicks, floorSide.ops), "floor-kas-cpu-ms/"+unit)
		// This process runs the clients on every side, and the floor
		// webhook on its own: the difference is the floor webhook.
		b.ReportMetric(cpuMsPerOp(floorSide.benchTicks, floorSide.ops)-cpuMsPerOp(base.benchTicks, base.ops), "floor-cpu-ms/"+unit)
	}

	if err := deleteAll(ctx); err != nil {
		b.Fatal(err)
	}
	if err := leases.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		b.Fatal(err)
	}
	if err := waitFor(ctx, "the leases of "+nsManaged+" to be gone", time.Minute, 250*time.Millisecond, func(ctx context.Context) error {
		list, err := leases.List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if n := len(list.Items); n > 0 {
			return fmt.Errorf("%d leases left", n)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return admissionRates{with: subject.rate(), without: base.rate(), ops: subject.ops}
}
