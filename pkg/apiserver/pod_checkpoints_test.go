package apiserver

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apiserver/pkg/registry/generic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	leasecontroller "kubemacpool.io/kubemacpool/pkg/controller/lease"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

// The Pod watch checkpoint is kept in the leases' etcd, where every replica
// and every later process reads it, under a key that no resource lists.
func TestPodCheckpointsAreKeptBesideTheLeases(t *testing.T) {
	storage, restOptions := newTestLeaseStorage(t)
	ctx := context.Background()
	lease := reservation("a", "02:00:00:00:00:01")
	if _, err := newInProcessLeases(storage, nil, Scheme).Create(ctx, lease); err != nil {
		t.Fatal(err)
	}

	// Each its own process, with its own client.
	process := func() *podCheckpoints {
		c := newPodCheckpoints(restOptions)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	if got, err := process().Load(ctx); err != nil || got != "" {
		t.Fatalf("before any save, the checkpoint is %q (error %v), want none", got, err)
	}
	for _, version := range []string{"1200", "1350"} {
		if err := process().Save(ctx, version); err != nil {
			t.Fatalf("saving %s: %v", version, err)
		}
		// Another process reads what was saved.
		if got, err := process().Load(ctx); err != nil || got != version {
			t.Fatalf("after saving %s, the checkpoint is %q (error %v)", version, got, err)
		}
	}
	names, err := storedLeaseNames(restOptions)(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != lease.Name {
		t.Errorf("the leases' keys are %v, want only the lease's: the checkpoint is no lease", names)
	}
}

// One client serves a process's loads and saves (the leader saves every
// 10 s); after Close nothing connects again.
func TestPodCheckpointsConnectOnce(t *testing.T) {
	_, restOptions := newTestLeaseStorage(t)
	dials := 0
	dial := dialCheckpoints
	dialCheckpoints = func(ctx context.Context, options generic.RESTOptions) (*clientv3.Client, error) {
		dials++
		return dial(ctx, options)
	}
	t.Cleanup(func() { dialCheckpoints = dial })

	checkpoints := newPodCheckpoints(restOptions)
	t.Cleanup(func() { _ = checkpoints.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := checkpoints.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// The load's context ends; the client is not the load's.
	cancel()
	for _, version := range []string{"1200", "1350", "1400"} {
		if err := checkpoints.Save(context.Background(), version); err != nil {
			t.Fatalf("saving %s: %v", version, err)
		}
	}
	if got, err := checkpoints.Load(context.Background()); err != nil || got != "1400" {
		t.Fatalf("the checkpoint is %q (error %v), want 1400", got, err)
	}
	if dials != 1 {
		t.Errorf("two loads and three saves connected %d times, want once", dials)
	}

	if err := checkpoints.Close(); err != nil {
		t.Fatal(err)
	}
	if err := checkpoints.Save(context.Background(), "1500"); !errors.Is(err, errCheckpointsClosed) {
		t.Errorf("a save after Close returned %v, want %v", err, errCheckpointsClosed)
	}
	if dials != 1 {
		t.Errorf("a save after Close connected again (%d connections)", dials)
	}
	other := newPodCheckpoints(restOptions)
	defer func() { _ = other.Close() }()
	if got, err := other.Load(context.Background()); err != nil || got != "1400" {
		t.Errorf("after Close, another process reads %q (error %v), want 1400", got, err)
	}
}

// The replay asks kube-apiserver for what it keeps since the checkpoint: a
// watch of every Pod from that very version, and lists of every Pod (the
// pages of the Pods as they were then: the options are the lease
// controller's, TestATooOldCheckpointComparesThePodsThenWithTheFirstList);
// and it tells the metrics how the start learnt of the removals.
func TestPodReplayAsksKubeApiserver(t *testing.T) {
	kube := kubefake.NewClientset()
	m := metrics.New()
	replay := podReplay(nil, kube, m)
	ctx := context.Background()

	w, err := replay.Watch(ctx, "1200")
	if err != nil {
		t.Fatal(err)
	}
	w.Stop()
	if _, err := replay.List(ctx, metav1.ListOptions{ResourceVersion: "1200", ResourceVersionMatch: metav1.ResourceVersionMatchExact, Limit: 500}); err != nil {
		t.Fatal(err)
	}
	actions := kube.Actions()
	if len(actions) != 2 {
		t.Fatalf("the replay asked %v, want a watch and a list", actions)
	}
	watched, ok := actions[0].(clienttesting.WatchActionImpl)
	if !ok || watched.GetResource().Resource != "pods" || watched.GetNamespace() != metav1.NamespaceAll ||
		watched.WatchRestrictions.ResourceVersion != "1200" {
		t.Errorf("the replay's watch was %#v, want every Pod from resourceVersion 1200", actions[0])
	}
	listed, ok := actions[1].(clienttesting.ListActionImpl)
	if !ok || listed.GetResource().Resource != "pods" || listed.GetNamespace() != metav1.NamespaceAll {
		t.Errorf("the replay's list was %#v, want every Pod", actions[1])
	}

	replay.Report(leasecontroller.ReplayFailed)
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, family := range families {
		if family.GetName() != "kmp_pod_removal_replay_timestamp_seconds" {
			continue
		}
		for _, metric := range family.GetMetric() {
			labels := metric.GetLabel()
			found = len(labels) == 1 && labels[0].GetValue() == leasecontroller.ReplayFailed && metric.GetGauge().GetValue() > 0
		}
	}
	if !found {
		t.Error("the failed replay is not in kmp_pod_removal_replay_timestamp_seconds")
	}
}

// A term's controller saves the checkpoint once more when the server stops
// (saveCheckpoints): the last one a process that starts after every replica
// stopped replays from. The client is closed only once every term has
// returned, not as the server's context ends, which would fail that save
// (errCheckpointsClosed) and keep the checkpoint a period or two behind.
// A term that would start after the server began stopping does not run.
func TestPodCheckpointsOutliveTheLastTermsSave(t *testing.T) {
	_, restOptions := newTestLeaseStorage(t)
	checkpoints := newPodCheckpoints(restOptions)
	t.Cleanup(func() { _ = checkpoints.Close() })
	if err := checkpoints.Save(context.Background(), "1200"); err != nil {
		t.Fatal(err)
	}
	terms := &termGroup{}
	if !terms.begin() {
		t.Fatal("a term could not begin while the server runs")
	}
	ctx, cancel := context.WithCancel(context.Background())
	closed := make(chan struct{})
	go func() { defer close(closed); closeAfterTerms(ctx, terms, checkpoints) }()
	cancel()
	// The term's workers stop, then it saves once more.
	time.Sleep(100 * time.Millisecond)
	if err := checkpoints.Save(context.Background(), "1350"); err != nil {
		t.Errorf("the term's last save, as the server stops: %v", err)
	}
	terms.end()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the checkpoints were not closed after the last term")
	}
	if err := checkpoints.Save(context.Background(), "1400"); !errors.Is(err, errCheckpointsClosed) {
		t.Errorf("a save after the last term returned %v, want %v", err, errCheckpointsClosed)
	}
	if terms.begin() {
		t.Error("a term began after the server stopped")
	}
	other := newPodCheckpoints(restOptions)
	defer func() { _ = other.Close() }()
	if got, err := other.Load(context.Background()); err != nil || got != "1350" {
		t.Errorf("the next process reads %q (error %v), want the last save, 1350", got, err)
	}
}
