package allocation

import (
	"context"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// Network is the multus network an interface is on: a
// NetworkAttachmentDefinition. The zero Network is none: a VirtualMachine
// interface on the pod network, which no network-selected pool serves.
type Network struct {
	Namespace, Name string
}

// IsZero reports whether n names no network.
func (n Network) IsZero() bool { return n == Network{} }

func (n Network) String() string { return n.Namespace + "/" + n.Name }

// NetworkLabels reads the labels of NetworkAttachmentDefinitions, for the
// pools that select networks by label.
type NetworkLabels interface {
	// Labels returns the labels of the NetworkAttachmentDefinition, and
	// found=false when it does not exist or the cluster does not serve
	// NetworkAttachmentDefinitions at all. An error is temporary: the
	// caller answers "try again". requester is the namespace of the object
	// being admitted, which may name a definition of another namespace:
	// reads kube-apiserver must answer are shared fairly between
	// requesters.
	Labels(ctx context.Context, requester, namespace, name string) (set labels.Set, found bool, err error)
}

// UseNetworkLabels makes pools with spec.networkSelector.labelSelector
// match by the labels that networks reads. Without it a label selector
// matches nothing and references alone select networks. Call it before the
// first allocation.
func (s *Service) UseNetworkLabels(networks NetworkLabels) { s.networkLabels = networks }

// networkMatcher is a pool's spec.networkSelector as the allocator sees it.
type networkMatcher struct {
	references map[Network]bool
	// selector is nil when the pool selects by reference only.
	selector labels.Selector
}

func parseNetworkSelector(selector *v1alpha1.NetworkSelector) (*networkMatcher, error) {
	if selector == nil {
		return nil, nil
	}
	matcher := &networkMatcher{references: map[Network]bool{}}
	for _, reference := range selector.Networks {
		matcher.references[Network{Namespace: reference.Namespace, Name: reference.Name}] = true
	}
	if selector.LabelSelector != nil {
		var err error
		if matcher.selector, err = metav1.LabelSelectorAsSelector(selector.LabelSelector); err != nil {
			return nil, err
		}
	}
	return matcher, nil
}

// networkView is what is known of one interface's network when a pool is
// chosen: its labels are read only when some pool selects by label.
type networkView struct {
	Network
	labels labels.Set
	found  bool
}

func (m *networkMatcher) matches(network networkView) bool {
	if network.IsZero() {
		return false
	}
	if m.references[network.Network] {
		return true
	}
	// A label selector matches only a network that exists: labelSelector
	// {} means every NetworkAttachmentDefinition, not every name.
	return m.selector != nil && network.found && m.selector.Matches(network.labels)
}

// viewNetwork reads the labels of network when a pool selects networks by
// label, for an object of namespace requester; a failure to read them is
// temporary.
func (s *Service) viewNetwork(ctx context.Context, requester string, network Network) (networkView, error) {
	view := networkView{Network: network}
	if network.IsZero() || s.networkLabels == nil || !s.anyNetworkLabelSelector() {
		return view, nil
	}
	set, found, err := s.networkLabels.Labels(ctx, requester, network.Namespace, network.Name)
	if err != nil {
		return view, &NotReadyError{Reason: fmt.Sprintf("reading NetworkAttachmentDefinition %s to choose its MAC pool: %v", network, err)}
	}
	view.labels, view.found = set, found
	return view, nil
}

func (s *Service) anyNetworkLabelSelector() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.pools {
		if p.networks != nil && p.networks.selector != nil {
			return true
		}
	}
	return false
}

// choosePool applies the precedence of pools to one interface, under
// s.mu: a pool that selects its network (and, if it has a
// namespaceSelector, its namespace) wins; then a pool without
// networkSelector whose namespaceSelector matches; then the default pool.
// Two pools at the level that decides are an error naming both, to be
// fixed rather than guessed around.
func (s *Service) choosePool(namespace string, namespaceLabels labels.Set, network networkView) (*pool, error) {
	var byNetwork, byNamespace []string
	for name, candidate := range s.pools {
		namespaceMatches := candidate.selector != nil && candidate.selector.Matches(namespaceLabels)
		if candidate.networks != nil {
			if candidate.networks.matches(network) && (candidate.selector == nil || namespaceMatches) {
				byNetwork = append(byNetwork, name)
			}
			continue
		}
		if namespaceMatches {
			byNamespace = append(byNamespace, name)
		}
	}
	slices.Sort(byNetwork)
	slices.Sort(byNamespace)
	switch {
	case len(byNetwork) == 1:
		return s.pools[byNetwork[0]].snapshot(), nil
	case len(byNetwork) > 1:
		return nil, fmt.Errorf("network %s of namespace %q is selected by more than one MacPool (%v): make their networkSelectors exclusive", network.Network, namespace, byNetwork)
	case len(byNamespace) == 1:
		return s.pools[byNamespace[0]].snapshot(), nil
	case len(byNamespace) > 1:
		return nil, fmt.Errorf("namespace %q is selected by more than one MacPool (%v): make their namespaceSelectors exclusive", namespace, byNamespace)
	}
	return nil, nil
}
