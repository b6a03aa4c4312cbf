package apiserver

import (
	goruntime "runtime"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/cbor"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
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

// BenchmarkDecodedLeaseHeap is the heap a lease takes once decoded to the
// internal type, as the watch cache and the informers built on it hold it:
// a lease as the webhook creates it and as the controller binds it, with
// and without the allocation's token (heap-B/lease; the bind drops it).
func BenchmarkDecodedLeaseHeap(b *testing.B) {
	created := metav1.NewTime(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	bound := &v1alpha1.MacLease{
		TypeMeta: metav1.TypeMeta{APIVersion: "macpool.kubemacpool.io/v1alpha1", Kind: "MacLease"},
		ObjectMeta: metav1.ObjectMeta{Name: "02-fd-00-00-00-01", Namespace: "tenant-a", UID: "0b5f6c3e-3d1f-4c1e-9d1e-1f2e3d4c5b6a", ResourceVersion: "12345", CreationTimestamp: created,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "web-0", UID: "1b5f6c3e-3d1f-4c1e-9d1e-1f2e3d4c5b6a"}}},
		Spec: v1alpha1.MacLeaseSpec{MACAddress: "02:fd:00:00:00:01", Pool: "default", Interface: "tenant-a/br1",
			Owner: &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "web-0"}},
		Status: v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseBound},
	}
	withToken := bound.DeepCopy()
	withToken.Annotations = map[string]string{macpool.AllocationAttemptAnnotation: "5d0a6d8e-8a2f-4f0e-b8f5-2d6c1e9a7b3c"}
	serializer := json.NewSerializerWithOptions(json.DefaultMetaFactory, Scheme, Scheme, json.SerializerOptions{})
	decoder := Codecs.DecoderToVersion(serializer, macpool.SchemeGroupVersion)
	for _, tc := range []struct {
		name  string
		lease *v1alpha1.MacLease
	}{{"bound-with-token", withToken}, {"bound", bound}} {
		data, err := runtime.Encode(serializer, tc.lease)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportMetric(float64(len(data)), "stored-B")
			held := make([]runtime.Object, 0, b.N)
			var before, after goruntime.MemStats
			goruntime.GC()
			goruntime.ReadMemStats(&before)
			for range b.N {
				obj, err := runtime.Decode(decoder, data)
				if err != nil {
					b.Fatal(err)
				}
				held = append(held, obj)
			}
			goruntime.GC()
			goruntime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heap-B/lease")
			goruntime.KeepAlive(held)
		})
	}
}
