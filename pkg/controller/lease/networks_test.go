package lease

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kubemacpool.io/kubemacpool/pkg/collision"
)

func TestVMIHoldings(t *testing.T) {
	vmi := &unstructured.Unstructured{Object: map[string]interface{}{
		"metadata": map[string]interface{}{"namespace": "vms", "name": "v"},
		"spec": map[string]interface{}{"networks": []interface{}{
			map[string]interface{}{"name": "default", "pod": map[string]interface{}{}},
			map[string]interface{}{"name": "red", "multus": map[string]interface{}{"networkName": "red-net"}},
			map[string]interface{}{"name": "blue", "multus": map[string]interface{}{"networkName": "infra/blue-net"}},
		}},
		"status": map[string]interface{}{"interfaces": []interface{}{
			map[string]interface{}{"name": "default", "mac": "02:00:00:00:00:01"},
			map[string]interface{}{"name": "red", "mac": "02:00:00:00:00:02"},
			map[string]interface{}{"name": "blue", "mac": "02:00:00:00:00:03"},
			map[string]interface{}{"mac": "02:00:00:00:00:04"},
			map[string]interface{}{"name": "gone", "mac": "02:00:00:00:00:05"},
			map[string]interface{}{"name": "red"},
		}},
	}}
	want := []collision.Holding{
		{MAC: "02:00:00:00:00:01", Network: collision.UnknownNetwork},
		{MAC: "02:00:00:00:00:02", Network: "vms/red-net"},
		{MAC: "02:00:00:00:00:03", Network: "infra/blue-net"},
		{MAC: "02:00:00:00:00:04", Network: collision.UnknownNetwork},
		{MAC: "02:00:00:00:00:05", Network: collision.UnknownNetwork},
	}
	if got := vmiHoldings(vmi); !reflect.DeepEqual(got, want) {
		t.Errorf("vmiHoldings:\n got  %v\n want %v", got, want)
	}
	// A spec that does not decode leaves every MAC of unknown scope.
	vmi.Object["spec"] = map[string]interface{}{"networks": []interface{}{"garbage"}}
	for _, holding := range vmiHoldings(vmi) {
		if holding.Network != collision.UnknownNetwork {
			t.Errorf("%s is on %q with an undecodable spec, want unknown scope", holding.MAC, holding.Network)
		}
	}
}

func TestPodHolderNetworks(t *testing.T) {
	pod := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "p", Annotations: map[string]string{
		"k8s.v1.cni.cncf.io/networks": `[{"name":"red","mac":"02:00:00:00:00:01"},{"name":"blue","namespace":"infra","interface":"net2","mac":"02:00:00:00:00:02"},{"name":"green"}]`,
	}}}
	want := []collision.Holding{
		{MAC: "02:00:00:00:00:01", Network: "apps/red"},
		{MAC: "02:00:00:00:00:02", Network: "infra/blue"},
	}
	if got := podHolder(pod).networks; !reflect.DeepEqual(got, want) {
		t.Errorf("networks:\n got  %v\n want %v", got, want)
	}
}

type knownNetworks map[string]bool

func (k knownNetworks) Known(namespace, name string) bool { return k[namespace+"/"+name] }

func (knownNetworks) OnChange(func(namespace, name string)) (func(), error) { return func() {}, nil }

// A burst of definitions is one pass: take returns each once.
func TestNetworkChanges(t *testing.T) {
	changes := newNetworkChanges()
	changes.add("infra", "red")
	changes.add("infra", "blue")
	changes.add("infra", "red")
	select {
	case <-changes.signal:
	default:
		t.Fatal("no signal after a change")
	}
	if got := changes.take(); !reflect.DeepEqual(got, map[string]bool{"infra/red": true, "infra/blue": true}) {
		t.Errorf("take() = %v", got)
	}
	if got := changes.take(); len(got) != 0 {
		t.Errorf("second take() = %v, want nothing", got)
	}
}

// Only a network known to exist is an L2 domain of its own: anything
// unresolved may meet any network.
func TestResolveNetworks(t *testing.T) {
	holdings := []collision.Holding{
		{MAC: "02:00:00:00:00:01", Network: "infra/red"},
		{MAC: "02:00:00:00:00:02", Network: "infra/undefined"},
		{MAC: "02:00:00:00:00:03", Network: collision.UnknownNetwork},
	}
	tests := []struct {
		name     string
		networks NetworkScopes
		want     []string
	}{
		{name: "no NetworkAttachmentDefinitions followed", want: []string{"", "", ""}},
		{name: "red defined", networks: knownNetworks{"infra/red": true}, want: []string{"infra/red", "", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Controller{config: Config{Networks: tc.networks}}
			var got []string
			for _, holding := range c.resolveNetworks(holdings) {
				got = append(got, holding.Network)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("networks = %q, want %q", got, tc.want)
			}
			if holdings[0].Network != "infra/red" {
				t.Error("resolveNetworks changed its input")
			}
		})
	}
}

// A tenant who creates and deletes NetworkAttachmentDefinitions without
// pause gets at most one pass over the pods per interval, and every change
// is still handled.
func TestNetworkChangesArePacedAndNoneIsLost(t *testing.T) {
	const interval = 100 * time.Millisecond
	changes := newNetworkChanges()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	passes := 0
	seen := map[string]bool{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		changes.follow(ctx, interval, func(changed map[string]bool) {
			mu.Lock()
			defer mu.Unlock()
			passes++
			for key := range changed {
				seen[key] = true
			}
		})
	}()
	const burst = 500 * time.Millisecond
	sent := 0
	for start := time.Now(); time.Since(start) < burst; sent++ {
		changes.add("tenant", fmt.Sprintf("nad-%d", sent))
		time.Sleep(time.Millisecond)
	}
	// The last changes are handled after at most one more interval.
	deadline := time.Now().Add(5 * interval)
	for {
		mu.Lock()
		all := len(seen) == sent
		mu.Unlock()
		if all || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != sent {
		t.Errorf("%d of %d changes handled", len(seen), sent)
	}
	// One pass at once, then one per interval: burst/interval + 2 at most.
	if limit := int(burst/interval) + 2; passes > limit {
		t.Errorf("%d passes over the objects for %d changes in %v, want at most %d", passes, sent, burst, limit)
	}
}
