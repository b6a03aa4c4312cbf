package embeddedetcd

import (
	"context"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/storage"
	etcdfeature "k8s.io/apiserver/pkg/storage/feature"
	"k8s.io/utils/ptr"
)

// The checker learns from the in-process client that the member supports
// progress notifications; handed the client as it is, with no endpoints,
// it never asks and never learns it.
func TestCheckProgressNotify(t *testing.T) {
	server := startMember(t, testOptions(t))
	client := v3client.New(server.etcd.Server)
	t.Cleanup(func() { _ = client.Close() })

	unnamed := etcdfeature.NewDefaultFeatureSupportChecker()
	unnamed.CheckClient(client.Ctx(), client, storage.RequestWatchProgress)
	checker := etcdfeature.NewDefaultFeatureSupportChecker()
	checkProgressNotify(checker, client)
	deadline := time.Now().Add(30 * time.Second)
	for !checker.Supports(storage.RequestWatchProgress) {
		if time.Now().After(deadline) {
			t.Fatal("the checker did not learn that the member supports progress notifications")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if unnamed.Supports(storage.RequestWatchProgress) {
		t.Fatal("a checker handed the endpoint-less client learnt it too: the named endpoint is no longer needed")
	}
}

// A watch that asks for the initial objects (client-go's WatchList, used
// by kube-controller-manager and kubectl) is served by the watch cache on
// the in-process client, not refused for want of progress notifications.
func TestInProcessStorageStreamsInitialEvents(t *testing.T) {
	options := testOptions(t)
	server := startMember(t, options)
	store := buildPodStorage(t, server.RESTOptionsGetter(fixedOptions{config: podStorageConfig(options), decorator: genericregistry.StorageWithCacher()}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := store.Create(ctx, "/pods/ns/a", pod("a"), nil, 0); err != nil {
		t.Fatal(err)
	}
	predicate := storage.Everything
	predicate.AllowWatchBookmarks = true
	watcher := watchWhenReady(ctx, t, store, storage.ListOptions{Predicate: predicate, Recursive: true, SendInitialEvents: ptr.To(true)})
	defer watcher.Stop()
	added := false
	for {
		select {
		case event := <-watcher.ResultChan():
			switch event.Type {
			case watch.Error:
				t.Fatalf("the watch with initial events was refused: %v", event.Object)
			case watch.Added:
				accessor, err := meta.Accessor(event.Object)
				added = added || (err == nil && accessor.GetName() == "a")
			case watch.Bookmark:
				accessor, err := meta.Accessor(event.Object)
				if err == nil && accessor.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true" {
					if !added {
						t.Fatal("the initial events ended without pod a")
					}
					return
				}
			}
		case <-ctx.Done():
			t.Fatalf("no end of the initial events (pod a seen: %v)", added)
		}
	}
}
