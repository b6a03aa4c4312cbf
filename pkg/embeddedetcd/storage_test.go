package embeddedetcd

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/apis/example"
	examplev1 "k8s.io/apiserver/pkg/apis/example/v1"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/storage"
	cacherstorage "k8s.io/apiserver/pkg/storage/cacher"
	"k8s.io/apiserver/pkg/storage/storagebackend"
)

var podResource = schema.GroupResource{Resource: "pods"}

// fixedOptions is the generic options' answer for one resource: its codec,
// the member's client URL, and the decorator --watch-cache picked.
type fixedOptions struct {
	config    *storagebackend.ConfigForResource
	decorator generic.StorageDecorator
}

func (f fixedOptions) GetRESTOptions(schema.GroupResource, runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{StorageConfig: f.config, Decorator: f.decorator, ResourcePrefix: "pods"}, nil
}

func podStorageConfig(o *Options) *storagebackend.ConfigForResource {
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, metav1.SchemeGroupVersion)
	if err := example.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := examplev1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	codec := serializer.NewCodecFactory(scheme).LegacyCodec(examplev1.SchemeGroupVersion)
	config := storagebackend.NewDefaultConfig("/registry", codec)
	config.Transport.ServerList = []string{o.ClientURL}
	return config.ForResource(podResource)
}

// buildPodStorage builds the pods' storage the way a registry store does,
// through getter.
func buildPodStorage(t testing.TB, getter generic.RESTOptionsGetter) storage.Interface {
	t.Helper()
	options, err := getter.GetRESTOptions(podResource, &example.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	keyFunc := func(obj runtime.Object) (string, error) { return storage.NamespaceKeyFunc("/pods/", obj) }
	store, destroy, err := options.Decorator(options.StorageConfig, "/pods", keyFunc,
		func() runtime.Object { return &example.Pod{} }, func() runtime.Object { return &example.PodList{} },
		storage.DefaultNamespaceScopedAttr, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(destroy)
	return store
}

func startMember(t testing.TB, o *Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Stop)
	return server
}

func pod(name string) *example.Pod {
	return &example.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: example.PodSpec{NodeName: "node-" + name}}
}

// Storage built through the member's getter writes to and reads from the
// member itself, with the store's preconditions intact.
func TestInProcessStorageIsTheMember(t *testing.T) {
	options := testOptions(t)
	server := startMember(t, options)
	config := podStorageConfig(options)
	store := buildPodStorage(t, server.RESTOptionsGetter(fixedOptions{config: config, decorator: generic.UndecoratedStorage}))
	if _, cached := store.(*cacherstorage.CacheDelegator); cached {
		t.Fatalf("a resource without a watch cache got one")
	}
	ctx := context.Background()

	created := &example.Pod{}
	if err := store.Create(ctx, "/pods/ns/a", pod("a"), created, 0); err != nil {
		t.Fatalf("Create: %v", err)
	}
	// The network client sees the key the in-process store wrote.
	response, err := client(t, options).Get(ctx, "/registry/pods/ns/a")
	if err != nil || len(response.Kvs) != 1 {
		t.Fatalf("reading the key over the network: %v, %d keys", err, len(response.Kvs))
	}
	if err := store.Create(ctx, "/pods/ns/a", pod("a"), &example.Pod{}, 0); !storage.IsExist(err) {
		t.Fatalf("a second Create of the key: got %v, want a KeyExists error", err)
	}

	// A stale resourceVersion precondition is refused, a current one passes.
	stale := created.ResourceVersion
	updated := &example.Pod{}
	update := func(node string) storage.UpdateFunc {
		return func(input runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
			p := input.(*example.Pod).DeepCopy()
			p.Spec.NodeName = node
			return p, nil, nil
		}
	}
	if err := store.GuaranteedUpdate(ctx, "/pods/ns/a", updated, false, &storage.Preconditions{ResourceVersion: &stale}, update("b"), nil); err != nil {
		t.Fatalf("GuaranteedUpdate at the current version: %v", err)
	}
	err = store.GuaranteedUpdate(ctx, "/pods/ns/a", &example.Pod{}, false, &storage.Preconditions{ResourceVersion: &stale}, update("c"), nil)
	if !storage.IsInvalidObj(err) || !strings.Contains(err.Error(), "Precondition failed") {
		t.Fatalf("GuaranteedUpdate at a stale version: got %v, want a failed precondition", err)
	}
	got := &example.Pod{}
	if err := store.Get(ctx, "/pods/ns/a", storage.GetOptions{}, got); err != nil || got.Spec.NodeName != "b" {
		t.Fatalf("Get after the updates: %v, node %q, want b", err, got.Spec.NodeName)
	}
}

// With a watch cache, the cache is filled and fed through the in-process
// watch: a write made over the network reaches a watcher of the store.
func TestInProcessStorageKeepsTheWatchCache(t *testing.T) {
	options := testOptions(t)
	server := startMember(t, options)
	config := podStorageConfig(options)
	store := buildPodStorage(t, server.RESTOptionsGetter(fixedOptions{config: config, decorator: genericregistry.StorageWithCacher()}))
	if _, cached := store.(*cacherstorage.CacheDelegator); !cached {
		t.Fatalf("the storage is %T, want the watch cache's delegator", store)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	watcher := watchWhenReady(ctx, t, store, storage.ListOptions{ResourceVersion: "0", Predicate: storage.Everything, Recursive: true})
	defer watcher.Stop()

	// Written by another client: only the member's own watch can tell the
	// cache about it.
	network := buildPodStorage(t, fixedOptions{config: config, decorator: generic.UndecoratedStorage})
	if err := network.Create(ctx, "/pods/ns/w", pod("w"), &example.Pod{}, 0); err != nil {
		t.Fatalf("Create over the network: %v", err)
	}
	for {
		select {
		case event := <-watcher.ResultChan():
			// The cache hands out its own wrapper of the object.
			if accessor, err := meta.Accessor(event.Object); err == nil && event.Type == watch.Added && accessor.GetName() == "w" {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no Added event for the pod written over the network")
		}
	}
}

// watchWhenReady watches the pods of namespace ns through store, once its
// watch cache answers: it does once it has listed the member.
func watchWhenReady(ctx context.Context, t *testing.T, store storage.Interface, options storage.ListOptions) watch.Interface {
	t.Helper()
	for {
		watcher, err := store.Watch(ctx, "/pods/ns", options)
		if err == nil {
			return watcher
		}
		if ctx.Err() != nil {
			t.Fatalf("Watch: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkStorageCreate compares a create through the in-process client
// with the same create through the network client, on one member.
func BenchmarkStorageCreate(b *testing.B) {
	options := testOptions(b)
	server := startMember(b, options)
	config := podStorageConfig(options)
	for _, path := range []struct {
		name   string
		getter generic.RESTOptionsGetter
	}{
		{"network", fixedOptions{config: config, decorator: generic.UndecoratedStorage}},
		{"in-process", server.RESTOptionsGetter(fixedOptions{config: config, decorator: generic.UndecoratedStorage})},
	} {
		b.Run(path.name, func(b *testing.B) {
			store := buildPodStorage(b, path.getter)
			ctx := context.Background()
			b.ReportAllocs()
			before, run := cpuTime(b), time.Now().UnixNano()
			for i := 0; b.Loop(); i++ {
				name := fmt.Sprintf("%s-%d-%d", path.name, run, i)
				if err := store.Create(ctx, "/pods/ns/"+name, pod(name), &example.Pod{}, 0); err != nil {
					b.Fatal(err)
				}
			}
			// The member runs in this process: its CPU is counted too.
			b.ReportMetric(float64((cpuTime(b)-before).Microseconds())/float64(b.N), "cpu-us/op")
		})
	}
}

// cpuTime is the CPU this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		b.Fatal(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
