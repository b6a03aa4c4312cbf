package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/test/localcluster"
)

// acquiredLease is what a replica logs when its term's lease controller
// starts.
const acquiredLease = `"Lease controller started"`

// replicaLog is the log of replica i of a cluster started by startOwnCluster.
func replicaLog(cluster *localcluster.Cluster, i int) string {
	name := "kubemacpool-apiserver"
	if i > 0 {
		name += fmt.Sprintf("-%d", i)
	}
	return filepath.Join(cluster.LogDir(), name+".log")
}

// leaders lists the replicas whose logs say they took the Lease.
func leaders(cluster *localcluster.Cluster) []int {
	var led []int
	for i := range cluster.KubemacpoolReplicas() {
		content, err := os.ReadFile(replicaLog(cluster, i))
		if err == nil && strings.Contains(string(content), acquiredLease) {
			led = append(led, i)
		}
	}
	return led
}

var _ = Describe("A leader change while a pod is removed with --force", Serial, Label("scale"), func() {
	It("keeps the MAC of a pod removed while no replica leads: every replica follows the Pods", func(ctx SpecContext) {
		cluster := startOwnCluster("leader-change", localcluster.Options{KubemacpoolReplicas: 2})
		kube := kubernetes.NewForConfigOrDie(cluster.RESTConfig())
		aggregated := versioned.NewForConfigOrDie(cluster.RESTConfig())
		namespace, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "forced"}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		node := partitionedNode(ctx, kube, namespace.Name)
		lease := func() (map[string]string, bool) {
			list, err := aggregated.MacpoolV1alpha1().MacLeases(namespace.Name).List(ctx, metav1.ListOptions{})
			Expect(err).NotTo(HaveOccurred())
			if len(list.Items) != 1 {
				return nil, false
			}
			return list.Items[0].Annotations, list.Items[0].Status.Phase == "Bound"
		}

		pod := newPod("forced", `[{"name":"br1"}]`)
		zero := int64(0)
		pod.Spec.TerminationGracePeriodSeconds = &zero
		Eventually(func() error {
			_, err := kube.CoreV1().Pods(namespace.Name).Create(ctx, pod, metav1.CreateOptions{})
			return err
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		Eventually(func() bool { _, bound := lease(); return bound }).WithContext(ctx).WithTimeout(time.Minute).Should(BeTrue())
		runOnNode(ctx, kube, namespace.Name, "forced", node.Name)
		Eventually(func() []int { return leaders(cluster) }).WithContext(ctx).WithTimeout(time.Minute).Should(HaveLen(1))
		leader := leaders(cluster)[0]
		// The other replica has followed the pod since it started.
		time.Sleep(time.Second)

		By(fmt.Sprintf("SIGKILL the leader (replica %d), then remove the pod with --force before the other replica takes over", leader))
		Expect(cluster.KillKubemacpoolReplica(leader)).To(Succeed())
		Expect(kube.CoreV1().Pods(namespace.Name).Delete(ctx, "forced", *metav1.NewDeleteOptions(0))).To(Succeed())
		Eventually(func() []int { return leaders(cluster) }).WithContext(ctx).WithTimeout(time.Minute).Should(HaveLen(2))

		By("the new leader writes the hold of the node, and keeps the lease")
		Eventually(func() map[string]string { annotations, _ := lease(); return annotations }).WithContext(ctx).WithTimeout(time.Minute).
			Should(HaveKeyWithValue("macpool.kubemacpool.io/node-holds",
				And(ContainSubstring(`"node":"`+node.Name+`"`), ContainSubstring(`"pod":"forced"`))))
		Consistently(func() map[string]string { annotations, _ := lease(); return annotations }).WithContext(ctx).WithTimeout(10 * time.Second).
			Should(HaveKey("macpool.kubemacpool.io/node-holds"))
	})
})
