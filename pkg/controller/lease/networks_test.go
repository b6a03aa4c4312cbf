package lease

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kubemacpool.io/kubemacpool/pkg/collision"
)

func TestVMIHoldings(t *testing.T) {
	vmi := &unstructured.Unstructured{Object: map[string]interface{}{
		"metadata": map[string]interface{}{"namespace": "vms", "name": "v"},
		"spec": map[string]interface{}{"networks": []interface{}{
			map[string]interface{}{"name": "default", "pod": map[string]interface{}{}},
			map[string]interface{}{"name": "red", "multus": map[string]interface{}{"networkName": "red-net"}},
			map[string]interface{}{"name": "blue", "multus": map[string]interface{}{"networkName": "infra/blue-net"}},
		}},
		"status": map[string]interface{}{"interfaces": []interface{}{
			map[string]interface{}{"name": "default", "mac": "02:00:00:00:00:01"},
			map[string]interface{}{"name": "red", "mac": "02:00:00:00:00:02"},
			map[string]interface{}{"name": "blue", "mac": "02:00:00:00:00:03"},
			map[string]interface{}{"mac": "02:00:00:00:00:04"},
			map[string]interface{}{"name": "gone", "mac": "02:00:00:00:00:05"},
			map[string]interface{}{"name": "red"},
		}},
	}}
	want := []collision.Holding{
		{MAC: "02:00:00:00:00:01", Network: collision.UnknownNetwork},
		{MAC: "02:00:00:00:00:02", Network: "vms/red-net"},
		{MAC: "02:00:00:00:00:03", Network: "infra/blue-net"},
		{MAC: "02:00:00:00:00:04", Network: collision.UnknownNetwork},
		{MAC: "02:00:00:00:00:05", Network: collision.UnknownNetwork},
	}
	if got := vmiHoldings(vmi); !reflect.DeepEqual(got, want) {
		t.Errorf("vmiHoldings:\n got  %v\n want %v", got, want)
	}
	// A spec that does not decode leaves every MAC of unknown scope.
	vmi.Object["spec"] = map[string]interface{}{"networks": []interface{}{"garbage"}}
	for _, holding := range vmiHoldings(vmi) {
		if holding.Network != collision.UnknownNetwork {
			t.Errorf("%s is on %q with an undecodable spec, want unknown scope", holding.MAC, holding.Network)
		}
	}
}

func TestPodHolderNetworks(t *testing.T) {
	pod := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "p", Annotations: map[string]string{
		"k8s.v1.cni.cncf.io/networks": `[{"name":"red","mac":"02:00:00:00:00:01"},{"name":"blue","namespace":"infra","interface":"net2","mac":"02:00:00:00:00:02"},{"name":"green"}]`,
	}}}
	want := []collision.Holding{
		{MAC: "02:00:00:00:00:01", Network: "apps/red"},
		{MAC: "02:00:00:00:00:02", Network: "infra/blue"},
	}
	if got := podHolder(pod).networks; !reflect.DeepEqual(got, want) {
		t.Errorf("networks:\n got  %v\n want %v", got, want)
	}
}
