package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// pluginDir holds kubectl-macpool built from this tree for this run, so
// that the specs never test a stale binary.
var pluginDir string

// buildPlugin builds cmd/kubectl-macpool once per run.
func buildPlugin() {
	GinkgoHelper()
	if pluginDir != "" {
		return
	}
	// The suite's root is emptied at every run, and this outlives the spec.
	dir := filepath.Join(suiteRoot, "plugin-bin")
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "kubectl-macpool"), "./cmd/kubectl-macpool")
	build.Dir = filepath.Join("..", "..")
	output, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "building the plugin: %s", output)
	pluginDir = dir
}

// pluginResult is what `kubectl macpool ...` printed and how it exited.
type pluginResult struct {
	Stdout, Stderr string
	Code           int
}

// kubectlMacpool runs `kubectl macpool args...` through the real kubectl,
// which finds the plugin on PATH, as the user of kubeconfig. Flags cannot
// come before a plugin's name, so the kubeconfig is given by KUBECONFIG.
func kubectlMacpool(kubeconfig string, args ...string) pluginResult {
	GinkgoHelper()
	cmd := exec.Command(cluster.KubectlPath(), append([]string{"macpool"}, args...)...)
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+kubeconfig,
		"PATH="+pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KUBECACHEDIR="+filepath.Join(cluster.LogDir(), "..", "e2e-kubectl-cache"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	GinkgoWriter.Printf("$ kubectl macpool %s\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	result := pluginResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		result.Code = exit.ExitCode()
	} else {
		Expect(err).NotTo(HaveOccurred())
	}
	return result
}

// staticReservation is a lease without owner in pool.
func staticReservation(address, pool string) *v1alpha1.MacLease {
	lease := newLease(address, "")
	lease.Spec.Owner, lease.Spec.Pool, lease.Spec.Interface = nil, pool, ""
	return lease
}

// allLeaseNames lists the names of every lease of the cluster.
func allLeaseNames(ctx context.Context) []string {
	GinkgoHelper()
	list, err := macClient.MacpoolV1alpha1().MacLeases(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	names := make([]string, 0, len(list.Items))
	for _, lease := range list.Items {
		names = append(names, lease.Namespace+"/"+lease.Name)
	}
	sort.Strings(names)
	return names
}

var _ = Describe("The kubectl plugin", func() {
	BeforeEach(buildPlugin)

	It("who-has names the holder of a MAC in any namespace for an admin, and in their own namespace only for a namespace user", func(ctx context.Context) {
		own := createNamespace(ctx, "plugin-own")
		other := createNamespace(ctx, "plugin-other")

		// A bound lease of a real Pod in the other namespace.
		pod, err := kubeClient.CoreV1().Pods(other).Create(ctx, newPod("holder", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		podMAC := podNetworks(pod)[0]["mac"].(string)
		Eventually(func(g Gomega) {
			lease, err := macClient.MacpoolV1alpha1().MacLeases(other).Get(ctx, leaseName(podMAC), metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(lease.Status.Phase).To(Equal(v1alpha1.MacLeasePhaseBound))
		}).WithContext(ctx).Should(Succeed())
		ownMAC := nextMAC()
		createLease(ctx, own, staticReservation(ownMAC, ""))

		// The admin finds it from any spelling of the address.
		result := kubectlMacpool(cluster.Kubeconfig(), "who-has", strings.ToUpper(leaseName(podMAC)))
		Expect(result.Code).To(Equal(0), result.Stderr)
		Expect(result.Stdout).To(ContainSubstring("MAC:        " + podMAC))
		Expect(result.Stdout).To(ContainSubstring("Namespace:  " + other))
		Expect(result.Stdout).To(ContainSubstring("Owner:      Pod/holder (apiVersion v1, UID " + string(pod.UID) + ")"))
		Expect(result.Stdout).To(ContainSubstring("Phase:      Bound"))
		Expect(result.Stdout).To(ContainSubstring("Pool:       default"))
		Expect(result.Stdout).To(ContainSubstring("Interface:  " + other + "/br1"))

		result = kubectlMacpool(cluster.Kubeconfig(), "who-has", nextMAC())
		Expect(result.Code).To(Equal(1))
		Expect(result.Stderr).To(ContainSubstring("in any namespace"))

		// A viewer of one namespace finds that namespace's lease...
		_, kubeconfig := userWithRole(ctx, "plugin-viewer-"+own, own, "view")
		Eventually(func() pluginResult {
			return kubectlMacpool(kubeconfig, "who-has", ownMAC, "-n", own)
		}).WithContext(ctx).Should(HaveField("Code", 0))
		result = kubectlMacpool(kubeconfig, "who-has", ownMAC, "-n", own)
		Expect(result.Stdout).To(ContainSubstring("Namespace:  " + own))
		Expect(result.Stdout).To(ContainSubstring("Owner:      <none> (static reservation)"))
		Expect(result.Stderr).To(ContainSubstring("searching namespace " + own + " only"))

		// ...and learns nothing of the other namespace's.
		result = kubectlMacpool(kubeconfig, "who-has", podMAC, "-n", own)
		Expect(result.Code).To(Equal(1))
		Expect(result.Stderr).To(ContainSubstring("no MacLease holds " + podMAC + " in namespace " + own + " (other namespaces were not searched)"))
		Expect(result.Stdout + result.Stderr).NotTo(ContainSubstring(other))
		Expect(result.Stdout + result.Stderr).NotTo(ContainSubstring("holder"))
		Expect(result.Stdout + result.Stderr).NotTo(ContainSubstring(string(pod.UID)))
	})

	It("usage shows every pool's capacity, allocated and free addresses with a bar, as a table and as JSON, to any user", func(ctx context.Context) {
		namespace := createNamespace(ctx, "plugin-usage")
		pool := createPoolFor(ctx, namespace, v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "0e:00:00:00:01:00", End: "0e:00:00:00:01:07"}}})
		createLease(ctx, namespace, staticReservation("0e:00:00:00:01:00", pool))
		createLease(ctx, namespace, staticReservation("0e:00:00:00:01:01", pool))

		Eventually(func(g Gomega) {
			result := kubectlMacpool(cluster.Kubeconfig(), "usage", "-o", "json")
			g.Expect(result.Code).To(Equal(0), result.Stderr)
			var report struct {
				Pools []struct {
					Name                                string
					Capacity, Allocated, Retained, Free int64
					Percent                             float64
				}
			}
			g.Expect(json.Unmarshal([]byte(result.Stdout), &report)).To(Succeed())
			g.Expect(report.Pools).To(ContainElement(And(
				HaveField("Name", pool), HaveField("Capacity", int64(8)), HaveField("Allocated", int64(2)),
				HaveField("Retained", int64(0)), HaveField("Free", int64(6)), HaveField("Percent", 25.0))))
			g.Expect(report.Pools).To(ContainElement(HaveField("Name", "default")))
		}).WithContext(ctx).Should(Succeed())

		// Every authenticated user may read pools, so a namespace user
		// sees the same table.
		_, kubeconfig := userWithRole(ctx, "plugin-usage-"+namespace, namespace, "view")
		result := kubectlMacpool(kubeconfig, "usage")
		Expect(result.Code).To(Equal(0), result.Stderr)
		Expect(result.Stdout).To(HavePrefix("POOL "))
		// POOL CAPACITY ALLOCATED RETAINED FREE USAGE
		Expect(result.Stdout).To(MatchRegexp(`(?m)^` + pool + `\s+8\s+2\s+0\s+6\s+\[#####\.{15}\] 25%$`))
		Expect(result.Stdout).To(MatchRegexp(`(?m)^default\s+\d+\s+\d+\s+\d+\s+\d+\s+\[[#.]{20}\] `))
	})

	It("free lists a pool's free addresses without leasing any, and tells a user who may not list every lease which right is missing", func(ctx context.Context) {
		namespace := createNamespace(ctx, "plugin-free")
		pool := createPoolFor(ctx, namespace, v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "0e:00:00:00:02:00", End: "0e:00:00:00:02:07"}}})
		createLease(ctx, namespace, staticReservation("0e:00:00:00:02:00", pool))
		createLease(ctx, namespace, staticReservation("0e:00:00:00:02:02", pool))
		before := allLeaseNames(ctx)

		result := kubectlMacpool(cluster.Kubeconfig(), "free", pool, "-n", "3")
		Expect(result.Code).To(Equal(0), result.Stderr)
		Expect(result.Stdout).To(Equal("0e:00:00:00:02:01\n0e:00:00:00:02:03\n0e:00:00:00:02:04\n"))
		Expect(allLeaseNames(ctx)).To(Equal(before), "free must lease nothing")

		result = kubectlMacpool(cluster.Kubeconfig(), "free", "no-such-pool")
		Expect(result.Code).To(Equal(1))
		Expect(result.Stderr).To(ContainSubstring(`MacPool "no-such-pool" not found`))

		_, kubeconfig := userWithRole(ctx, "plugin-free-"+namespace, namespace, "admin")
		result = kubectlMacpool(kubeconfig, "free", pool)
		Expect(result.Code).To(Equal(1))
		Expect(result.Stdout).To(BeEmpty())
		Expect(result.Stderr).To(ContainSubstring("you may not list macleases.macpool.kubemacpool.io in every namespace"))
		Expect(result.Stderr).To(ContainSubstring("kubectl auth can-i list macleases.macpool.kubemacpool.io -A"))
	})
})
