package lease

import (
	"context"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"kubemacpool.io/kubemacpool/pkg/collision"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
)

// vmiHoldings are the MACs a VirtualMachineInstance's status reports, each
// on the multus network that spec.networks gives the interface of that
// name. An interface on the pod network, one the status does not name (the
// guest agent reports the guest's own), or a spec that does not decode is
// of unknown scope: it may meet any network, so it still collides.
func vmiHoldings(vmi *unstructured.Unstructured) []collision.Holding {
	interfaces, _, _ := unstructured.NestedSlice(vmi.Object, "status", "interfaces")
	var networks []kubevirtv1.Network
	if raw, found, _ := unstructured.NestedSlice(vmi.Object, "spec", "networks"); found {
		decoded := struct {
			Networks []kubevirtv1.Network `json:"networks"`
		}{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(map[string]interface{}{"networks": raw}, &decoded); err == nil {
			networks = decoded.Networks
		}
	}
	var holdings []collision.Holding
	for _, iface := range interfaces {
		fields, ok := iface.(map[string]interface{})
		if !ok {
			continue
		}
		address, ok := fields["mac"].(string)
		if !ok || address == "" {
			continue
		}
		holding := collision.Holding{MAC: address, Network: collision.UnknownNetwork}
		if name, ok := fields["name"].(string); ok && name != "" {
			if namespace, network, multus := kubevirt.MultusNetwork(name, networks, vmi.GetNamespace()); multus {
				holding.Network = namespace + "/" + network
			}
		}
		holdings = append(holdings, holding)
	}
	return holdings
}

// resolveNetworks keeps the network of a holding only when that
// NetworkAttachmentDefinition is known to exist: a name nobody defined (or
// a cluster that does not serve the definitions, or whose informer has not
// synced) can't be resolved to an L2 domain, so it may meet any network.
func (c *Controller) resolveNetworks(holdings []collision.Holding) []collision.Holding {
	resolved := make([]collision.Holding, len(holdings))
	for i, holding := range holdings {
		resolved[i] = holding
		if holding.Network == collision.UnknownNetwork {
			continue
		}
		namespace, name, _ := strings.Cut(holding.Network, "/")
		if c.config.Networks == nil || !c.config.Networks.Known(namespace, name) {
			resolved[i].Network = collision.UnknownNetwork
		}
	}
	return resolved
}

// networkChanges collects the NetworkAttachmentDefinitions that were
// defined or removed since the last look, so that a burst of them (every
// definition, when the handler is added) costs one pass over the objects.
type networkChanges struct {
	mu      sync.Mutex
	changed map[string]bool
	signal  chan struct{}
}

func newNetworkChanges() *networkChanges {
	return &networkChanges{changed: map[string]bool{}, signal: make(chan struct{}, 1)}
}

func (n *networkChanges) add(namespace, name string) {
	n.mu.Lock()
	n.changed[namespace+"/"+name] = true
	n.mu.Unlock()
	select {
	case n.signal <- struct{}{}:
	default:
	}
}

func (n *networkChanges) take() map[string]bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	changed := n.changed
	n.changed = map[string]bool{}
	return changed
}

// networkRescanInterval is the least time between two passes of
// followNetworks. Definitions change rarely, but a tenant who may create
// NetworkAttachmentDefinitions can create and delete them as fast as
// kube-apiserver lets it: without a pause, each change would have the leader
// walk every pod and VMI again, one pass after the other. Changes that come
// during the pause are collected and handled in the next pass, so none is
// lost; a collision on a network just defined is reported at most this much
// later.
const networkRescanInterval = time.Second

// followNetworks tracks again, until ctx is done, the running objects that
// may hold a MAC on a NetworkAttachmentDefinition that was just defined or
// removed: their MACs on it change between an L2 domain of its own and
// unknown scope.
func (c *Controller) followNetworks(ctx context.Context, changes *networkChanges) {
	changes.follow(ctx, networkRescanInterval, c.networksChanged)
}

// follow calls rescan with the changes collected since the last call, each
// time there are some, at most once per interval, until ctx is done.
func (n *networkChanges) follow(ctx context.Context, interval time.Duration, rescan func(map[string]bool)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.signal:
			rescan(n.take())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// networksChanged looks at every pod and VMI once: definitions change
// rarely. The objects are read from the caches, so a change of one of them
// that races with this is tracked again by its own event.
func (c *Controller) networksChanged(changed map[string]bool) {
	if len(changed) == 0 {
		return
	}
	for _, obj := range c.pods.List() {
		pod, ok := obj.(*corev1.Pod)
		if !ok || finished(pod) {
			continue
		}
		h := podHolder(podMetadata(pod))
		if h == nil {
			continue
		}
		for _, holding := range h.networks {
			if changed[holding.Network] {
				c.observePodCollisions(podMetadata(pod), h)
				break
			}
		}
	}
	if _, vmis := c.vmCaches(); vmis != nil {
		for _, obj := range vmis.List() {
			if vmi, ok := obj.(*unstructured.Unstructured); ok {
				c.observeVMICollisions(vmi)
			}
		}
	}
}
