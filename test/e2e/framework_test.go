package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// kubectl runs the real kubectl as the cluster admin and returns its
// combined output.
func kubectl(args ...string) (string, error) {
	return kubectlAs(cluster.Kubeconfig(), args...)
}

// kubectlAs runs kubectl with the given kubeconfig and returns its standard
// output; standard error (warnings, errors) goes to the log and, on failure,
// into the error.
func kubectlAs(kubeconfig string, args ...string) (string, error) {
	return runKubectl(kubeconfig, "", args...)
}

func runKubectl(kubeconfig, input string, args ...string) (string, error) {
	cmd := exec.Command(cluster.KubectlPath(), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	// A cache of this run's own: ~/.kube/cache may hold discovery of an
	// earlier cluster that had the same port.
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+filepath.Join(cluster.LogDir(), "..", "e2e-kubectl-cache"))
	if input != "" {
		cmd.Stdin = strings.NewReader(input)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	GinkgoWriter.Printf("$ kubectl %s\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	if err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// mustKubectl is kubectl for steps that must work.
func mustKubectl(args ...string) string {
	GinkgoHelper()
	output, err := kubectl(args...)
	Expect(err).NotTo(HaveOccurred())
	return output
}

// kubectlWithInput runs kubectl as the cluster admin with input on stdin.
func kubectlWithInput(input string, args ...string) (string, error) {
	return runKubectl(cluster.Kubeconfig(), input, args...)
}

// createNamespace makes a namespace with a unique name that is deleted
// after the spec.
func createNamespace(ctx context.Context, prefix string) string {
	GinkgoHelper()
	namespace, err := kubeClient.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"},
	}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	name := namespace.Name
	DeferCleanup(func(ctx context.Context) {
		// Leases are stored by the aggregated server, which the namespace
		// controller empties too; delete them here so that the next spec
		// never depends on how fast that happens.
		Expect(macClient.MacpoolV1alpha1().MacLeases(name).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})).To(Succeed())
		// A spec may have deleted it already.
		if err := kubeClient.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
			Expect(err).NotTo(HaveOccurred())
		}
	})
	return name
}

// macSequence hands out addresses that no other spec uses, so that specs
// never collide on the cluster-wide lease keys.
var macSequence uint64 = 0x0a0000000000

func nextMAC() string {
	macSequence++
	value := macSequence
	octets := make([]string, 6)
	for i := 5; i >= 0; i-- {
		octets[i] = fmt.Sprintf("%02x", value&0xff)
		value >>= 8
	}
	return strings.Join(octets, ":")
}

// leaseName is the dash form of a colon-form MAC.
func leaseName(mac string) string { return strings.ReplaceAll(mac, ":", "-") }

// newLease returns a lease of mac owned by a Pod.
func newLease(mac, owner string) *v1alpha1.MacLease {
	return &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: leaseName(mac)},
		Spec: v1alpha1.MacLeaseSpec{
			MACAddress: mac,
			Pool:       "default",
			Interface:  "default/bridge-net",
			Owner:      &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: owner},
		},
	}
}

// createLease creates a lease that must be accepted.
func createLease(ctx context.Context, namespace string, lease *v1alpha1.MacLease) *v1alpha1.MacLease {
	GinkgoHelper()
	created, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Create(ctx, lease, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return created
}
