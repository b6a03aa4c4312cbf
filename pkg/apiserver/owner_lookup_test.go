package apiserver

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"

	"kubemacpool.io/kubemacpool/pkg/kubevirt"
)

// The allocator's owner lookup reads the object of the kind and name asked,
// in the namespace asked, and tells a missing one from a failed read.
func TestLiveOwners(t *testing.T) {
	scheme := metadatafake.NewTestScheme()
	_ = metav1.AddMetaToScheme(scheme)
	object := func(apiVersion, kind, namespace, name string) runtime.Object {
		return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	}
	client := metadatafake.NewSimpleMetadataClient(scheme,
		object("v1", "Pod", "a", "db-0"),
		object("kubevirt.io/v1", kubevirt.KindVirtualMachine, "a", "vm-0"))
	lookup := liveOwners{metadata: client}
	tests := []struct {
		namespace, kind, name string
		want                  bool
	}{
		{namespace: "a", kind: "Pod", name: "db-0", want: true},
		{namespace: "b", kind: "Pod", name: "db-0"},
		{namespace: "a", kind: "Pod", name: "db-1"},
		{namespace: "a", kind: "Pod", name: "vm-0"},
		{namespace: "a", kind: kubevirt.KindVirtualMachine, name: "vm-0", want: true},
		{namespace: "a", kind: kubevirt.KindVirtualMachine, name: "db-0"},
		// No webhook admits another kind; taken as existing, it reclaims
		// nothing.
		{namespace: "a", kind: "Deployment", name: "web", want: true},
	}
	for _, tt := range tests {
		got, err := lookup.OwnerExists(context.Background(), tt.namespace, tt.kind, tt.name)
		if err != nil || got != tt.want {
			t.Errorf("OwnerExists(%s, %s, %s) = %v, %v; want %v", tt.namespace, tt.kind, tt.name, got, err, tt.want)
		}
	}

	client.PrependReactor("get", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	if _, err := lookup.OwnerExists(context.Background(), "a", "Pod", "db-0"); !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "Pod a/db-0") {
		t.Errorf("a failed read = %v; want the error, wrapped", err)
	}
}
