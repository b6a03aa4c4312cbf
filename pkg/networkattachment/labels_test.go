package networkattachment

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/metadata/metadatainformer"
	clienttesting "k8s.io/client-go/testing"
)

func nad(namespace, name string, set map[string]string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "k8s.cni.cncf.io/v1", Kind: "NetworkAttachmentDefinition"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: set},
	}
}

// newLabels is a Labels over a fake cluster holding storage (labelled
// tier=storage); gets counts the reads that went to kube-apiserver.
func newLabels(t *testing.T, served func(context.Context) (bool, error)) (*Labels, *fake.FakeMetadataClient, *atomic.Int32) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	client := fake.NewSimpleMetadataClient(scheme)
	if err := client.Tracker().Create(Resource, nad("infra", "storage", map[string]string{"tier": "storage"}), "infra"); err != nil {
		t.Fatal(err)
	}
	gets := &atomic.Int32{}
	client.PrependReactor("get", Resource.Resource, func(clienttesting.Action) (bool, runtime.Object, error) {
		gets.Add(1)
		return false, nil, nil
	})
	informer := metadatainformer.NewFilteredMetadataInformer(client, Resource, metav1.NamespaceAll, 0, nil, nil).Informer()
	return New(informer, client, served), client, gets
}

func expectLabels(t *testing.T, l *Labels, name string, want labels.Set, wantFound bool) {
	t.Helper()
	got, found, err := l.Labels(context.Background(), "infra", name)
	if err != nil || found != wantFound || labels.Set(got).String() != want.String() {
		t.Errorf("Labels(infra/%s) = %v, %v, %v; want %v, %v, no error", name, got, found, err, want, wantFound)
	}
}

// Without the resource served the informer never starts: every lookup
// asks kube-apiserver, whose NotFound means no such network.
func TestLabelsWhileNotServed(t *testing.T) {
	l, _, gets := newLabels(t, func(context.Context) (bool, error) { return false, nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx, 10*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()

	expectLabels(t, l, "storage", labels.Set{"tier": "storage"}, true)
	expectLabels(t, l, "missing", nil, false)
	if l.Known("infra", "storage") {
		t.Error("a definition is known although nothing follows them")
	}
	if l.started.Load() {
		t.Error("the informer started although the resource is not served")
	}
	if got := gets.Load(); got != 2 {
		t.Errorf("%d reads from kube-apiserver, want 2", got)
	}
}

// Once served, the informer answers; only a definition it does not hold
// costs a read.
func TestLabelsFromTheInformerOnceServed(t *testing.T) {
	var served atomic.Bool
	l, client, gets := newLabels(t, func(context.Context) (bool, error) {
		if !served.Load() {
			return false, errors.New("discovery hiccup")
		}
		return true, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx, 10*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()

	served.Store(true)
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return l.started.Load() && l.informer.HasSynced(), nil
	}); err != nil {
		t.Fatal("the informer did not start and sync once the resource was served")
	}
	expectLabels(t, l, "storage", labels.Set{"tier": "storage"}, true)
	if !l.Known("infra", "storage") || l.Known("infra", "missing") {
		t.Errorf("Known(storage) = %v, Known(missing) = %v; want true, false", l.Known("infra", "storage"), l.Known("infra", "missing"))
	}
	if got := gets.Load(); got != 0 {
		t.Errorf("%d reads from kube-apiserver for a cached definition, want 0", got)
	}
	// A relabelled definition reaches the cache through the watch.
	if err := client.Tracker().Update(Resource, nad("infra", "storage", map[string]string{"tier": "bulk"}), "infra"); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		got, _, _ := l.Labels(ctx, "infra", "storage")
		return got["tier"] == "bulk", nil
	}); err != nil {
		t.Fatal("the relabelled definition still reads its old labels")
	}
	expectLabels(t, l, "missing", nil, false)
	if got := gets.Load(); got != 1 {
		t.Errorf("%d reads from kube-apiserver, want 1 (the missing definition)", got)
	}
}

// Any failure but NotFound is temporary: the caller answers "try again".
func TestLabelsReadFailure(t *testing.T) {
	l, client, _ := newLabels(t, func(context.Context) (bool, error) { return false, nil })
	client.PrependReactor("get", Resource.Resource, func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	if _, _, err := l.Labels(context.Background(), "infra", "storage"); err == nil {
		t.Fatal("no error for a failed read")
	}
}
