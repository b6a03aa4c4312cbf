package lease

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
)

// KubeVirtInformers builds one generation of VirtualMachine and
// VirtualMachineInstance informers, for as long as ctx lasts. The controller
// adds its indexers and handlers, then calls start. A new generation is
// asked for each time KubeVirt is found served again: a stopped informer
// cannot be started again.
type KubeVirtInformers func(ctx context.Context) (vms, vmis cache.SharedIndexInformer, start func())

// kubeVirtWatch is one generation of VirtualMachine and
// VirtualMachineInstance informers. KubeVirt removed and installed again
// needs a new one: a stopped informer cannot be started again.
type kubeVirtWatch struct {
	vms, vmis cache.Indexer
	synced    []cache.InformerSynced
	cancel    context.CancelFunc
}

// kubeVirtPresence is what discovery last said of KubeVirt.
type kubeVirtPresence int

const (
	// kubeVirtUnknown: no answer yet this term (or only errors).
	kubeVirtUnknown kubeVirtPresence = iota
	kubeVirtServed
	kubeVirtAbsent
)

// followKubeVirt asks whether KubeVirt is served, until ctx is done, and
// starts or stops watching VMs to match. Operators often install KubeVirt
// after Kubemacpool, and discovery may fail once at start; a decision taken
// once would leave every VM lease to expire.
func (c *Controller) followKubeVirt(ctx context.Context) {
	defer c.stopKubeVirt()
	if c.config.KubeVirt == nil {
		return
	}
	interval := c.config.KubeVirtInterval
	if interval <= 0 {
		interval = defaultKubeVirtInterval
	}
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		present, err := c.config.KubeVirt(ctx)
		if err != nil {
			// Keep what is running: a discovery hiccup is not a removal.
			klog.ErrorS(err, "Checking whether KubeVirt is installed, will retry")
			return
		}
		c.kubeVirtMu.Lock()
		running := c.kubeVirt != nil || c.kubeVirtStarting != nil
		var waiting map[string]struct{}
		if present {
			c.kubeVirtDiscovered = kubeVirtServed
		} else {
			// No VM exists to carry a MAC: the leases that waited for the
			// VM caches need not wait any longer.
			c.kubeVirtDiscovered = kubeVirtAbsent
			waiting, c.waitingForVMs = c.waitingForVMs, nil
		}
		c.kubeVirtMu.Unlock()
		c.queueKeys(waiting)
		switch {
		case present && !running:
			if err := c.startKubeVirt(ctx); err != nil {
				klog.ErrorS(err, "Watching VirtualMachines failed, will retry")
			}
		case !present && running:
			klog.InfoS("KubeVirt is gone: no longer watching VirtualMachines; VM leases are kept until it returns")
			c.stopKubeVirt()
		}
	}, interval)
}

// startKubeVirt starts a new generation of VM and VMI informers. Once they
// have synced, the controller uses them and looks at every lease again.
func (c *Controller) startKubeVirt(ctx context.Context) error {
	watchCtx, cancel := context.WithCancel(ctx)
	vmInformer, vmiInformer, start := c.config.KubeVirtInformers(watchCtx)
	if err := c.handleKubeVirt(vmInformer, vmiInformer); err != nil {
		cancel()
		return err
	}
	watch := &kubeVirtWatch{
		vms: vmInformer.GetIndexer(), vmis: vmiInformer.GetIndexer(),
		synced: []cache.InformerSynced{vmInformer.HasSynced, vmiInformer.HasSynced},
		cancel: cancel,
	}
	c.kubeVirtMu.Lock()
	c.kubeVirtStarting = watch
	c.kubeVirtMu.Unlock()
	start()
	klog.InfoS("KubeVirt is installed: watching VirtualMachines")
	go func() {
		if !cache.WaitForCacheSync(watchCtx.Done(), watch.synced...) {
			return
		}
		c.kubeVirtMu.Lock()
		if c.kubeVirtStarting != watch {
			c.kubeVirtMu.Unlock()
			return
		}
		c.kubeVirt, c.kubeVirtStarting = watch, nil
		waiting := c.waitingForVMs
		c.waitingForVMs = nil
		c.kubeVirtMu.Unlock()
		klog.InfoS("VirtualMachine informers synced: VM leases are reconciled again")
		c.queueVMLeases()
		c.queueKeys(waiting)
		// The Pods were looked at before any VMI was known (a term hands
		// them over first), and so were the launchers of the VMIs the first
		// list delivered: with no VMI to leave their MACs to, each collided
		// with its own VMI until one of the two changed. Look at them again
		// now that their VMIs are known.
		for _, obj := range watch.vmis.List() {
			c.observeLaunchersOf(nil, obj)
		}
		// The informers' first events came while the caches were not in
		// use yet; adopt what they delivered now.
		for _, obj := range watch.vms.List() {
			vm := obj.(*unstructured.Unstructured)
			c.adoptQueue.Add(objectKey{kind: kubevirt.KindVirtualMachine, namespace: vm.GetNamespace(), name: vm.GetName()})
		}
	}()
	return nil
}

// stopKubeVirt stops watching VMs. VM leases are then left as they are.
func (c *Controller) stopKubeVirt() {
	c.kubeVirtMu.Lock()
	defer c.kubeVirtMu.Unlock()
	for _, watch := range []*kubeVirtWatch{c.kubeVirt, c.kubeVirtStarting} {
		if watch != nil {
			watch.cancel()
		}
	}
	c.kubeVirt, c.kubeVirtStarting = nil, nil
}

// vmCaches returns the synced VM and VMI caches, or nils while VMs are not
// watched.
func (c *Controller) vmCaches() (vms, vmis cache.Indexer) {
	c.kubeVirtMu.RLock()
	defer c.kubeVirtMu.RUnlock()
	if c.kubeVirt == nil {
		return nil, nil
	}
	return c.kubeVirt.vms, c.kubeVirt.vmis
}

// waitForVMs tells whether a lease about to be freed (released, expired,
// its finalizer removed, a Retained one passed on) must wait because a VM
// may carry its MAC unseen: KubeVirt is served, or discovery has not
// answered yet, and the VM caches have not synced (KubeVirt installed a
// moment ago, or the first list of a leadership term, which takes a while
// on a cluster with many VMs). It holds whatever the lease's owner kind:
// spec.owner is a namespace admin's to edit, and a VM may carry the MAC of
// a Pod's lease. The key is recorded and queued again once the caches
// sync, or once discovery says KubeVirt is not served: without KubeVirt no
// VM carries anything, and Pod leases do not wait.
func (c *Controller) waitForVMs(key string) bool {
	c.kubeVirtMu.Lock()
	defer c.kubeVirtMu.Unlock()
	if c.kubeVirt != nil || c.kubeVirtDiscovered == kubeVirtAbsent {
		return false
	}
	if c.waitingForVMs == nil {
		c.waitingForVMs = map[string]struct{}{}
	}
	c.waitingForVMs[key] = struct{}{}
	return true
}

// queueKeys queues the leases of keys again.
func (c *Controller) queueKeys(keys map[string]struct{}) {
	for key := range keys {
		c.leaseQueue.Add(key)
	}
}

// queueVMLeases queues every lease of a VirtualMachine: they waited while
// VMs were not watched.
func (c *Controller) queueVMLeases() {
	for _, obj := range c.leases.List() {
		lease := obj.(*macpool.MacLease)
		if lease.Spec.Owner == nil || lease.Spec.Owner.Kind != kubevirt.KindVirtualMachine {
			continue
		}
		if key, err := cache.MetaNamespaceKeyFunc(lease); err == nil {
			c.leaseQueue.Add(key)
		}
	}
}

// handleKubeVirt indexes a generation's VMs by MAC and its VMIs by reported
// MAC, and follows both.
func (c *Controller) handleKubeVirt(vmInformer, vmiInformer cache.SharedIndexInformer) error {
	if err := vmInformer.AddIndexers(cache.Indexers{macIndex: func(obj interface{}) ([]string, error) {
		h, err := vmHolder(obj.(*unstructured.Unstructured))
		if err != nil {
			return nil, nil
		}
		return indexHolder(h), nil
	}}); err != nil {
		return fmt.Errorf("indexing VirtualMachines: %w", err)
	}
	if _, err := c.handle(vmInformer, c.onVM); err != nil {
		return err
	}
	if err := vmiInformer.AddIndexers(cache.Indexers{reportedIndex: func(obj interface{}) ([]string, error) {
		return indexReported(obj), nil
	}}); err != nil {
		return fmt.Errorf("indexing VirtualMachineInstances: %w", err)
	}
	_, err := c.handle(vmiInformer, c.onVMI)
	return err
}
