package lease

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/multus"
)

// BenchmarkPodHolder reads the holder of a Pod as the informer's index and
// event handlers do, for every event of every Pod.
func BenchmarkPodHolder(b *testing.B) {
	for _, bench := range []struct{ name, networks string }{
		{"list-1", `[{"name":"net1","mac":"02:00:00:00:00:01"}]`},
		{"list-4", `[{"name":"net1","namespace":"ns","interface":"net1","mac":"02:00:00:00:00:01"},{"name":"net2","mac":"02:00:00:00:00:02"},{"name":"net3","mac":"02:00:00:00:00:03"},{"name":"net4","namespace":"other","interface":"eth4","mac":"02:00:00:00:00:04"}]`},
	} {
		b.Run(bench.name, func(b *testing.B) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
				Name: "web-7d4b9c8f6-x2x9z", GenerateName: "web-7d4b9c8f6-", Namespace: "ns", UID: "9b6f1c2e-8a7d-4c3b-9e1f-2a3b4c5d6e7f",
				Labels:      map[string]string{"app": "web", "pod-template-hash": "7d4b9c8f6"},
				Annotations: map[string]string{multus.NetworksAnnotation: bench.networks},
			}}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if h := podHolder(podMetadata(pod)); h == nil || len(indexHolder(h)) == 0 {
					b.Fatal("no holder")
				}
			}
		})
	}
}
