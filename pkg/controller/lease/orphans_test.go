package lease

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// What SlimPod keeps of a Pod being deleted is enough to tell whether its
// node may still run it once it leaves the API.
func TestMayStillRun(t *testing.T) {
	running := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	stopped := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137}}}
	now := metav1.Now()
	tests := []struct {
		name     string
		node     string
		phase    corev1.PodPhase
		deleting bool
		statuses []corev1.ContainerStatus
		// unreported: no kubelet reported on the Pod (no host IP).
		unreported bool
		want       bool
	}{
		{name: "never scheduled", phase: corev1.PodPending, deleting: true, unreported: true, want: false},
		{name: "scheduled by its creator to a node whose kubelet never took it", node: "n", phase: corev1.PodPending, deleting: true,
			unreported: true, want: false},
		{name: "succeeded", node: "n", phase: corev1.PodSucceeded, deleting: true, statuses: []corev1.ContainerStatus{running}, want: false},
		{name: "failed", node: "n", phase: corev1.PodFailed, want: false},
		{name: "every container stopped (the kubelet's own removal)", node: "n", phase: corev1.PodRunning, deleting: true,
			statuses: []corev1.ContainerStatus{stopped, stopped}, want: false},
		{name: "a container running (removed with --force)", node: "n", phase: corev1.PodRunning, deleting: true,
			statuses: []corev1.ContainerStatus{stopped, running}, want: true},
		{name: "no status reported yet: the sandbox may be up", node: "n", phase: corev1.PodPending, deleting: true, want: true},
		{name: "removed with no deletion timestamp: statuses not kept", node: "n", phase: corev1.PodRunning,
			statuses: []corev1.ContainerStatus{stopped}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: testNamespace},
				Spec:   corev1.PodSpec{NodeName: tt.node, Containers: []corev1.Container{{Name: "c", Image: "i"}}},
				Status: corev1.PodStatus{Phase: tt.phase, ContainerStatuses: tt.statuses, HostIP: "192.0.2.10"}}
			if tt.unreported {
				pod.Status.HostIP = ""
			}
			if tt.deleting {
				pod.DeletionTimestamp = &now
			}
			slim, err := SlimPod(pod)
			if err != nil {
				t.Fatal(err)
			}
			if got := mayStillRun(slim.(*corev1.Pod)); got != tt.want {
				t.Errorf("mayStillRun = %v, want %v", got, tt.want)
			}
		})
	}
}

// A Pod removed from the API while its node may still run it (deleted with
// --force, or its node stopped answering) keeps its MAC leased until its
// node proves it stopped it: here, the Node reports Ready after the Pod's
// grace period, and then is deleted. A Pod whose containers had all stopped
// lets its MAC go at once.
func TestLeaseOfAPodRemovedWhileItsNodeMayRunItStays(t *testing.T) {
	orphanMargin = 0
	t.Cleanup(func() { orphanMargin = 10 * time.Second })
	const forced, stopped = "02:00:00:00:00:71", "02:00:00:00:00:72"
	zero := int64(0)
	now := metav1.Now()
	onNode := func(name, address string, state corev1.ContainerState) *corev1.Pod {
		pod := testPod(name, address, corev1.PodRunning)
		pod.Spec.NodeName = "node-1"
		pod.Spec.TerminationGracePeriodSeconds = &zero
		pod.DeletionTimestamp = &now
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: state}}
		pod.Status.HostIP = "192.0.2.10"
		return pod
	}
	// Deleted already, as the garbage collector deletes the lease of a
	// Pod that is gone (the fake client does not keep an object for its
	// finalizers, the API does).
	bound := func(address, owner string) *v1alpha1.MacLease {
		lease := testLease(address, kindPod, owner, v1alpha1.MacLeasePhaseBound, nil)
		lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: kindPod, Name: owner, UID: types.UID("pod-" + owner)}}
		lease.Finalizers = []string{"example.com/other", macpool.MACProtectionFinalizer}
		lease.DeletionTimestamp = &now
		return lease
	}
	// The node last reported Ready an hour ago: it has not heard of
	// anything since.
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.NewTime(time.Now().Add(-time.Hour))}}}}
	h := newHarness(t, false, []runtime.Object{bound(forced, "forced"), bound(stopped, "stopped")}, []runtime.Object{
		onNode("forced", forced, corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}),
		onNode("stopped", stopped, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}),
		node,
	})
	h.run()
	h.deletePod("forced")
	h.deletePod("stopped")
	h.eventually("the lease of the Pod whose containers had stopped to go", func() bool { return !h.protected(stopped) })
	h.consistently("the lease of the Pod removed while running", func() bool { return h.protected(forced) })

	// The kubelet reports the node Ready after the removal: it has heard
	// of it and stopped the Pod.
	ctx := context.Background()
	node.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(time.Now().Add(time.Second))
	if _, err := h.kube.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Looked at again as every orphanRecheck: the Node read before the
	// report answers for nodeReadFor still.
	h.eventually("the lease to go once the node reported Ready after the removal", func() bool {
		h.controller.leaseQueue.Add(testNamespace + "/" + mustMAC(forced).Name())
		return !h.protected(forced)
	})
}
