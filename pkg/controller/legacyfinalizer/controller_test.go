package legacyfinalizer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic/dynamicinformer"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/metadata/metadatainformer"
	clienttesting "k8s.io/client-go/testing"

	"kubemacpool.io/kubemacpool/pkg/kubevirt"
)

const otherFinalizer = "kubevirt.io/virtualMachineControllerFinalize"

func virtualMachine(namespace, name string, finalizers ...string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Finalizers: finalizers},
	}
}

func newFakeClient(t *testing.T, objects ...runtime.Object) *metadatafake.FakeMetadataClient {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return metadatafake.NewSimpleMetadataClient(scheme, objects...)
}

// runController runs the controller on client until the test ends.
func runController(t *testing.T, client *metadatafake.FakeMetadataClient) {
	t.Helper()
	factory := metadatainformer.NewSharedInformerFactory(client, 0)
	controller, err := New(client, factory.ForResource(kubevirt.VirtualMachines).Informer())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	factory.Start(ctx.Done())
	go func() { done <- controller.Run(ctx, 2) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func storedFinalizers(t *testing.T, client *metadatafake.FakeMetadataClient, namespace, name string) []string {
	t.Helper()
	obj, err := client.Tracker().Get(kubevirt.VirtualMachines, namespace, name)
	if err != nil {
		t.Fatalf("reading VirtualMachine %s/%s: %v", namespace, name, err)
	}
	return obj.(*metav1.PartialObjectMetadata).Finalizers
}

// waitForFinalizers waits until the stored VirtualMachine carries want.
func waitForFinalizers(t *testing.T, client *metadatafake.FakeMetadataClient, namespace, name string, want []string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return slices.Equal(storedFinalizers(t, client, namespace, name), want), nil
	})
	if err != nil {
		t.Fatalf("finalizers of %s/%s = %q, want %q", namespace, name, storedFinalizers(t, client, namespace, name), want)
	}
}

func patches(client *metadatafake.FakeMetadataClient) []clienttesting.PatchAction {
	var found []clienttesting.PatchAction
	for _, action := range client.Actions() {
		if patch, ok := action.(clienttesting.PatchAction); ok {
			found = append(found, patch)
		}
	}
	return found
}

func TestControllerStripsOnlyTheLegacyFinalizer(t *testing.T) {
	client := newFakeClient(t,
		virtualMachine("blue", "legacy", otherFinalizer, Finalizer),
		virtualMachine("red", "modern", otherFinalizer),
	)
	runController(t, client)

	waitForFinalizers(t, client, "blue", "legacy", []string{otherFinalizer})
	// A VirtualMachine created after the start is handled too.
	if err := client.Tracker().Add(virtualMachine("red", "late", Finalizer)); err != nil {
		t.Fatal(err)
	}
	waitForFinalizers(t, client, "red", "late", []string{})

	if got := storedFinalizers(t, client, "red", "modern"); !slices.Equal(got, []string{otherFinalizer}) {
		t.Errorf("a VirtualMachine without the legacy finalizer changed: %q", got)
	}
	for _, patch := range patches(client) {
		if patch.GetName() == "modern" {
			t.Errorf("a VirtualMachine without the legacy finalizer was patched: %s", patch.GetPatch())
		}
	}
}

// Another client changes the finalizer list between the informer's read
// and the patch: kube-apiserver refuses the patch's test operation with a
// 422, and the controller re-reads the object and removes the finalizer at
// its new index, keeping the one the other client added.
func TestControllerRetriesWhenTheListChangedMeanwhile(t *testing.T) {
	client := newFakeClient(t, virtualMachine("blue", "vm", Finalizer))
	var refused atomic.Bool
	client.PrependReactor("patch", "virtualmachines", func(action clienttesting.Action) (bool, runtime.Object, error) {
		if !refused.CompareAndSwap(false, true) {
			return false, nil, nil
		}
		changed := virtualMachine("blue", "vm", "added.example/first", Finalizer)
		if err := client.Tracker().Update(kubevirt.VirtualMachines, changed, "blue"); err != nil {
			t.Errorf("changing the stored finalizers: %v", err)
		}
		return true, nil, apierrors.NewInvalid(schema.GroupKind{Group: "kubevirt.io", Kind: "VirtualMachine"}, "vm", nil)
	})
	runController(t, client)

	waitForFinalizers(t, client, "blue", "vm", []string{"added.example/first"})
	if got := len(patches(client)); got < 2 {
		t.Errorf("%d patches, want the refused one and a second after re-reading", got)
	}
}

func TestStripTreatsAVirtualMachineGoneAsDone(t *testing.T) {
	client := newFakeClient(t)
	controller, err := New(client, metadatainformer.NewSharedInformerFactory(client, 0).ForResource(kubevirt.VirtualMachines).Informer())
	if err != nil {
		t.Fatal(err)
	}
	if err := controller.strip(context.Background(), "blue", "gone", []string{Finalizer}); err != nil {
		t.Errorf("strip of a deleted VirtualMachine = %v, want nil", err)
	}
}

func TestStripWrapsOtherErrorsWithTheObject(t *testing.T) {
	client := newFakeClient(t, virtualMachine("blue", "vm", Finalizer))
	forbidden := apierrors.NewForbidden(kubevirt.VirtualMachines.GroupResource(), "vm", errors.New("no patch for you"))
	client.PrependReactor("patch", "virtualmachines", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden
	})
	controller, err := New(client, metadatainformer.NewSharedInformerFactory(client, 0).ForResource(kubevirt.VirtualMachines).Informer())
	if err != nil {
		t.Fatal(err)
	}
	err = controller.strip(context.Background(), "blue", "vm", []string{Finalizer})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("strip = %v, want the Forbidden error kept", err)
	}
	if want := "blue/vm"; !strings.Contains(err.Error(), want) {
		t.Errorf("strip error %q does not name the VirtualMachine %s", err, want)
	}
	if got := storedFinalizers(t, client, "blue", "vm"); !slices.Equal(got, []string{Finalizer}) {
		t.Errorf("finalizers after a refused patch = %q, want them unchanged", got)
	}
}

// The server hands the controller the lease controller's VM informer, whose
// objects are whole VirtualMachines (unstructured), not metadata.
func TestControllerOnWholeVirtualMachines(t *testing.T) {
	client := newFakeClient(t, virtualMachine("blue", "legacy", otherFinalizer, Finalizer))
	vm := &unstructured.Unstructured{}
	vm.SetAPIVersion("kubevirt.io/v1")
	vm.SetKind("VirtualMachine")
	vm.SetNamespace("blue")
	vm.SetName("legacy")
	vm.SetFinalizers([]string{otherFinalizer, Finalizer})
	if err := unstructured.SetNestedField(vm.Object, true, "spec", "running"); err != nil {
		t.Fatal(err)
	}
	dynamicClient := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{kubevirt.VirtualMachines: "VirtualMachineList"}, vm)
	factory := dynamicinformer.NewDynamicSharedInformerFactory(dynamicClient, 0)
	controller, err := New(client, factory.ForResource(kubevirt.VirtualMachines).Informer())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	factory.Start(ctx.Done())
	go func() { done <- controller.Run(ctx, 1) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitForFinalizers(t, client, "blue", "legacy", []string{otherFinalizer})
}
