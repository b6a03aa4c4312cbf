package macpool

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// networkWarnings warns about a network that pool references and another
// pool references too, with the same namespaceSelector (or none): the
// webhook denies every interface on it, naming both pools, until the two
// are told apart. Label selectors are not compared: whether two of them
// meet depends on the NetworkAttachmentDefinitions' labels. others may be
// nil (no check).
func networkWarnings(ctx context.Context, pool *macpool.MacPool, others PoolLister) []string {
	if pool.Spec.NetworkSelector == nil || len(pool.Spec.NetworkSelector.Networks) == 0 || others == nil {
		return nil
	}
	pools, err := others(ctx)
	if err != nil {
		return []string{fmt.Sprintf("could not check spec.networkSelector against other MacPools: %v", err)}
	}
	var warnings []string
	for _, other := range pools {
		if other.Name == pool.Name || other.Spec.NetworkSelector == nil ||
			!apiequality.Semantic.DeepEqual(pool.Spec.NamespaceSelector, other.Spec.NamespaceSelector) {
			continue
		}
		for i, ours := range pool.Spec.NetworkSelector.Networks {
			for _, theirs := range other.Spec.NetworkSelector.Networks {
				if ours == theirs {
					warnings = append(warnings, fmt.Sprintf(
						"spec.networkSelector.networks[%d] (%s/%s) is selected by MacPool %q too: interfaces on that network are denied "+
							"until the two pools' networkSelectors, or their namespaceSelectors, are exclusive",
						i, ours.Namespace, ours.Name, other.Name))
				}
			}
		}
	}
	return warnings
}
