package pods

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	versionedfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
	"kubemacpool.io/kubemacpool/pkg/generated/informers/externalversions"
	"kubemacpool.io/kubemacpool/pkg/metrics"
	"kubemacpool.io/kubemacpool/pkg/multus"
)

// newService is an allocation service over fakes whose default pool holds
// the two addresses 02:00:00:00:00:00 and 02:00:00:00:00:01.
func newService(t *testing.T, synced bool) *allocation.Service {
	t.Helper()
	service, _ := newServiceWith(t, synced, v1alpha1.MacPoolSpec{})
	return service
}

// newServiceWith is newService with the default pool's conflict policy and
// exclusions from spec, and the given leases stored; it returns the client
// too, to look at the leases a request left.
func newServiceWith(t *testing.T, synced bool, spec v1alpha1.MacPoolSpec, leases ...runtime.Object) (*allocation.Service, *versionedfake.Clientset) {
	t.Helper()
	spec.Ranges = []v1alpha1.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:01"}}
	client := versionedfake.NewSimpleClientset(append(leases, &v1alpha1.MacPool{
		ObjectMeta: metav1.ObjectMeta{Name: macpool.DefaultPoolName},
		Spec:       spec,
	})...)
	return startService(t, client, allocation.ClientLeases(client), synced, nil), client
}

// startService is an allocation service over client's pools, in a
// namespace "ns", that writes through leases and counts in m (nil for
// none), with its informers started; when synced, once they have synced.
func startService(tb testing.TB, client *versionedfake.Clientset, leases allocation.Leases, synced bool, m *metrics.Metrics) *allocation.Service {
	tb.Helper()
	factory := externalversions.NewSharedInformerFactory(client, 0)
	namespaces := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := namespaces.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}); err != nil {
		tb.Fatal(err)
	}
	service, err := allocation.New(client, leases, factory.Macpool().V1alpha1().MacLeases().Informer(), factory.Macpool().V1alpha1().MacPools(),
		corelisters.NewNamespaceLister(namespaces), func() bool { return synced }, kubefake.NewClientset().CoreV1(), time.Minute, m)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	if synced && !cache.WaitForCacheSync(ctx.Done(), service.HasSynced) {
		tb.Fatal("the service did not sync")
	}
	return service
}

func podRequest(t *testing.T, networks string) *admissionv1.AdmissionRequest {
	t.Helper()
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Annotations: map[string]string{multus.NetworksAnnotation: networks}},
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	return &admissionv1.AdmissionRequest{
		Operation: admissionv1.Create, Namespace: "ns",
		Kind:   metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Object: runtime.RawExtension{Raw: raw},
	}
}

// patchedMACs reads the MACs of the networks annotation the patch writes.
func patchedMACs(t *testing.T, patch []byte) []string {
	t.Helper()
	var operations []struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(patch, &operations); err != nil || len(operations) != 1 {
		t.Fatalf("patch %s: %v", patch, err)
	}
	var networks []struct {
		MAC string `json:"mac"`
	}
	if err := json.Unmarshal([]byte(operations[0].Value), &networks); err != nil {
		t.Fatal(err)
	}
	macs := make([]string, 0, len(networks))
	for _, network := range networks {
		macs = append(macs, network.MAC)
	}
	return macs
}

func TestMutateMACsWithinOnePod(t *testing.T) {
	tests := []struct {
		name        string
		networks    string
		wantCode    int32
		wantMessage string
		wantMACs    []string
	}{{
		name:        "the same MAC requested on two networks",
		networks:    `[{"name":"a","mac":"02:00:00:00:00:07"},{"name":"b","mac":"02-00-00-00-00-07"}]`,
		wantCode:    http.StatusUnprocessableEntity,
		wantMessage: "duplicate MAC address 02:00:00:00:00:07 found on networks: ns/a and ns/b",
	}, {
		// The first network would be allocated 02:00:00:00:00:00, the one
		// the second network asks for, if allocation came first.
		name:     "an allocated MAC is never one requested later in the pod",
		networks: `[{"name":"a"},{"name":"b","mac":"02:00:00:00:00:00"}]`,
		wantMACs: []string{"02:00:00:00:00:01", "02:00:00:00:00:00"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Mutator{Allocations: newService(t, true)}
			response := m.Mutate(context.Background(), podRequest(t, tt.networks))
			if tt.wantCode != 0 {
				if response.Allowed || response.Result.Code != tt.wantCode || !strings.Contains(response.Result.Message, tt.wantMessage) {
					t.Fatalf("response = %+v, want %d with %q", response.Result, tt.wantCode, tt.wantMessage)
				}
				return
			}
			if !response.Allowed {
				t.Fatalf("denied: %+v", response.Result)
			}
			if got := patchedMACs(t, response.Patch); strings.Join(got, ",") != strings.Join(tt.wantMACs, ",") {
				t.Fatalf("MACs = %v, want %v", got, tt.wantMACs)
			}
		})
	}
}

// An allocator still loading is temporary: 503 and "try again", never a
// 422 blamed on the annotation.
func TestMutateWhileTheAllocatorLoads(t *testing.T) {
	m := &Mutator{Allocations: newService(t, false)}
	response := m.Mutate(context.Background(), podRequest(t, `[{"name":"a"}]`))
	if response.Allowed || response.Result.Code != http.StatusServiceUnavailable || !strings.Contains(response.Result.Message, "try again") ||
		strings.Contains(response.Result.Message, multus.NetworksAnnotation) {
		t.Fatalf("response = %+v, want 503 that says try again", response.Result)
	}
}

// MutateMetadata, given the metadata the handler decoded, answers as
// Mutate does given the whole object.
func TestMutateMetadataAnswersAsMutate(t *testing.T) {
	for _, networks := range []string{`[{"name":"a"}]`, `net1,ns/net2@eth2`, `[{"name":"a","mac":"02:00:00:00:00:01"}]`, `[{"name":"Bad"}]`, `[{"name":"a"},{"name":"b"},{"name":"c"}]`} {
		t.Run(networks, func(t *testing.T) {
			request := podRequest(t, networks)
			want := (&Mutator{Allocations: newService(t, true)}).Mutate(context.Background(), request)
			object := &metav1.PartialObjectMetadata{}
			if err := json.Unmarshal(request.Object.Raw, object); err != nil {
				t.Fatal(err)
			}
			request.Object = runtime.RawExtension{}
			got := (&Mutator{Allocations: newService(t, true)}).MutateMetadata(context.Background(), request, object)
			// The allocator picks at random: compare MACs as "MAC".
			anyMAC := regexp.MustCompile(`02:00:00:00:00:0[01]`)
			normal := func(response *admissionv1.AdmissionResponse) string {
				patch := response.Patch
				response.Patch = nil
				encoded, _ := json.Marshal(response)
				return string(encoded) + " " + anyMAC.ReplaceAllString(string(patch), "MAC")
			}
			if gotJSON, wantJSON := normal(got), normal(want); gotJSON != wantJSON {
				t.Fatalf("MutateMetadata = %s\nMutate         = %s", gotJSON, wantJSON)
			}
		})
	}
}

// The patch is byte for byte what it always was.
func TestAnnotationPatchBytes(t *testing.T) {
	networks, err := multus.Parse(`[{"name":"a","x":"<&>"}]`, "ns")
	if err != nil {
		t.Fatal(err)
	}
	if err := networks.SetMAC(0, 0x020000000001); err != nil {
		t.Fatal(err)
	}
	got, err := annotationPatch(networks)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"op":"replace","path":"/metadata/annotations/k8s.v1.cni.cncf.io~1networks","value":"[{\"name\":\"a\",\"x\":\"\u003c\u0026\u003e\",\"mac\":\"02:00:00:00:00:01\"}]"}]`
	if string(got) != want {
		t.Fatalf("patch\n%s\nwant\n%s", got, want)
	}
}
