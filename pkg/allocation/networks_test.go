package allocation

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	versionedfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
)

// fakeNetworkLabels are the NetworkAttachmentDefinitions the cluster has,
// by namespace/name; err makes every read fail.
type fakeNetworkLabels struct {
	nads map[string]labels.Set
	err  error
}

func (f fakeNetworkLabels) Labels(_ context.Context, _, namespace, name string) (labels.Set, bool, error) {
	if f.err != nil {
		return nil, false, f.err
	}
	set, found := f.nads[namespace+"/"+name]
	return set, found, nil
}

func networkPool(name, start string, selector *v1alpha1.NetworkSelector, namespaceSelector *metav1.LabelSelector) *v1alpha1.MacPool {
	return &v1alpha1.MacPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.MacPoolSpec{
			Ranges:            []v1alpha1.MACRange{{Start: start, End: start[:len(start)-2] + "ff"}},
			NamespaceSelector: namespaceSelector,
			NetworkSelector:   selector,
		},
	}
}

func references(names ...string) *v1alpha1.NetworkSelector {
	selector := &v1alpha1.NetworkSelector{}
	for _, name := range names {
		namespace, name, _ := strings.Cut(name, "/")
		selector.Networks = append(selector.Networks, v1alpha1.NetworkReference{Namespace: namespace, Name: name})
	}
	return selector
}

func byLabel(key, value string) *v1alpha1.NetworkSelector {
	return &v1alpha1.NetworkSelector{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{key: value}}}
}

func TestPoolForNetwork(t *testing.T) {
	team := &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
	nads := fakeNetworkLabels{nads: map[string]labels.Set{
		"infra/storage": {"tier": "storage"},
		"infra/backup":  {"tier": "storage"},
		"infra/plain":   {},
	}}
	tests := []struct {
		name    string
		pools   []*v1alpha1.MacPool
		labels  NetworkLabels // nil: nothing follows NetworkAttachmentDefinitions
		network Network
		want    string
		// wantErr is a substring of the error; wantNotReady asks for a
		// *NotReadyError.
		wantErr      string
		wantNotReady bool
	}{
		{name: "no network pool: default", network: Network{"infra", "storage"}, want: "default"},
		{name: "a reference wins over the default",
			pools:   []*v1alpha1.MacPool{networkPool("storage", "0a:00:00:00:00:00", references("infra/storage"), nil)},
			network: Network{"infra", "storage"}, want: "storage"},
		{name: "a reference wins over a namespace-selected pool",
			pools: []*v1alpha1.MacPool{
				networkPool("team-a", "0c:00:00:00:00:00", nil, team),
				networkPool("storage", "0a:00:00:00:00:00", references("infra/storage"), nil)},
			network: Network{"infra", "storage"}, want: "storage"},
		{name: "another network gets the namespace-selected pool",
			pools: []*v1alpha1.MacPool{
				networkPool("team-a", "0c:00:00:00:00:00", nil, team),
				networkPool("storage", "0a:00:00:00:00:00", references("infra/storage"), nil)},
			network: Network{"infra", "plain"}, want: "team-a"},
		{name: "no network (pod network) never gets a network pool",
			pools:  []*v1alpha1.MacPool{networkPool("all", "0a:00:00:00:00:00", &v1alpha1.NetworkSelector{LabelSelector: &metav1.LabelSelector{}}, nil)},
			labels: nads, want: "default"},
		{name: "a label selector matches",
			pools:  []*v1alpha1.MacPool{networkPool("storage", "0a:00:00:00:00:00", byLabel("tier", "storage"), nil)},
			labels: nads, network: Network{"infra", "backup"}, want: "storage"},
		{name: "a label selector does not match another label",
			pools:  []*v1alpha1.MacPool{networkPool("storage", "0a:00:00:00:00:00", byLabel("tier", "storage"), nil)},
			labels: nads, network: Network{"infra", "plain"}, want: "default"},
		{name: "an empty label selector matches only networks that exist",
			pools:  []*v1alpha1.MacPool{networkPool("all", "0a:00:00:00:00:00", &v1alpha1.NetworkSelector{LabelSelector: &metav1.LabelSelector{}}, nil)},
			labels: nads, network: Network{"infra", "missing"}, want: "default"},
		{name: "without NetworkAttachmentDefinitions labels match nothing and references still do",
			pools: []*v1alpha1.MacPool{
				networkPool("by-label", "0a:00:00:00:00:00", byLabel("tier", "storage"), nil),
				networkPool("by-name", "0c:00:00:00:00:00", references("infra/backup"), nil)},
			labels: fakeNetworkLabels{}, network: Network{"infra", "backup"}, want: "by-name"},
		{name: "nothing follows NetworkAttachmentDefinitions: labels match nothing",
			pools:   []*v1alpha1.MacPool{networkPool("by-label", "0a:00:00:00:00:00", byLabel("tier", "storage"), nil)},
			network: Network{"infra", "storage"}, want: "default"},
		{name: "labels that cannot be read are a temporary error",
			pools:  []*v1alpha1.MacPool{networkPool("by-label", "0a:00:00:00:00:00", byLabel("tier", "storage"), nil)},
			labels: fakeNetworkLabels{err: errors.New("connection refused")}, network: Network{"infra", "storage"},
			wantErr: "reading NetworkAttachmentDefinition infra/storage", wantNotReady: true},
		{name: "labels are not read when no pool selects by label",
			pools:  []*v1alpha1.MacPool{networkPool("by-name", "0a:00:00:00:00:00", references("infra/storage"), nil)},
			labels: fakeNetworkLabels{err: errors.New("connection refused")}, network: Network{"infra", "storage"}, want: "by-name"},
		{name: "a network pool with a namespaceSelector serves only those namespaces",
			pools:   []*v1alpha1.MacPool{networkPool("storage-b", "0a:00:00:00:00:00", references("infra/storage"), &metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}})},
			network: Network{"infra", "storage"}, want: "default"},
		{name: "a network pool with a matching namespaceSelector",
			pools:   []*v1alpha1.MacPool{networkPool("storage-a", "0a:00:00:00:00:00", references("infra/storage"), team)},
			network: Network{"infra", "storage"}, want: "storage-a"},
		{name: "two pools selecting one network name both",
			pools: []*v1alpha1.MacPool{
				networkPool("storage-b", "0a:00:00:00:00:00", byLabel("tier", "storage"), nil),
				networkPool("storage-a", "0c:00:00:00:00:00", references("infra/storage"), nil)},
			labels: nads, network: Network{"infra", "storage"},
			wantErr: `network infra/storage of namespace "team-a-ns" is selected by more than one MacPool ([storage-a storage-b]): make their networkSelectors exclusive`},
		{name: "two namespace pools are still an error naming both",
			pools: []*v1alpha1.MacPool{
				networkPool("team-a-2", "0a:00:00:00:00:00", nil, team),
				networkPool("team-a", "0c:00:00:00:00:00", nil, team)},
			network: Network{"infra", "plain"},
			wantErr: `namespace "team-a-ns" is selected by more than one MacPool ([team-a team-a-2]): make their namespaceSelectors exclusive`},
		{name: "a network pool decides before two namespace pools conflict",
			pools: []*v1alpha1.MacPool{
				networkPool("team-a-2", "0a:00:00:00:00:00", nil, team),
				networkPool("team-a", "0c:00:00:00:00:00", nil, team),
				networkPool("storage", "0e:00:00:00:00:00", references("infra/storage"), nil)},
			network: Network{"infra", "storage"}, want: "storage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a-ns", Labels: map[string]string{"team": "a"}}}
			s := testService(t, versionedfake.NewSimpleClientset(), nil, true, namespace)
			for _, p := range tc.pools {
				s.observePool(p)
			}
			if tc.labels != nil {
				s.UseNetworkLabels(tc.labels)
			}
			got, err := s.poolFor(context.Background(), "team-a-ns", tc.network)
			if tc.wantErr != "" {
				var notReady *NotReadyError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.As(err, &notReady) != tc.wantNotReady {
					t.Fatalf("error = %v, want one containing %q (temporary: %v)", err, tc.wantErr, tc.wantNotReady)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v", err)
			}
			if got.state.Name() != tc.want {
				t.Errorf("pool = %q, want %q", got.state.Name(), tc.want)
			}
		})
	}
}

// The interface on a network gets an address of its pool, the one on the
// pod network an address of the namespace's.
func TestAllocateFromTheNetworksPool(t *testing.T) {
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "vms"}}
	s := testService(t, versionedfake.NewSimpleClientset(), nil, true, namespace)
	s.observePool(networkPool("storage", "0a:00:00:00:00:00", references("infra/storage"), nil))
	owner := Owner{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "vm"}
	transaction := s.Begin("vms", owner, false)
	onStorage, err := transaction.Allocate(context.Background(), "storage", Network{"infra", "storage"})
	if err != nil {
		t.Fatal(err)
	}
	onPodNetwork, err := transaction.Allocate(context.Background(), "default", Network{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(onStorage.String(), "0a:00:00:00:00:") {
		t.Errorf("the interface on infra/storage got %s, want one of the storage pool (0a:00:00:00:00:xx)", onStorage)
	}
	if !strings.HasPrefix(onPodNetwork.String(), "02:00:00:00:00:") {
		t.Errorf("the interface on the pod network got %s, want one of the default pool (02:00:00:00:00:xx)", onPodNetwork)
	}
	leases, err := s.client.MacpoolV1alpha1().MacLeases("vms").Get(context.Background(), onStorage.Name(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if leases.Spec.Pool != "storage" {
		t.Errorf("lease pool = %q, want storage", leases.Spec.Pool)
	}
}

// An address in any pool's spec.exclude is refused, whichever pool serves
// the interface: a tenant who may create NetworkAttachmentDefinitions can put
// its interfaces on a network pool that does not exclude the host MAC its
// namespace's pool does. A static reservation in the namespace still hands
// it out.
func TestRequestedAddressExcludedByAnotherPool(t *testing.T) {
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "lab", Labels: map[string]string{"team": "lab"}}}
	client := versionedfake.NewSimpleClientset()
	s := testService(t, client, nil, true, namespace)
	lab := networkPool("lab", "0c:00:00:00:00:00", nil, &metav1.LabelSelector{MatchLabels: map[string]string{"team": "lab"}})
	lab.Spec.Exclude = []v1alpha1.MACRange{{Start: "0c:00:00:00:00:10", End: "0c:00:00:00:00:10"}}
	s.observePool(lab)
	s.observePool(networkPool("storage", "0a:00:00:00:00:00", references("lab/mine"), nil))
	owner := Owner{APIVersion: "v1", Kind: "Pod", Name: "p"}
	host := mustParse(t, "0c:00:00:00:00:10")

	for _, network := range []Network{{"lab", "mine"}, {}} {
		_, err := s.Begin("lab", owner, false).Request(context.Background(), "net", network, host)
		var excluded *ExcludedError
		if !errors.As(err, &excluded) || excluded.Pool != "lab" {
			t.Errorf("on network %v: %v, want an ExcludedError naming MacPool lab", network, err)
		}
	}
	if list, _ := client.MacpoolV1alpha1().MacLeases("lab").List(context.Background(), metav1.ListOptions{}); len(list.Items) != 0 {
		t.Errorf("%d leases made for an excluded address", len(list.Items))
	}

	if _, err := client.MacpoolV1alpha1().MacLeases("lab").Create(context.Background(), &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: host.Name()}, Spec: v1alpha1.MacLeaseSpec{MACAddress: host.String()}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin("lab", owner, false).Request(context.Background(), "net", Network{"lab", "mine"}, host); err != nil {
		t.Errorf("with a static reservation of the namespace: %v", err)
	}
}

// A pool chosen by a label judges a requested MAC held elsewhere no more
// leniently than the namespace's own pool: a tenant who may create
// NetworkAttachmentDefinitions labels one of its own to get the network pool.
// A pool that names the network keeps its own policy.
func TestLabelSelectedPoolIsNoMoreLenientThanTheNamespaces(t *testing.T) {
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "lab", Labels: map[string]string{"team": "lab"}}}
	held := &v1alpha1.MacLease{ObjectMeta: metav1.ObjectMeta{Name: "0a-00-00-00-00-40", Namespace: "lab"},
		Spec: v1alpha1.MacLeaseSpec{MACAddress: "0a:00:00:00:00:40", Owner: &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "v"}}}
	for _, tc := range []struct {
		name      string
		own, net  v1alpha1.ConflictPolicy
		network   Network
		wantError bool
	}{
		{"Reject namespace pool, Warn pool chosen by label", v1alpha1.ConflictPolicyReject, v1alpha1.ConflictPolicyWarn, Network{"lab", "mine"}, true},
		{"Reject namespace pool, Warn pool naming the network", v1alpha1.ConflictPolicyReject, v1alpha1.ConflictPolicyWarn, Network{"infra", "storage"}, false},
		{"Warn namespace pool, Warn pool chosen by label", v1alpha1.ConflictPolicyWarn, v1alpha1.ConflictPolicyWarn, Network{"lab", "mine"}, false},
		{"Warn namespace pool, Reject pool chosen by label", v1alpha1.ConflictPolicyWarn, v1alpha1.ConflictPolicyReject, Network{"lab", "mine"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testService(t, versionedfake.NewSimpleClientset(held), nil, true, namespace)
			s.UseNetworkLabels(fakeNetworkLabels{nads: map[string]labels.Set{"lab/mine": {"tier": "storage"}, "infra/storage": {}}})
			own := networkPool("lab", "0c:00:00:00:00:00", nil, &metav1.LabelSelector{MatchLabels: map[string]string{"team": "lab"}})
			own.Spec.ConflictPolicy = tc.own
			storage := networkPool("storage", "0a:00:00:00:00:00", byLabel("tier", "storage"), nil)
			storage.Spec.NetworkSelector.Networks = []v1alpha1.NetworkReference{{Namespace: "infra", Name: "storage"}}
			storage.Spec.ConflictPolicy = tc.net
			s.observePool(own)
			s.observePool(storage)
			_, err := s.Begin("lab", Owner{APIVersion: "v1", Kind: "Pod", Name: "p"}, false).Request(context.Background(), "net", tc.network, mustParse(t, "0a:00:00:00:00:40"))
			var conflict *ConflictError
			if got := errors.As(err, &conflict); got != tc.wantError || !got && err != nil {
				t.Errorf("got %v, want a ConflictError: %v", err, tc.wantError)
			}
		})
	}
}
