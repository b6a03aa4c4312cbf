package lease

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// A node an administrator marked out of service (the taint of Kubernetes'
// non-graceful node shutdown, put on a node known to be shut down) runs
// nothing: the garbage collector of Pods force-deletes its Pods for that
// very reason, so their controllers start them elsewhere. Its removed
// Pods' MACs must go then, not when the node comes back, which for a dead
// machine is never: a Deployment's Pod that asks for its MAC would
// otherwise stay refused (or unleased) for as long as the Node object stays.
func TestNodeOutOfServiceStoppedItsPods(t *testing.T) {
	since := time.Now()
	node := func(status corev1.ConditionStatus, taints ...corev1.Taint) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{Taints: taints},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: status, LastHeartbeatTime: metav1.NewTime(since.Add(-time.Hour))}}}}
	}
	outOfService := corev1.Taint{Key: corev1.TaintNodeOutOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute}
	unreachable := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
	tests := []struct {
		name string
		node *corev1.Node
		want bool
	}{
		{name: "unreachable and out of service", node: node(corev1.ConditionUnknown, unreachable, outOfService), want: true},
		{name: "unreachable only", node: node(corev1.ConditionUnknown, unreachable), want: false},
		// As the garbage collector of Pods: the taint counts on a node
		// that is not Ready, whose kubelet says nothing.
		{name: "out of service but Ready before the removal", node: node(corev1.ConditionTrue, outOfService), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false, nil, []runtime.Object{tt.node})
			got, err := h.controller.nodeStopped(context.Background(), "n", since)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("nodeStopped = %v, want %v", got, tt.want)
			}
		})
	}
}
