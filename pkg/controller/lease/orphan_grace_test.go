package lease

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// A Pod's creator writes its terminationGracePeriodSeconds: a tenant who
// sets it to years, lets a kubelet start the Pod and removes it with
// --force would otherwise keep its MACs (any free MAC it asked for, in any
// pool) leased for those years, with no object, until the leader changes.
// The hold counts at most orphanMaxGrace of it: past that, a node that
// reported Ready since proves the kubelet heard of the removal long ago
// (a heartbeat seen written after a read past the bound: nodeStopped).
func TestHoldOfARemovedPodIsBoundedWhateverItsGracePeriod(t *testing.T) {
	const address = "02:00:00:00:00:73"
	removed := time.Now()
	later := removed.Add(orphanMaxGrace + orphanMargin + time.Minute)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.NewTime(removed)}}}}
	h := newHarness(t, false, nil, []runtime.Object{node})
	// The kubelet reports again after every read, as it does every few
	// minutes.
	heartbeat := func(at time.Time) {
		t.Helper()
		node.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(at)
		if _, err := h.kube.CoreV1().Nodes().UpdateStatus(context.Background(), node, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	for _, seconds := range []int64{1_000_000_000, 9_300_000_000} { // 31 years; past what a time.Duration holds
		pod := testPod("forced", address, corev1.PodRunning)
		pod.Spec.NodeName, pod.Status.HostIP = "node-1", "192.0.2.10"
		pod.Spec.TerminationGracePeriodSeconds = &seconds
		lease := heldLease(t, pod, removed)

		h.controller.now = func() time.Time { return removed.Add(time.Second) }
		if wait, err := h.controller.hold(context.Background(), lease); err != nil || wait <= 0 {
			t.Fatalf("grace %ds: hold right after the removal = %v, %v; want a wait", seconds, wait, err)
		}
		// Past the bound: one read shows the heartbeat, the next one a later.
		h.controller.now = func() time.Time { return later.Add(-30 * time.Second) }
		if _, err := h.controller.hold(context.Background(), lease); err != nil {
			t.Fatal(err)
		}
		heartbeat(later.Add(-15 * time.Second))
		h.controller.now = func() time.Time { return later }
		wait, err := h.controller.hold(context.Background(), lease)
		if err != nil {
			t.Fatal(err)
		}
		if wait != 0 {
			t.Errorf("grace %ds: the MAC is still held %v after the removal, the node Ready since: for %v more", seconds, later.Sub(removed), wait)
		}
	}
}

// heldLease is the deleted lease of pod's MAC as the leader that saw pod go,
// at removed, while its node may still run it, records it.
func heldLease(t *testing.T, pod *corev1.Pod, removed time.Time) *macpool.MacLease {
	t.Helper()
	h := podHolder(podMetadata(pod))
	var seen podsOnNodes
	seen.observe(pod, nil, h, nil, func(string, string) bool { return true }, removed)
	var holds []macpool.NodeHold
	for address := range h.interfaces {
		removedPods, _ := seen.of(indexKey(pod.Namespace, address))
		for _, entry := range removedPods {
			holds = append(holds, macpool.NodeHold{Node: entry.node, Pod: entry.pod, StoppedBy: metav1.NewTime(entry.stoppedBy)})
		}
	}
	if len(holds) == 0 {
		t.Fatalf("no hold noted for Pod %s removed on node %q", pod.Name, pod.Spec.NodeName)
	}
	now := metav1.NewTime(removed)
	return &macpool.MacLease{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, DeletionTimestamp: &now,
			Annotations: map[string]string{macpool.NodeHoldsAnnotation: macpool.FormatNodeHolds(macpool.MergeNodeHolds(nil, holds))}},
	}
}
