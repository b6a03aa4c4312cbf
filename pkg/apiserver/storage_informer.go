package apiserver

import (
	"context"
	"fmt"
	"time"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/tools/cache"
)

// listerWatcher is the part of a registry store an in-process informer uses.
type listerWatcher interface {
	rest.Lister
	rest.Watcher
	// ReadinessCheck fails until the watch cache has loaded.
	ReadinessCheck() error
}

// cacheReadyPoll is how often a list waits for the watch cache.
const cacheReadyPoll = 50 * time.Millisecond

// storageListWatch lists and watches this server's own storage in process:
// the watch cache serves internal objects, with no HTTP and no
// serialization. Through the loopback client, every lease was encoded to
// JSON and decoded again, which made start-up time grow with the leases.
func storageListWatch(storage listerWatcher) *listThenWatch {
	// Cluster-wide, as a list of all namespaces through the API would be.
	inProcess := func(ctx context.Context) context.Context {
		return genericapirequest.WithNamespace(ctx, metav1.NamespaceAll)
	}
	convert := func(options metav1.ListOptions) (*metainternalversion.ListOptions, error) {
		internal := &metainternalversion.ListOptions{}
		if err := metainternalversion.Convert_v1_ListOptions_To_internalversion_ListOptions(&options, internal, nil); err != nil {
			return nil, fmt.Errorf("converting list options: %w", err)
		}
		return internal, nil
	}
	return &listThenWatch{&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, options metav1.ListOptions) (runtime.Object, error) {
			internal, err := convert(options)
			if err != nil {
				return nil, err
			}
			// Until the watch cache has loaded, a list is delegated to
			// etcd and every lease decoded a second time, while the cache
			// decodes them too: at a start with many leases, waiting for
			// the cache and listing from it costs half the CPU.
			if err := wait.PollUntilContextCancel(ctx, cacheReadyPoll, true, func(context.Context) (bool, error) {
				return storage.ReadinessCheck() == nil, nil
			}); err != nil {
				return nil, fmt.Errorf("waiting for the MacLease watch cache: %w", err)
			}
			return storage.List(inProcess(ctx), internal)
		},
		WatchFuncWithContext: func(ctx context.Context, options metav1.ListOptions) (watch.Interface, error) {
			internal, err := convert(options)
			if err != nil {
				return nil, err
			}
			w, err := storage.Watch(inProcess(ctx), internal)
			if err != nil {
				return nil, err
			}
			// The watch cache wraps each event's object to cache its
			// serializations; an informer wants the object itself.
			return watch.Filter(w, func(event watch.Event) (watch.Event, bool) {
				if cacheable, ok := event.Object.(runtime.CacheableObject); ok {
					event.Object = cacheable.GetObject()
				}
				return event, true
			}), nil
		},
	}}
}

// listThenWatch makes reflectors start with a list rather than a watch that
// streams the initial objects. From the watch cache, a list shares the cached
// objects; a streamed watch deep-copies each one out of its serialization
// cache.
type listThenWatch struct{ *cache.ListWatch }

// IsWatchListSemanticsUnSupported tells client-go's reflector to list first.
func (listThenWatch) IsWatchListSemanticsUnSupported() bool { return true }
