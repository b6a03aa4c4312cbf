package lease

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A removed Pod's node proves it stopped the Pod once it is deleted, or
// once its kubelet wrote a Ready heartbeat after the removal's hold ran
// out, by this replica's clock: a heartbeat this replica saw appear after a
// read, made after that time, that showed another one. The heartbeat's own
// value is a time by the node's clock, and proves nothing: a node whose
// clock runs an hour ahead reports, before the removal, a heartbeat an hour
// past it. A node NotReady, of unknown state, or without a Ready condition
// proves nothing either.
func TestNodeStopped(t *testing.T) {
	since := time.Now()
	ready := func(at time.Time, status corev1.ConditionStatus) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: status, LastHeartbeatTime: metav1.NewTime(at)}}}}
	}
	// read is the Node as a read at since+at shows it; nil: deleted.
	type read struct {
		at   time.Duration
		node *corev1.Node
	}
	tests := []struct {
		name  string
		reads []read
		want  bool
	}{
		{name: "node deleted", reads: []read{{time.Minute, nil}}, want: true},
		{name: "a heartbeat written after a read past the removal's hold", want: true, reads: []read{
			{time.Minute, ready(since.Add(-time.Minute), corev1.ConditionTrue)},
			{2 * time.Minute, ready(since.Add(90*time.Second), corev1.ConditionTrue)}}},
		{name: "the kubelet's clock an hour behind, its heartbeat written after a read past the hold", want: true, reads: []read{
			{time.Minute, ready(since.Add(-2*time.Hour), corev1.ConditionTrue)},
			{2 * time.Minute, ready(since.Add(-time.Hour), corev1.ConditionTrue)}}},
		{name: "the kubelet's clock an hour ahead, no heartbeat written since a read past the hold", want: false, reads: []read{
			{time.Minute, ready(since.Add(time.Hour), corev1.ConditionTrue)},
			{2 * time.Minute, ready(since.Add(time.Hour), corev1.ConditionTrue)}}},
		{name: "a heartbeat written, but the read before it came before the hold ran out", want: false, reads: []read{
			{-time.Minute, ready(since.Add(-time.Minute), corev1.ConditionTrue)},
			{time.Minute, ready(since.Add(time.Minute), corev1.ConditionTrue)}}},
		{name: "one read only", want: false, reads: []read{{time.Minute, ready(since.Add(time.Minute), corev1.ConditionTrue)}}},
		{name: "NotReady since", want: false, reads: []read{
			{time.Minute, ready(since.Add(-time.Minute), corev1.ConditionTrue)},
			{2 * time.Minute, ready(since.Add(time.Minute), corev1.ConditionFalse)}}},
		{name: "Ready unknown", want: false, reads: []read{
			{time.Minute, ready(since.Add(-time.Minute), corev1.ConditionTrue)},
			{2 * time.Minute, ready(since.Add(time.Minute), corev1.ConditionUnknown)}}},
		{name: "no Ready condition", want: false, reads: []read{
			{time.Minute, ready(since.Add(-time.Minute), corev1.ConditionTrue)},
			{2 * time.Minute, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false, nil, nil)
			ctx := context.Background()
			var got bool
			for i, r := range tt.reads {
				// The Node as the kubelet (or its deletion) left it.
				_, err := h.kube.CoreV1().Nodes().Get(ctx, "n", metav1.GetOptions{})
				exists := err == nil
				switch {
				case r.node == nil && exists:
					err = h.kube.CoreV1().Nodes().Delete(ctx, "n", metav1.DeleteOptions{})
				case r.node != nil && !exists:
					_, err = h.kube.CoreV1().Nodes().Create(ctx, r.node, metav1.CreateOptions{})
				case r.node != nil:
					_, err = h.kube.CoreV1().Nodes().UpdateStatus(ctx, r.node, metav1.UpdateOptions{})
				default:
					err = nil
				}
				if err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				at := since.Add(r.at)
				h.controller.now = func() time.Time { return at }
				if got, err = h.controller.nodeStopped(ctx, "n", since); err != nil {
					t.Fatal(err)
				}
			}
			if got != tt.want {
				t.Errorf("nodeStopped = %v, want %v", got, tt.want)
			}
		})
	}
}
