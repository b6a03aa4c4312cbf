package legacyfinalizer

import (
	"context"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// Finalizer is the original Kubemacpool's finalizer on VirtualMachines.
const Finalizer = "k8s.v1.cni.cncf.io/kubeMacPool"

// Controller removes Finalizer from every VirtualMachine that carries it.
type Controller struct {
	client metadata.Interface
	vms    cache.Indexer
	synced cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
}

// New builds the controller on vms, an informer of VirtualMachines that the
// caller runs (only their metadata is read, so any informer of them fits:
// the server shares the lease controller's), and patches through a metadata
// client of kube-apiserver.
func New(client metadata.Interface, vms cache.SharedIndexInformer) (*Controller, error) {
	c := &Controller{
		client: client,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "kubemacpool-legacy-finalizer"}),
	}
	informer := vms
	// Every VirtualMachine is watched, whatever its namespace's opt mode:
	// the finalizer is this product's own, a namespace may have opted out
	// after the original put it there, and a VirtualMachine stuck in
	// deletion is a problem wherever it is.
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj interface{}) { c.enqueue(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("watching VirtualMachines for the legacy finalizer: %w", err)
	}
	c.vms, c.synced = informer.GetIndexer(), informer.HasSynced
	return c, nil
}

func (c *Controller) enqueue(obj interface{}) {
	vm, err := meta.Accessor(obj)
	if err != nil || !slices.Contains(vm.GetFinalizers(), Finalizer) {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(vm); err == nil {
		c.queue.Add(key)
	}
}

// Run removes the finalizer until ctx is done; the caller runs the
// informer.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return fmt.Errorf("legacy finalizer controller: informer did not sync: %w", ctx.Err())
	}
	klog.InfoS("Legacy finalizer controller started", "finalizer", Finalizer)
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.drain, time.Second)
	}
	<-ctx.Done()
	return nil
}

// drain processes keys until the queue shuts down; failures are retried
// with backoff.
func (c *Controller) drain(ctx context.Context) {
	for {
		key, shutdown := c.queue.Get()
		if shutdown {
			return
		}
		if err := c.sync(ctx, key); err != nil {
			klog.ErrorS(err, "Removing the legacy finalizer, will retry", "virtualMachine", key)
			c.queue.AddRateLimited(key)
		} else {
			c.queue.Forget(key)
		}
		c.queue.Done(key)
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	obj, exists, err := c.vms.GetByKey(key)
	if err != nil || !exists {
		return err
	}
	vm, err := meta.Accessor(obj)
	if err != nil {
		return fmt.Errorf("reading VirtualMachine %s: %w", key, err)
	}
	return c.strip(ctx, vm.GetNamespace(), vm.GetName(), vm.GetFinalizers())
}
