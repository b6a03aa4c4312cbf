package apiserver

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/cbor"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// BenchmarkLeaseEncoding measures what a binary storage encoding would
// save: a lease's decode and encode in JSON (the storage encoding) and in
// CBOR (k8s.io/apimachinery's). docs/benchmarks.md records the decision.
func BenchmarkLeaseEncoding(b *testing.B) {
	lease := &v1alpha1.MacLease{
		TypeMeta: metav1.TypeMeta{APIVersion: "macpool.kubemacpool.io/v1alpha1", Kind: "MacLease"},
		ObjectMeta: metav1.ObjectMeta{Name: "02-fd-00-00-00-01", Namespace: "tenant-a", UID: "0b5f6c3e-3d1f-4c1e-9d1e-1f2e3d4c5b6a", ResourceVersion: "12345", CreationTimestamp: metav1.Now(),
			Labels:          map[string]string{"macpool.kubemacpool.io/pool": "default"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "web-0", UID: "1b5f6c3e-3d1f-4c1e-9d1e-1f2e3d4c5b6a"}}},
	}
	for _, s := range []struct {
		name string
		ser  runtime.Serializer
	}{{"json", json.NewSerializerWithOptions(json.DefaultMetaFactory, Scheme, Scheme, json.SerializerOptions{})}, {"cbor", cbor.NewSerializer(Scheme, Scheme)}} {
		data, err := runtime.Encode(s.ser, lease)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(data)), "bytes")
			for b.Loop() {
				if _, _, err := s.ser.Decode(data, nil, &v1alpha1.MacLease{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(s.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := runtime.Encode(s.ser, lease); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
