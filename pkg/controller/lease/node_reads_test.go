package lease

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	kubefake "k8s.io/client-go/kubernetes/fake"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
)

// Two workers may read the same Node at once (the holds of one node's
// Pods are synced in parallel, and each misses the 5 s cache together).
// Their answers may come back in either order: a read begun before the
// hold ran out, slow to answer, shows an older heartbeat than one begun
// after it. Taken in the order they come back, the older heartbeat looks
// written after the later read, a proof that the node stopped the Pod,
// although no heartbeat was written after the hold ran out.
func TestNodeReadsAnsweredOutOfOrderProveNothing(t *testing.T) {
	since := time.Now()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.NewTime(since.Add(-20 * time.Second))}}}}
	fake := kubefake.NewClientset(node)

	// The first read sees the Node as it is, then takes its time to answer
	// (outside the fake clientset, which answers one call at a time).
	inFirst, releaseFirst := make(chan struct{}), make(chan struct{})
	var once sync.Once
	kube := slowNodes{Interface: fake, get: func(ctx context.Context, name string, options metav1.GetOptions) (*corev1.Node, error) {
		first := false
		once.Do(func() { first = true })
		seen, err := fake.CoreV1().Nodes().Get(ctx, name, options)
		if first {
			close(inFirst)
			<-releaseFirst
		}
		return seen, err
	}}
	var r nodeReads
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if _, err := r.get(ctx, kube, "n", since.Add(-time.Second)); err != nil {
			t.Error(err)
		}
	}()
	<-inFirst
	// The kubelet writes a heartbeat before the hold runs out.
	written := node.DeepCopy()
	written.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(since.Add(-500 * time.Millisecond))
	if _, err := fake.CoreV1().Nodes().UpdateStatus(ctx, written, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A read begun after the hold ran out.
	second := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(second)
		if _, err := r.get(ctx, kube, "n", since.Add(time.Second)); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-second:
	case <-time.After(200 * time.Millisecond):
		// It waits for the first one: no order to get wrong.
	}
	close(releaseFirst)
	wg.Wait()

	if r.wroteSince("n", since) {
		t.Errorf("wroteSince = true: the answers taken in the order they came back prove a heartbeat written after %v; none was", since)
	}
}

// slowNodes answers the gets of Nodes with get.
type slowNodes struct {
	kubernetes.Interface
	get func(context.Context, string, metav1.GetOptions) (*corev1.Node, error)
}

func (s slowNodes) CoreV1() typedcorev1.CoreV1Interface {
	return slowCoreV1{CoreV1Interface: s.Interface.CoreV1(), get: s.get}
}

type slowCoreV1 struct {
	typedcorev1.CoreV1Interface
	get func(context.Context, string, metav1.GetOptions) (*corev1.Node, error)
}

func (s slowCoreV1) Nodes() typedcorev1.NodeInterface {
	return slowNodeGets{NodeInterface: s.CoreV1Interface.Nodes(), get: s.get}
}

type slowNodeGets struct {
	typedcorev1.NodeInterface
	get func(context.Context, string, metav1.GetOptions) (*corev1.Node, error)
}

func (s slowNodeGets) Get(ctx context.Context, name string, options metav1.GetOptions) (*corev1.Node, error) {
	return s.get(ctx, name, options)
}
