package networkattachment

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// Resource is the NetworkAttachmentDefinitions' resource.
var Resource = schema.GroupVersionResource{Group: "k8s.cni.cncf.io", Version: "v1", Resource: "network-attachment-definitions"}

// discoveryInterval is how often discovery is asked whether the cluster
// serves NetworkAttachmentDefinitions, until it does.
const discoveryInterval = 10 * time.Second

// Labels reads the labels of NetworkAttachmentDefinitions from one shared
// metadata informer, or from kube-apiserver for a definition the informer
// does not hold. It implements allocation.NetworkLabels.
type Labels struct {
	informer cache.SharedIndexInformer
	live     metadata.Interface
	served   func(context.Context) (bool, error)
	started  atomic.Bool
	// reads bounds the live reads.
	reads *liveReads
	now   func() time.Time
}

// New follows NetworkAttachmentDefinitions with informer, a metadata
// informer of Resource, which Run starts once served says they are served;
// live reads one that informer does not hold.
func New(informer cache.SharedIndexInformer, live metadata.Interface, served func(context.Context) (bool, error)) *Labels {
	return &Labels{informer: informer, live: live, served: served, reads: newLiveReads(), now: time.Now}
}

// Served asks discovery whether k8s.cni.cncf.io/v1 serves
// NetworkAttachmentDefinitions. A group that is not served is a plain "no";
// other failures are errors, asked again later.
func Served(client discovery.DiscoveryInterface) func(context.Context) (bool, error) {
	return func(context.Context) (bool, error) {
		resources, err := client.ServerResourcesForGroupVersion(Resource.GroupVersion().String())
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("discovering %s: %w", Resource.GroupVersion(), err)
		}
		for _, resource := range resources.APIResources {
			if resource.Name == Resource.Resource {
				return true, nil
			}
		}
		return false, nil
	}
}

// Run asks discovery every interval (10s when zero) until the cluster
// serves NetworkAttachmentDefinitions, then runs the informer until ctx is
// done. A cluster without them is said once in the log, not an error.
func (l *Labels) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = discoveryInterval
	}
	said := false
	_ = wait.PollUntilContextCancel(ctx, interval, true, func(ctx context.Context) (bool, error) {
		served, err := l.served(ctx)
		switch {
		case err != nil:
			klog.ErrorS(err, "Checking whether NetworkAttachmentDefinitions are served, will retry")
			return false, nil
		case !served && !said:
			said = true
			klog.InfoS("The cluster does not serve NetworkAttachmentDefinitions (k8s.cni.cncf.io/v1): MacPool network label selectors match nothing until it does; networkSelector.networks references still match",
				"checkEvery", interval)
		}
		return served, nil
	})
	if ctx.Err() != nil {
		return
	}
	klog.InfoS("Following the labels of NetworkAttachmentDefinitions for MacPool network selectors")
	l.started.Store(true)
	l.informer.RunWithContext(ctx)
}

// Labels returns the labels of the NetworkAttachmentDefinition
// namespace/name; found is false when it does not exist or the cluster
// does not serve NetworkAttachmentDefinitions. An error is temporary.
// requester is the namespace of the object being admitted (live.go).
func (l *Labels) Labels(ctx context.Context, requester, namespace, name string) (labels.Set, bool, error) {
	if l.started.Load() && l.informer.HasSynced() {
		obj, exists, err := l.informer.GetStore().GetByKey(namespace + "/" + name)
		if err == nil && exists {
			if object, ok := obj.(metav1.Object); ok {
				return object.GetLabels(), true, nil
			}
		}
	}
	// Not in the cache: created a moment ago, or the informer is not
	// running yet. kube-apiserver answers NotFound for a missing object
	// and for a resource it does not serve alike. The reads are bounded
	// (live.go).
	key := namespace + "/" + name
	if l.reads.knownMissing(key, l.now()) {
		return nil, false, nil
	}
	if !l.reads.take(requester, l.now()) {
		return nil, false, fmt.Errorf("more than %d reads a second of NetworkAttachmentDefinitions that are not in this server's cache "+
			"for the objects of namespace %s, such as %s; try again", requesterReadQPS, requester, key)
	}
	if !l.reads.limiter.TryAccept() {
		// The read is not made: the namespace keeps its share.
		l.reads.giveBack(requester)
		return nil, false, fmt.Errorf("more than %d reads a second of NetworkAttachmentDefinitions that are not in this server's cache, "+
			"such as %s; try again", liveReadQPS, key)
	}
	object, err := l.live.Resource(Resource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		l.reads.foundMissing(key, l.now())
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("reading NetworkAttachmentDefinition %s/%s: %w", namespace, name, err)
	}
	return object.GetLabels(), true, nil
}

// Known reports whether the NetworkAttachmentDefinition namespace/name is
// in the informer's cache. It never asks kube-apiserver: collision
// detection calls it for every pod event. While the informer is not
// running or not synced nothing is known.
func (l *Labels) Known(namespace, name string) bool {
	if !l.started.Load() || !l.informer.HasSynced() {
		return false
	}
	_, exists, err := l.informer.GetStore().GetByKey(namespace + "/" + name)
	return err == nil && exists
}

// OnChange calls changed with the namespace and name of every definition
// the informer adds or deletes (a relabelling changes no existence), until
// remove is called.
func (l *Labels) OnChange(changed func(namespace, name string)) (remove func(), err error) {
	call := func(obj interface{}) {
		if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		if object, ok := obj.(metav1.Object); ok {
			changed(object.GetNamespace(), object.GetName())
		}
	}
	registration, err := l.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: call, DeleteFunc: call})
	if err != nil {
		return nil, fmt.Errorf("watching NetworkAttachmentDefinitions: %w", err)
	}
	return func() {
		if err := l.informer.RemoveEventHandler(registration); err != nil {
			klog.ErrorS(err, "Removing a NetworkAttachmentDefinition handler")
		}
	}, nil
}
