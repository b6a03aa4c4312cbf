package networkattachment

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	fakediscovery "k8s.io/client-go/discovery/fake"
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
	got, found, err := l.Labels(context.Background(), "infra", "infra", name)
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
		got, _, _ := l.Labels(ctx, "infra", "infra", "storage")
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
	if _, _, err := l.Labels(context.Background(), "infra", "infra", "storage"); err == nil {
		t.Fatal("no error for a failed read")
	}
}

// changes collects the definitions a callback of OnChange was called for.
type changes struct {
	mu   sync.Mutex
	seen []string
}

func (c *changes) record(namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, namespace+"/"+name)
}

func (c *changes) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seen)
}

// OnChange tells about definitions that start or stop being known, not
// about relabellings, and nothing more once removed.
func TestOnChange(t *testing.T) {
	l, client, _ := newLabels(t, func(context.Context) (bool, error) { return true, nil })
	removed, kept := &changes{}, &changes{}
	remove, err := l.OnChange(removed.record)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.OnChange(kept.record); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx, 10*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()

	expectSeen := func(c *changes, what string, want ...string) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			return slices.Equal(c.get(), want), nil
		}); err != nil {
			t.Fatalf("%s: the callback saw %v, want %v", what, c.get(), want)
		}
	}
	// The definition that exists when the informer starts.
	expectSeen(removed, "initial list", "infra/storage")

	if err := client.Tracker().Create(Resource, nad("infra", "fast", nil), "infra"); err != nil {
		t.Fatal(err)
	}
	expectSeen(removed, "a new definition", "infra/storage", "infra/fast")
	// A relabelling changes no existence; the next event proves it was
	// delivered and ignored.
	if err := client.Tracker().Update(Resource, nad("infra", "storage", map[string]string{"tier": "bulk"}), "infra"); err != nil {
		t.Fatal(err)
	}
	if err := client.Tracker().Delete(Resource, "infra", "fast"); err != nil {
		t.Fatal(err)
	}
	expectSeen(removed, "a relabelled and a deleted definition", "infra/storage", "infra/fast", "infra/fast")
	if l.Known("infra", "fast") {
		t.Error("a deleted definition is still known")
	}

	remove()
	if err := client.Tracker().Create(Resource, nad("tenant", "late", nil), "tenant"); err != nil {
		t.Fatal(err)
	}
	expectSeen(kept, "a definition created after one callback was removed", "infra/storage", "infra/fast", "infra/fast", "tenant/late")
	// The removed callback would have been handed the event together with
	// the kept one; give its own goroutine a moment to show it.
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 200*time.Millisecond, true, func(context.Context) (bool, error) {
		return len(removed.get()) != 3, nil
	}); err == nil {
		t.Errorf("the removed callback was still called: %v", removed.get())
	}
}

// A callback cannot be added to an informer that has stopped: the caller
// learns it instead of waiting for calls that never come.
func TestOnChangeAfterStop(t *testing.T) {
	l, _, _ := newLabels(t, func(context.Context) (bool, error) { return true, nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx, 10*time.Millisecond); close(done) }()
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return l.started.Load() && l.informer.HasSynced(), nil
	}); err != nil {
		t.Fatal("the informer did not start")
	}
	cancel()
	<-done
	if _, err := l.OnChange(func(string, string) {}); err == nil {
		t.Error("a callback was added to a stopped informer without an error")
	}
}

func TestServed(t *testing.T) {
	resources := func(groupVersion string, names ...string) *metav1.APIResourceList {
		list := &metav1.APIResourceList{GroupVersion: groupVersion}
		for _, name := range names {
			list.APIResources = append(list.APIResources, metav1.APIResource{Name: name})
		}
		return list
	}
	for _, tc := range []struct {
		name       string
		resources  []*metav1.APIResourceList
		failure    error
		wantServed bool
		wantErr    bool
	}{
		{name: "group not served", resources: []*metav1.APIResourceList{resources("v1", "pods")}},
		{name: "group served without the resource", resources: []*metav1.APIResourceList{resources("k8s.cni.cncf.io/v1", "something-else")}},
		{name: "served", resources: []*metav1.APIResourceList{resources("k8s.cni.cncf.io/v1", "something-else", "network-attachment-definitions")}, wantServed: true},
		{name: "discovery fails", resources: []*metav1.APIResourceList{resources("k8s.cni.cncf.io/v1", "network-attachment-definitions")}, failure: errors.New("connection refused"), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: tc.resources}}
			if tc.failure != nil {
				client.PrependReactor("*", "*", func(clienttesting.Action) (bool, runtime.Object, error) { return true, nil, tc.failure })
			}
			served, err := Served(client)(context.Background())
			if served != tc.wantServed || (err != nil) != tc.wantErr {
				t.Errorf("Served() = %v, %v; want %v, error %v", served, err, tc.wantServed, tc.wantErr)
			}
		})
	}
}
