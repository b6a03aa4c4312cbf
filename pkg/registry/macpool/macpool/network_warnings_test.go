package macpool

import (
	"context"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

func TestNetworkWarnings(t *testing.T) {
	withNetworks := func(name string, namespaceSelector map[string]string, networks ...string) macpool.MacPool {
		pool := *poolWith(name, "0a:00:00:00:00:00", "0a:00:00:00:00:ff")
		pool.Spec.NetworkSelector = &macpool.NetworkSelector{}
		for _, network := range networks {
			namespace, name, _ := strings.Cut(network, "/")
			pool.Spec.NetworkSelector.Networks = append(pool.Spec.NetworkSelector.Networks, macpool.NetworkReference{Namespace: namespace, Name: name})
		}
		if namespaceSelector != nil {
			pool.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: namespaceSelector}
		}
		return pool
	}
	stored := []macpool.MacPool{
		withNetworks("red", nil, "infra/red"),
		withNetworks("red-team-a", map[string]string{"team": "a"}, "infra/red"),
		*poolWith("plain", "0c:00:00:00:00:00", "0c:00:00:00:00:ff"),
	}
	others := func(context.Context) ([]macpool.MacPool, error) { return stored, nil }
	tests := []struct {
		name string
		pool macpool.MacPool
		want []string
	}{
		{name: "another network", pool: withNetworks("blue", nil, "infra/blue")},
		{name: "the same network, both for every namespace", pool: withNetworks("red2", nil, "infra/blue", "infra/red"),
			want: []string{`spec.networkSelector.networks[1] (infra/red) is selected by MacPool "red" too: interfaces on that network are denied until the two pools' networkSelectors, or their namespaceSelectors, are exclusive`}},
		{name: "the same network and namespaceSelector", pool: withNetworks("red-a2", map[string]string{"team": "a"}, "infra/red"),
			want: []string{`spec.networkSelector.networks[0] (infra/red) is selected by MacPool "red-team-a" too`}},
		{name: "the same network for other namespaces", pool: withNetworks("red-team-b", map[string]string{"team": "b"}, "infra/red")},
		{name: "an update of the pool itself", pool: withNetworks("red", nil, "infra/red")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := networkWarnings(context.Background(), &tc.pool, others)
			if len(got) != len(tc.want) || !slices.EqualFunc(got, tc.want, strings.HasPrefix) {
				t.Errorf("warnings:\n got  %q\n want %q", got, tc.want)
			}
		})
	}
}
