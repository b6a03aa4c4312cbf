package maclease

import (
	"fmt"
	"testing"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
)

// BenchmarkNamespacedList lists the leases of one namespace (one lease)
// while the store holds others of other namespaces, with and without the
// watch cache. Keys carry no namespace (see the package doc), so without
// the cache storage reads and decodes every lease of the cluster.
func BenchmarkNamespacedList(b *testing.B) {
	const others = 5000
	for name, decorator := range map[string]generic.StorageDecorator{
		"etcd":        generic.UndecoratedStorage,
		"watch cache": genericregistry.StorageWithCacher(),
	} {
		b.Run(fmt.Sprintf("%s/others=%d", name, others), func(b *testing.B) {
			leases, _ := newTestStorage(b, decorator)
			for i := range others {
				lease := newLease(fmt.Sprintf("02-00-00-00-%02x-%02x", i/256, i%256))
				if _, err := leases.Create(inNamespace("crowd"), lease, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := leases.Create(inNamespace("mine"), newLease("0a-00-00-00-00-01"), rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				list, err := leases.List(inNamespace("mine"), &metainternalversion.ListOptions{})
				if err != nil {
					b.Fatal(err)
				}
				_ = list
			}
		})
	}
}
