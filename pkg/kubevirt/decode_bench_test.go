package kubevirt

import (
	"encoding/json"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// BenchmarkDecodeVirtualMachine decodes testdata/vm.json, a realistic
// VirtualMachine of about 5 KB, whole (what the webhook did until
// 2026-12-01) and with DecodeVirtualMachine.
func BenchmarkDecodeVirtualMachine(b *testing.B) {
	raw, err := os.ReadFile("testdata/vm.json")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var vm kubevirtv1.VirtualMachine
			if err := json.Unmarshal(raw, &vm); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("admitted", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := DecodeVirtualMachine(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReadVirtualMachine reads testdata/vm.json as the lease
// controller's informer holds it (unstructured): converted whole (what
// vmHolder did until 2026-12-01) and with ReadVirtualMachine.
func BenchmarkReadVirtualMachine(b *testing.B) {
	raw, err := os.ReadFile("testdata/vm.json")
	if err != nil {
		b.Fatal(err)
	}
	object := &unstructured.Unstructured{}
	if err := object.UnmarshalJSON(raw); err != nil {
		b.Fatal(err)
	}
	b.Run("converted", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var vm kubevirtv1.VirtualMachine
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object, &vm); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ReadVirtualMachine(object); err != nil {
				b.Fatal(err)
			}
		}
	})
}
