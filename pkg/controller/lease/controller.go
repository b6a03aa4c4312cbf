package lease

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/collision"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/pkg/hashedindex"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

// Config is what the controller needs.
type Config struct {
	// Leases reaches this server's own API (the loopback client).
	Leases versioned.Interface
	// Binder writes a bind in one update; nil means two writes through
	// Leases (an update, then the status).
	Binder Binder
	// LeaseInformer holds every MacLease, as the internal type: the
	// informer the allocator follows too, shared so that each lease is
	// decoded and held once. The caller runs it for as long as the server
	// runs; each controller adds its handler and removes it when its term
	// ends.
	LeaseInformer cache.SharedIndexInformer
	// Kube reaches kube-apiserver, for events.
	Kube kubernetes.Interface
	// Namespaces is the server's namespace informer, shared with the
	// allocator and run by the server: namespaces are watched once per
	// process.
	Namespaces cache.SharedIndexInformer
	// PodEvents follows the Pods (slimmed by SlimPod) on every replica
	// for as long as the server runs (FollowPods): each term's controller
	// takes their events from it. Nil builds one on Pods, which the caller
	// runs.
	PodEvents *PodEvents
	Pods      cache.SharedIndexInformer
	// WebhookConfigurations (MutatingWebhookConfigurations) are this
	// term's: the caller builds them for each term and starts them after
	// New, so that a replica that does not lead watches none.
	WebhookConfigurations cache.SharedIndexInformer
	// KubeVirt tells whether the VirtualMachine and VirtualMachineInstance
	// resources are served right now; nil means never. The controller asks
	// every KubeVirtInterval and starts or stops watching them, so KubeVirt
	// may be installed after the server, removed, and installed again.
	KubeVirt         KubeVirtProbe
	KubeVirtInterval time.Duration
	// KubeVirtInformers gives a new generation of VM and VMI informers
	// each time KubeVirt is found served; required with KubeVirt.
	KubeVirtInformers KubeVirtInformers
	Metrics           *metrics.Metrics
	// WebhookConfigurationName is the MutatingWebhookConfiguration whose
	// namespaceSelectors tell which namespaces the webhooks manage: the
	// server passes the one its certificate manager keeps current. Empty
	// means DefaultWebhookConfigurationName.
	WebhookConfigurationName string
	// Pools holds the MacPools (v1alpha1), for their retention policies;
	// run by the caller like LeaseInformer. Nil retains nothing.
	Pools cache.SharedIndexInformer
	// Networks tells which multus networks collision detection may take
	// as their own L2 domain; nil takes none (every MAC may meet every
	// other holder of it, as without pools per network).
	Networks NetworkScopes
}

// NetworkScopes tells whether a NetworkAttachmentDefinition is known to
// exist. A MAC on a network that is not known is of unknown scope for
// collision detection: it may meet any network.
type NetworkScopes interface {
	Known(namespace, name string) bool
	// OnChange calls changed for every definition that starts or stops
	// being known, until the returned remove is called.
	OnChange(changed func(namespace, name string)) (remove func(), err error)
}

// DefaultWebhookConfigurationName is the original's name of the
// MutatingWebhookConfiguration, the default of
// --certificate-webhook-configuration-name.
const DefaultWebhookConfigurationName = "kubemacpool-mutator"

// Binder binds a lease in one write: the owner's full name and interface,
// the owner references and the Bound status of lease are stored together,
// if lease is still the version it was read at (else a Conflict).
type Binder interface {
	Bind(ctx context.Context, lease *macpool.MacLease) error
}

// clientBinder binds through the API, where spec and status are written by
// two requests.
type clientBinder struct{ client versioned.Interface }

func (b clientBinder) Bind(ctx context.Context, lease *macpool.MacLease) error {
	versioned := &v1alpha1.MacLease{}
	if err := v1alpha1.Convert_macpool_MacLease_To_v1alpha1_MacLease(lease, versioned, nil); err != nil {
		return fmt.Errorf("converting lease %s/%s: %w", lease.Namespace, lease.Name, err)
	}
	leases := b.client.MacpoolV1alpha1().MacLeases(lease.Namespace)
	status := versioned.Status
	updated, err := leases.Update(ctx, versioned, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	updated.Status = status
	_, err = leases.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return err
}

// KubeVirtProbe reports whether KubeVirt's resources are served.
type KubeVirtProbe func(context.Context) (bool, error)

// defaultKubeVirtInterval is how often KubeVirt's presence is checked.
const defaultKubeVirtInterval = 10 * time.Second

// Controller reconciles leases with their owners.
type Controller struct {
	config Config
	now    func() time.Time

	leases     cache.Indexer
	pods       cache.Indexer
	namespaces cache.Indexer

	// podsOnNodes are the Pods kubelets took, and those removed while their
	// nodes may still run them (orphans.go), as PodEvents saw them.
	podsOnNodes *podsOnNodes
	// nodes are the Nodes read lately, for those holds.
	nodes nodeReads

	// kubeVirtMu guards kubeVirt, the VM and VMI caches while they are
	// watched and synced, nil otherwise, and the fields up to
	// waitingForVMs. Until then no VM lease is released or expired: the
	// controller cannot tell whether its VM exists.
	kubeVirtMu sync.RWMutex
	kubeVirt   *kubeVirtWatch
	// kubeVirtStarting is a watch whose caches are still syncing.
	kubeVirtStarting *kubeVirtWatch
	// kubeVirtDiscovered is discovery's last answer. Until it says KubeVirt is
	// not served, no lease is freed while the VM caches have not synced,
	// whatever its owner's kind (see waitForVMs).
	kubeVirtDiscovered kubeVirtPresence
	// waitingForVMs are the keys of the leases kept only because VMs were
	// not seen yet; queued again once they are, or once KubeVirt is found
	// not served.
	waitingForVMs map[string]struct{}

	webhooks  cache.Indexer
	selectors webhookSelectors
	synced    []cache.InformerSynced

	leaseQueue workqueue.TypedRateLimitingInterface[string]
	adoptQueue workqueue.TypedRateLimitingInterface[objectKey]

	collisions *collision.Index
	// references maps a collision key to the object events are recorded
	// on; a *corev1.ObjectReference per key.
	references sync.Map
	recorder   record.EventRecorder
	broadcast  record.EventBroadcaster
	// leaseTracker counts this term's leases by phase for the metrics;
	// set by Run before the lease informer starts.
	leaseTracker *metrics.LeaseTracker
	// warn logs a warning: klog.Warning, which the tests replace to see
	// what is said.
	warn func(args ...interface{})
}

// objectKey names a holder to consider for adoption.
type objectKey struct {
	kind, namespace, name string
}

// leaseNameIndex finds the lease of a MAC whatever its namespace, through
// leasesNamed: a lease's name is its own, and a plain index would keep a
// set for each.
const leaseNameIndex = "name"

func leaseName(obj interface{}) (string, bool) {
	lease, ok := obj.(*macpool.MacLease)
	if !ok {
		return "", false
	}
	return lease.Name, true
}

// leasesNamed are the leases of the informer named name: one, or none.
func (c *Controller) leasesNamed(name string) ([]interface{}, error) {
	return hashedindex.ByValue(c.leases, leaseNameIndex, leaseName, name)
}

// New builds the controller on the informers of config; the caller runs
// them.
func New(config Config) (*Controller, error) {
	if config.WebhookConfigurationName == "" {
		config.WebhookConfigurationName = DefaultWebhookConfigurationName
	}
	if config.Binder == nil {
		config.Binder = clientBinder{config.Leases}
	}
	c := &Controller{
		config: config,
		now:    time.Now,
		leaseQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "kubemacpool-leases"}),
		adoptQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[objectKey](),
			workqueue.TypedRateLimitingQueueConfig[objectKey]{Name: "kubemacpool-adoption"}),
		collisions: collision.New(),
		warn:       klog.Warning,
	}
	if config.KubeVirt == nil {
		// Never followed: no VM can carry a MAC this controller could see.
		c.kubeVirtDiscovered = kubeVirtAbsent
	}
	c.broadcast = record.NewBroadcaster()
	c.recorder = c.broadcast.NewRecorder(scheme.Scheme, corev1.EventSource{Component: eventComponent})

	if config.LeaseInformer == nil || config.Namespaces == nil || (config.Pods == nil && config.PodEvents == nil) || config.WebhookConfigurations == nil {
		return nil, fmt.Errorf("the lease controller needs the MacLease, Namespace, Pod and MutatingWebhookConfiguration informers")
	}
	if config.KubeVirt != nil && config.KubeVirtInformers == nil {
		return nil, fmt.Errorf("the lease controller follows KubeVirt but has no VirtualMachine informers")
	}
	leaseInformer := config.LeaseInformer
	// The informer outlives a term: its index stays from the first one.
	if _, indexed := leaseInformer.GetIndexer().GetIndexers()[leaseNameIndex]; !indexed {
		if err := leaseInformer.AddIndexers(cache.Indexers{leaseNameIndex: hashedindex.IndexFunc(leaseName)}); err != nil {
			return nil, fmt.Errorf("indexing MacLeases: %w", err)
		}
	}
	c.leases = leaseInformer.GetIndexer()

	if c.config.PodEvents == nil {
		events, err := FollowPods(config.Pods, leaseInformer, nil)
		if err != nil {
			return nil, err
		}
		c.config.PodEvents = events
	}
	c.pods = c.config.PodEvents.informer.GetIndexer()
	c.podsOnNodes = c.config.PodEvents.onNodes

	namespaceInformer, webhookInformer := config.Namespaces, config.WebhookConfigurations
	c.namespaces, c.webhooks = namespaceInformer.GetIndexer(), webhookInformer.GetIndexer()
	// The Pod handler's sync, not the store's: a deleted lease waits only
	// for the Pods the handlers have seen (podsOnNodes), so none is looked
	// at before they have had every Pod of the first list.
	c.synced = []cache.InformerSynced{c.config.PodEvents.HasSynced, namespaceInformer.HasSynced, webhookInformer.HasSynced}

	return c, nil
}

// handle calls onChange with the old and new object of every event; a
// deletion has a nil new object, a creation a nil old one.
func (c *Controller) handle(informer cache.SharedIndexInformer, onChange func(old, new interface{})) (cache.ResourceEventHandlerRegistration, error) {
	registration, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { onChange(nil, obj) },
		UpdateFunc: func(old, obj interface{}) { onChange(old, obj) },
		DeleteFunc: func(obj interface{}) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			onChange(obj, nil)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("adding an event handler: %w", err)
	}
	return registration, nil
}

// handleForTerm adds onChange to a shared informer for one leadership term:
// the controller waits for the handler's sync too, and the returned function
// removes it.
func (c *Controller) handleForTerm(informer cache.SharedIndexInformer, onChange func(old, new interface{}), kind string) (func(), error) {
	registration, err := c.handle(informer, onChange)
	if err != nil {
		return nil, err
	}
	c.synced = append(c.synced, registration.HasSynced)
	return func() {
		if err := informer.RemoveEventHandler(registration); err != nil {
			klog.ErrorS(err, "Removing the lease controller's handler", "kind", kind)
		}
	}, nil
}

// Run reconciles until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.leaseQueue.ShutDown()
	defer c.adoptQueue.ShutDown()
	c.broadcast.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.config.Kube.CoreV1().Events("")})
	defer c.broadcast.Shutdown()

	if c.config.Metrics != nil {
		// Only the leader watches every lease; a former leader withdraws
		// its counts rather than freeze them.
		c.leaseTracker = c.config.Metrics.TrackLeases()
		defer c.leaseTracker.Stop()
	}
	// The lease, namespace and pool informers are shared and run on: this
	// term's handlers are added now, the lease's after the tracker it
	// feeds, and go when the term ends.
	removeLeaseHandler, err := c.handleForTerm(c.config.LeaseInformer, c.onLease, "MacLease")
	if err != nil {
		return err
	}
	defer removeLeaseHandler()
	removeNamespaceHandler, err := c.handleForTerm(c.config.Namespaces, c.onNamespace, "Namespace")
	if err != nil {
		return err
	}
	defer removeNamespaceHandler()
	removeWebhookHandler, err := c.handleForTerm(c.config.WebhookConfigurations, c.onWebhookConfiguration, "MutatingWebhookConfiguration")
	if err != nil {
		return err
	}
	defer removeWebhookHandler()
	if c.config.Pools != nil {
		// Retention is decided by the pool: no lease is looked at before
		// the pools are known.
		removePoolHandler, err := c.handleForTerm(c.config.Pools, c.onPool, "MacPool")
		if err != nil {
			return err
		}
		defer removePoolHandler()
	}
	klog.InfoS("Lease controller waiting for informers")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("lease controller: informers did not sync: %w", ctx.Err())
	}
	// Every Pod as added, then their events, in order, until the term
	// ends: before any worker looks at a lease.
	defer c.config.PodEvents.follow(c.onPodHolders)()
	// The leader writes the holds, so it saves how far they are written,
	// for a process that starts after every replica stopped. The saving
	// ends when Run returns, whatever the reason (an error below, its
	// context still live): it would go on vouching for holds that no
	// controller writes any more. Run waits for its last save.
	saveCtx, stopSaving := context.WithCancel(ctx)
	saving := make(chan struct{})
	go func() { defer close(saving); c.config.PodEvents.saveCheckpoints(saveCtx) }()
	defer func() { stopSaving(); <-saving }()
	go c.followKubeVirt(ctx)
	if c.config.Networks != nil {
		changes := newNetworkChanges()
		remove, err := c.config.Networks.OnChange(changes.add)
		if err != nil {
			return fmt.Errorf("following NetworkAttachmentDefinitions: %w", err)
		}
		defer remove()
		go c.followNetworks(ctx, changes)
	}
	klog.InfoS("Lease controller started")
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, func(ctx context.Context) { drain(ctx, c.leaseQueue, c.syncLease) }, time.Second)
		go wait.UntilWithContext(ctx, func(ctx context.Context) { drain(ctx, c.adoptQueue, c.adopt) }, time.Second)
	}
	<-ctx.Done()
	return nil
}

// drain processes queue items until the queue shuts down; failures are
// retried with backoff.
func drain[T comparable](ctx context.Context, queue workqueue.TypedRateLimitingInterface[T], sync func(context.Context, T) error) {
	for {
		item, shutdown := queue.Get()
		if shutdown {
			return
		}
		if err := sync(ctx, item); err != nil {
			klog.ErrorS(err, "Reconciling, will retry", "item", item)
			queue.AddRateLimited(item)
		} else {
			queue.Forget(item)
		}
		queue.Done(item)
	}
}
