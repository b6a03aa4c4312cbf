package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/test/localcluster"
)

// podWebhook is the webhook whose calls the specs below count.
const podWebhook = "mutatepods.kubemacpool.io"

// On a control plane of its own: the server runs with the original
// Kubemacpool's command line, no other spec's Pods move the admission
// counters, and the last spec stops the server for good.
var _ = Describe("The original's command line and what the webhooks never see", Ordered, Label("compat"), func() {
	var (
		own        *localcluster.Cluster
		kube       kubernetes.Interface
		macs       versioned.Interface
		vms        dynamic.NamespaceableResourceInterface
		metricsURL string
		namespace  string
	)

	BeforeAll(func(ctx context.Context) {
		port := freeLocalPort()
		metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
		// Appended after the launcher's own --metric-addr: the last of the
		// two names wins, as for a repeated flag.
		own = startOwnCluster("compat", localcluster.Options{KubemacpoolArgs: []string{
			fmt.Sprintf("--metrics-addr=127.0.0.1:%d", port), "--wait-time=30", "--v=debug",
		}})
		config := own.RESTConfig()
		config.Timeout = time.Minute
		kube = kubernetes.NewForConfigOrDie(config)
		macs = versioned.NewForConfigOrDie(config)
		vms = dynamic.NewForConfigOrDie(config).Resource(vmResource)
		created, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "compat-"}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		namespace = created.Name
	}, NodeTimeout(8*time.Minute))

	It("starts with --metrics-addr, --wait-time=30 and --v=debug, applies each and says it is deprecated", func(ctx context.Context) {
		By("serving metrics where --metrics-addr says")
		// The pool gauges appear once the allocator has loaded the pools.
		Eventually(func() bool {
			return strings.Contains(httpGet(ctx, metricsURL), `kmp_pool_capacity{pool="default"}`)
		}).WithContext(ctx).Should(BeTrue(), "kmp_pool_capacity at %s", metricsURL)

		By("warning about each of the original's flags, and logging at debug verbosity")
		log := readFile(filepath.Join(own.LogDir(), "kubemacpool-apiserver.log"))
		Expect(log).To(ContainSubstring("Flag --metrics-addr has been deprecated, use --metric-addr instead"))
		Expect(log).To(ContainSubstring("Flag --wait-time has been deprecated, use --reservation-ttl instead"))
		Expect(log).To(ContainSubstring("Flag --v=debug has been deprecated, use --v=4 instead"))
		// k8s.io/apiserver logs every request at verbosity 3.
		Expect(log).To(ContainSubstring(`"HTTP" verb=`))

		By("reserving a MAC for 30 s when the Pod that asked for it is refused after the webhook")
		invalid := newPod("refused-after-webhook", `[{"name":"br1"}]`)
		invalid.Spec.Containers = nil
		_, err := kube.CoreV1().Pods(namespace).Create(ctx, invalid, metav1.CreateOptions{})
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "pod validation refuses a pod without containers: %v", err)
		list, err := macs.MacpoolV1alpha1().MacLeases(namespace).List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(list.Items).To(HaveLen(1))
		lease := list.Items[0]
		Expect(lease.Status.Phase).To(Equal(v1alpha1.MacLeasePhaseReserved))
		Expect(lease.Status.ExpiresAt).NotTo(BeNil())
		Expect(lease.Status.ExpiresAt.Sub(lease.CreationTimestamp.Time)).To(BeNumerically("~", 30*time.Second, 2*time.Second))
	})

	It("never calls the Pod webhook for a Pod without networks, and calls it once for a Pod with networks", func(ctx context.Context) {
		calls := func() float64 {
			return sumSamples(kubeAPIServerMetrics(ctx, kube), "apiserver_admission_webhook_request_total", `name="`+podWebhook+`"`)
		}
		excluded := func() float64 {
			return sumSamples(kubeAPIServerMetrics(ctx, kube), "apiserver_admission_match_condition_exclusions_total", `name="`+podWebhook+`"`)
		}
		served := func() float64 {
			return sumSamples(httpGet(ctx, metricsURL), "kmp_admission_requests_total", `resource="pods"`)
		}
		callsBefore, excludedBefore, servedBefore := calls(), excluded(), served()

		plain := newPod("no-networks", "")
		plain.Annotations = map[string]string{"example.com/unrelated": "yes"}
		_, err := kube.CoreV1().Pods(namespace).Create(ctx, plain, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(excluded()-excludedBefore).To(BeEquivalentTo(1), "kube-apiserver excluded the pod by the webhook's matchConditions")
		Expect(calls()-callsBefore).To(BeZero(), "kube-apiserver called %s for a pod without networks", podWebhook)

		withNetworks, err := kube.CoreV1().Pods(namespace).Create(ctx, newPod("with-networks", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(withNetworks)[0]).To(HaveKey("mac"))
		Expect(calls() - callsBefore).To(BeEquivalentTo(1))
		Expect(excluded() - excludedBefore).To(BeEquivalentTo(1))
		// The server counts a request when it answers; had it seen the
		// first pod as well, it would count two.
		Eventually(func() float64 { return served() - servedBefore }).WithContext(ctx).Should(BeEquivalentTo(1))
		Consistently(func() float64 { return served() - servedBefore }).WithContext(ctx).WithTimeout(2 * time.Second).Should(BeEquivalentTo(1))
	})

	// Last: it leaves the server stopped.
	It("with the server down, still creates Pods without networks and lets a deleted VirtualMachine go, and refuses what needs a MAC", func(ctx context.Context) {
		const finalizer = "e2e.kubemacpool.io/hold"
		vm := newVM("held", vmInterface{name: "default", masquerade: true})
		vm.Finalizers = []string{finalizer}
		_, err := vms.Namespace(namespace).Create(ctx, toUnstructured(vm), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(vms.Namespace(namespace).Delete(ctx, "held", metav1.DeleteOptions{})).To(Succeed())

		Expect(own.StopKubemacpool()).To(Succeed())

		By("creating a Pod without networks")
		_, err = kube.CoreV1().Pods(namespace).Create(ctx, newPodWithoutNetworks("while-down"), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		By("removing the last finalizer of a VirtualMachine being deleted")
		patch := fmt.Sprintf(`[{"op":"test","path":"/metadata/finalizers","value":[%q]},{"op":"remove","path":"/metadata/finalizers"}]`, finalizer)
		_, err = vms.Namespace(namespace).Patch(ctx, "held", types.JSONPatchType, []byte(patch), metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() bool {
			_, err := vms.Namespace(namespace).Get(ctx, "held", metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		}).WithContext(ctx).Should(BeTrue())

		By("refusing a Pod with networks and a new VirtualMachine: failurePolicy Fail")
		_, err = kube.CoreV1().Pods(namespace).Create(ctx, newPod("needs-a-mac", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).To(MatchError(ContainSubstring(podWebhook)))
		_, err = vms.Namespace(namespace).Create(ctx, toUnstructured(newVM("needs-macs", vmInterface{name: "default", masquerade: true})), metav1.CreateOptions{})
		Expect(err).To(MatchError(ContainSubstring("mutatevirtualmachines.kubemacpool.io")))
	})
})

// newPodWithoutNetworks is a Pod no webhook of ours is for.
func newPodWithoutNetworks(name string) *corev1.Pod {
	pod := newPod(name, "")
	pod.Annotations = nil
	return pod
}

// freeLocalPort returns a port on 127.0.0.1 that was free a moment ago.
func freeLocalPort() int {
	GinkgoHelper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port
}

func httpGet(ctx context.Context, url string) string {
	GinkgoHelper()
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	Expect(err).NotTo(HaveOccurred())
	response, err := http.DefaultClient.Do(request)
	Expect(err).NotTo(HaveOccurred())
	defer response.Body.Close()
	Expect(response.StatusCode).To(Equal(http.StatusOK), url)
	body, err := io.ReadAll(response.Body)
	Expect(err).NotTo(HaveOccurred())
	return string(body)
}

func readFile(path string) string {
	GinkgoHelper()
	content, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	return string(content)
}

// kubeAPIServerMetrics reads kube-apiserver's /metrics as the admin.
func kubeAPIServerMetrics(ctx context.Context, kube kubernetes.Interface) string {
	GinkgoHelper()
	body, err := kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	Expect(err).NotTo(HaveOccurred())
	return string(body)
}

// sumSamples adds up the samples of metric whose labels contain label.
func sumSamples(text, metric, label string) float64 {
	GinkgoHelper()
	total := 0.0
	scanner := bufio.NewScanner(strings.NewReader(text))
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for scanner.Scan() {
		line := scanner.Text()
		if !strings.HasPrefix(line, metric+"{") || !strings.Contains(line, label) {
			continue
		}
		fields := strings.Fields(line)
		value, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		Expect(err).NotTo(HaveOccurred(), line)
		total += value
	}
	return total
}
