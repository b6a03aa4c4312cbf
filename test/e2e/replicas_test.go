package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/test/localcluster"
)

const (
	scalePods       = 2000
	scaleClients    = 16
	scaleNamespaces = 8
	// The default pool is narrowed to 16384 addresses so that the random
	// static reservations below often hit an address the webhook is about
	// to allocate, or just did.
	scaleRangeStart = "02:00:00:00:00:00"
	scaleRangeEnd   = "02:00:00:00:3f:ff"
	// staticNamespace holds the leases the clients create directly.
	staticNamespace = "static-reservations"
	// maxServerRetries is how often a create is repeated after a 5xx or a
	// timeout; anything else fails at once.
	maxServerRetries = 3
)

// scalePod is a pod the webhook gave a MAC.
type scalePod struct {
	namespace, name string
	uid             types.UID
	mac             string
}

// directLease is a static reservation a client created through replica.
type directLease struct {
	mac     string
	replica int
}

// scaleTally collects what the concurrent clients did.
type scaleTally struct {
	mu            sync.Mutex
	pods          []scalePod
	podRetries    int
	direct        []directLease
	directTries   [2]int
	conflicts     [2]int // AlreadyExists per replica
	directRetries int
	errs          []error
}

var _ = Describe("Two kubemacpool-apiserver replicas on one external etcd", Serial, Label("scale"), func() {
	var (
		replicated *localcluster.Cluster
		kube       kubernetes.Interface
		// aggregated reaches the replicas through kube-apiserver and the
		// Service balancer.
		aggregated versioned.Interface
		// replicas reach each replica directly.
		replicas [2]versioned.Interface
	)

	BeforeEach(func(ctx context.Context) {
		replicated = startOwnCluster("replicas", localcluster.Options{
			KubemacpoolReplicas: 2,
			KubemacpoolArgs: []string{
				"--range-start=" + scaleRangeStart,
				"--range-end=" + scaleRangeEnd,
				// A pod create retried after a server error may
				// leave a Reserved lease for nothing; it must go
				// within the spec.
				"--reservation-ttl=1m",
			},
		})

		kube = kubernetes.NewForConfigOrDie(scaleConfig(replicated.RESTConfig()))
		aggregated = versioned.NewForConfigOrDie(scaleConfig(replicated.RESTConfig()))
		for i := range replicas {
			replicas[i] = versioned.NewForConfigOrDie(scaleConfig(replicated.KubemacpoolReplicaConfig(i)))
		}
	}, NodeTimeout(6*time.Minute))

	It("give 2000 pods created by 16 clients distinct MACs racing direct leases through both replicas, bind one lease each, and release them all", func(ctx SpecContext) {
		namespaces := make([]string, scaleNamespaces)
		for i := range namespaces {
			namespaces[i] = fmt.Sprintf("scale-%d", i)
		}
		for _, name := range append(slices.Clone(namespaces), staticNamespace) {
			_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
		pool, err := mac.ParseRange(scaleRangeStart, scaleRangeEnd)
		Expect(err).NotTo(HaveOccurred())

		By("creating 2000 pods through the webhook (any replica) and as many static leases directly through replicas 1 and 0, from 16 clients")
		tally := &scaleTally{}
		perClient := scalePods / scaleClients
		started := time.Now()
		var clients sync.WaitGroup
		for client := range scaleClients {
			clients.Go(func() {
				defer GinkgoRecover()
				rng := rand.New(rand.NewPCG(uint64(client), uint64(started.UnixNano())))
				for j := range perClient {
					k := client*perClient + j
					pod, retries, err := createScalePod(ctx, kube, namespaces[k%len(namespaces)], fmt.Sprintf("pod-%02d-%03d", client, j))
					tally.recordPod(pod, retries, err)

					// Alternate the replicas, replica 1 first.
					replica := 1 - j%2
					address := pool.Offset(rng.Uint64N(pool.Size()))
					retries, err = createStaticLease(ctx, replicas[replica], address)
					tally.recordDirect(directLease{mac: address.String(), replica: replica}, retries, err)
				}
			})
		}
		clients.Wait()
		createTime := time.Since(started)
		GinkgoWriter.Printf("created %d pods and tried %d direct leases in %s: %.1f pods/s, %.1f requests/s; retries: %d pod, %d lease\n",
			len(tally.pods), tally.directTries[0]+tally.directTries[1], createTime.Round(time.Millisecond),
			float64(len(tally.pods))/createTime.Seconds(),
			float64(len(tally.pods)+tally.directTries[0]+tally.directTries[1])/createTime.Seconds(),
			tally.podRetries, tally.directRetries)
		for replica := range 2 {
			GinkgoWriter.Printf("direct leases through replica %d: %d tried, %d created, %d AlreadyExists\n",
				replica, tally.directTries[replica], tally.createdThrough(replica), tally.conflicts[replica])
		}
		Expect(tally.errs).To(BeEmpty(), "every pod creation succeeds, and every direct lease is created or refused with AlreadyExists")
		Expect(tally.pods).To(HaveLen(scalePods))

		By("checking that every pod's MAC is in the pool and distinct from every other pod's and every direct lease's")
		podByMAC := map[string]scalePod{}
		var problems []string
		for _, pod := range tally.pods {
			if other, taken := podByMAC[pod.mac]; taken {
				problems = append(problems, fmt.Sprintf("%s given to %s/%s and %s/%s", pod.mac, other.namespace, other.name, pod.namespace, pod.name))
			}
			podByMAC[pod.mac] = pod
			if !pool.Contains(mac.MustParse(pod.mac)) {
				problems = append(problems, fmt.Sprintf("%s of %s/%s is outside the pool %s", pod.mac, pod.namespace, pod.name, pool))
			}
		}
		directMACs := map[string]int{}
		for _, lease := range tally.direct {
			if _, twice := directMACs[lease.mac]; twice {
				problems = append(problems, fmt.Sprintf("direct lease %s created twice", lease.mac))
			}
			directMACs[lease.mac] = lease.replica
			if pod, taken := podByMAC[lease.mac]; taken {
				problems = append(problems, fmt.Sprintf("%s leased directly through replica %d and given to pod %s/%s", lease.mac, lease.replica, pod.namespace, pod.name))
			}
		}
		Expect(firstFew(problems)).To(BeEmpty())

		By("checking that both replicas served direct creates and see each other's leases")
		for replica := range 2 {
			Expect(tally.createdThrough(replica)).To(BeNumerically(">", 0), "direct creates through replica %d", replica)
			other := 1 - replica
			lease := tally.firstThrough(replica)
			got, err := replicas[other].MacpoolV1alpha1().MacLeases(staticNamespace).Get(ctx, leaseName(lease.mac), metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred(), "lease %s created through replica %d, read through replica %d", lease.mac, replica, other)
			Expect(got.Spec.MACAddress).To(Equal(lease.mac))
			Expect(got.Spec.Owner).To(BeNil())
		}

		By("waiting until every pod's MAC has exactly one lease, in its namespace, Bound to the pod")
		bindStarted := time.Now()
		Eventually(func(g Gomega) {
			leases, err := aggregated.MacpoolV1alpha1().MacLeases("").List(ctx, metav1.ListOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			bound, problems := podLeaseProblems(leases.Items, podByMAC, namespaces)
			GinkgoWriter.Printf("%s after the last create: %d/%d pod leases Bound\n", time.Since(bindStarted).Round(time.Second), bound, scalePods)
			g.Expect(firstFew(problems)).To(BeEmpty())
		}).WithContext(ctx).WithTimeout(5 * time.Minute).WithPolling(3 * time.Second).Should(Succeed())
		GinkgoWriter.Printf("all %d pod leases Bound %s after the last create\n", scalePods, time.Since(bindStarted).Round(time.Millisecond))

		By("checking that a cluster-wide list through each replica gives the same leases, no MAC twice")
		Eventually(func(g Gomega) {
			var views [2]map[string]string
			for replica := range 2 {
				leases, err := replicas[replica].MacpoolV1alpha1().MacLeases("").List(ctx, metav1.ListOptions{})
				g.Expect(err).NotTo(HaveOccurred())
				views[replica] = map[string]string{}
				for _, lease := range leases.Items {
					g.Expect(views[replica]).NotTo(HaveKey(lease.Spec.MACAddress), "replica %d lists %s twice", replica, lease.Spec.MACAddress)
					views[replica][lease.Spec.MACAddress] = lease.Namespace + "/" + string(lease.Status.Phase)
				}
				g.Expect(views[replica]).To(HaveLen(scalePods+len(tally.direct)), "replica %d: every pod lease and every direct lease", replica)
			}
			g.Expect(views[0]).To(Equal(views[1]))
		}).WithContext(ctx).Should(Succeed())

		By("deleting every pod and waiting until no lease owned by a Pod remains")
		releaseStarted := time.Now()
		// kube-apiserver deletes a collection one object at a time, so
		// the namespaces go in parallel.
		deleteErrs := make([]error, len(namespaces))
		var deletes sync.WaitGroup
		for i, namespace := range namespaces {
			deletes.Go(func() {
				deleteErrs[i] = kube.CoreV1().Pods(namespace).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}, metav1.ListOptions{})
			})
		}
		deletes.Wait()
		Expect(errors.Join(deleteErrs...)).NotTo(HaveOccurred())
		GinkgoWriter.Printf("deleted %d pods in %s\n", scalePods, time.Since(releaseStarted).Round(time.Millisecond))
		Eventually(func(g Gomega) {
			leases, err := aggregated.MacpoolV1alpha1().MacLeases("").List(ctx, metav1.ListOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			podOwned, static := 0, 0
			for _, lease := range leases.Items {
				switch {
				case lease.Spec.Owner != nil && lease.Spec.Owner.Kind == "Pod":
					podOwned++
				case lease.Spec.Owner == nil && lease.Namespace == staticNamespace:
					static++
				}
			}
			GinkgoWriter.Printf("%s after the deletes: %d pod leases left\n", time.Since(releaseStarted).Round(time.Second), podOwned)
			g.Expect(podOwned).To(BeZero(), "leases owned by a Pod")
			g.Expect(static).To(Equal(len(tally.direct)), "the static reservations stay")
		}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(3 * time.Second).Should(Succeed())
		GinkgoWriter.Printf("all pod leases released %s after the deletes began\n", time.Since(releaseStarted).Round(time.Millisecond))

		for replica := range 2 {
			logKubemacpoolMetrics(ctx, replicated.KubemacpoolReplicaMetricsURL(replica), replica)
		}
	}, SpecTimeout(10*time.Minute))
})

// scaleConfig lifts client-side rate limits, which would otherwise measure
// client-go instead of the servers, and bounds every request.
func scaleConfig(config *rest.Config) *rest.Config {
	config.QPS = 1000
	config.Burst = 2000
	config.Timeout = time.Minute
	return config
}

// createScalePod creates a pod with one network and returns it with the MAC
// the webhook gave it.
func createScalePod(ctx context.Context, kube kubernetes.Interface, namespace, name string) (scalePod, int, error) {
	var created *corev1.Pod
	retries, err := withServerRetries(ctx, func(attempt int) error {
		var err error
		created, err = kube.CoreV1().Pods(namespace).Create(ctx, newPod(name, `[{"name":"br1"}]`), metav1.CreateOptions{})
		if attempt > 0 && apierrors.IsAlreadyExists(err) {
			// The attempt that seemed to fail went through after all.
			created, err = kube.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		}
		return err
	})
	if err != nil {
		return scalePod{}, retries, fmt.Errorf("creating pod %s/%s: %w", namespace, name, err)
	}
	var networks []struct {
		MAC string `json:"mac"`
	}
	if err := json.Unmarshal([]byte(created.Annotations[networksAnnotation]), &networks); err != nil || len(networks) != 1 {
		return scalePod{}, retries, fmt.Errorf("pod %s/%s: networks annotation %q: %v", namespace, name, created.Annotations[networksAnnotation], err)
	}
	address, err := mac.ParseUnicast(networks[0].MAC)
	if err != nil {
		return scalePod{}, retries, fmt.Errorf("pod %s/%s: MAC %q: %w", namespace, name, networks[0].MAC, err)
	}
	return scalePod{namespace: namespace, name: name, uid: created.UID, mac: address.String()}, retries, nil
}

// createStaticLease reserves address without an owner through one replica.
// AlreadyExists is expected and returned as it is.
func createStaticLease(ctx context.Context, replica versioned.Interface, address mac.Address) (int, error) {
	lease := &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: address.Name()},
		Spec:       v1alpha1.MacLeaseSpec{MACAddress: address.String(), Interface: staticNamespace + "/replicas-e2e"},
	}
	return withServerRetries(ctx, func(int) error {
		_, err := replica.MacpoolV1alpha1().MacLeases(staticNamespace).Create(ctx, lease, metav1.CreateOptions{})
		return err
	})
}

// withServerRetries runs op until it succeeds, fails for a reason other than
// a server error or a timeout, or has been retried maxServerRetries times,
// and returns the number of retries.
func withServerRetries(ctx context.Context, op func(attempt int) error) (int, error) {
	for attempt := 0; ; attempt++ {
		err := op(attempt)
		if err == nil || attempt == maxServerRetries || ctx.Err() != nil || !isServerFailure(err) {
			return attempt, err
		}
	}
}

// isServerFailure tells a 5xx or a timeout, after which the same request may
// well succeed, from a refusal.
func isServerFailure(err error) bool {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Code >= 500
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

func (t *scaleTally) recordPod(pod scalePod, retries int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.podRetries += retries
	if err != nil {
		t.errs = append(t.errs, err)
		return
	}
	t.pods = append(t.pods, pod)
}

func (t *scaleTally) recordDirect(lease directLease, retries int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.directRetries += retries
	t.directTries[lease.replica]++
	switch {
	case err == nil:
		t.direct = append(t.direct, lease)
	case apierrors.IsAlreadyExists(err):
		t.conflicts[lease.replica]++
	default:
		t.errs = append(t.errs, fmt.Errorf("creating lease %s through replica %d: %w", lease.mac, lease.replica, err))
	}
}

func (t *scaleTally) createdThrough(replica int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	count := 0
	for _, lease := range t.direct {
		if lease.replica == replica {
			count++
		}
	}
	return count
}

func (t *scaleTally) firstThrough(replica int) directLease {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, lease := range t.direct {
		if lease.replica == replica {
			return lease
		}
	}
	return directLease{}
}

// podLeaseProblems checks the leases of a cluster-wide list against the
// pods: each pod's MAC has one lease, in the pod's namespace, Bound to the
// pod, and the pods' namespaces hold no other lease. It returns how many
// pod leases are Bound, and what is wrong.
func podLeaseProblems(leases []v1alpha1.MacLease, podByMAC map[string]scalePod, namespaces []string) (int, []string) {
	var problems []string
	byMAC := map[string]v1alpha1.MacLease{}
	for _, lease := range leases {
		if _, twice := byMAC[lease.Spec.MACAddress]; twice {
			problems = append(problems, fmt.Sprintf("%s is listed twice", lease.Spec.MACAddress))
		}
		byMAC[lease.Spec.MACAddress] = lease
		if slices.Contains(namespaces, lease.Namespace) {
			if _, ours := podByMAC[lease.Spec.MACAddress]; !ours {
				problems = append(problems, fmt.Sprintf("lease %s/%s belongs to no created pod (owner %+v, phase %s)", lease.Namespace, lease.Name, lease.Spec.Owner, lease.Status.Phase))
			}
		}
	}
	bound := 0
	for address, pod := range podByMAC {
		lease, found := byMAC[address]
		switch {
		case !found:
			problems = append(problems, fmt.Sprintf("pod %s/%s: no lease of %s", pod.namespace, pod.name, address))
		case lease.Namespace != pod.namespace:
			problems = append(problems, fmt.Sprintf("pod %s/%s: lease of %s is in namespace %s", pod.namespace, pod.name, address, lease.Namespace))
		case lease.Spec.Owner == nil || lease.Spec.Owner.Kind != "Pod" || lease.Spec.Owner.Name != pod.name:
			problems = append(problems, fmt.Sprintf("pod %s/%s: lease of %s is owned by %+v", pod.namespace, pod.name, address, lease.Spec.Owner))
		case lease.Status.Phase != v1alpha1.MacLeasePhaseBound:
			problems = append(problems, fmt.Sprintf("pod %s/%s: lease of %s is %q", pod.namespace, pod.name, address, lease.Status.Phase))
		case len(lease.OwnerReferences) != 1 || lease.OwnerReferences[0].UID != pod.uid:
			problems = append(problems, fmt.Sprintf("pod %s/%s: lease of %s has owner references %+v, want the pod's UID %s", pod.namespace, pod.name, address, lease.OwnerReferences, pod.uid))
		default:
			bound++
		}
	}
	slices.Sort(problems)
	return bound, problems
}

// firstFew keeps a failure message readable when thousands of items fail
// alike.
func firstFew(problems []string) []string {
	const shown = 10
	if len(problems) <= shown {
		return problems
	}
	return append(slices.Clone(problems[:shown]), fmt.Sprintf("... and %d more", len(problems)-shown))
}

// logKubemacpoolMetrics writes the allocation, admission and controller
// counters of one replica to the spec's log, which shows which replica led
// the controller and how often allocations collided.
func logKubemacpoolMetrics(ctx context.Context, url string, replica int) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		GinkgoWriter.Printf("replica %d metrics: %v\n", replica, err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		GinkgoWriter.Printf("replica %d metrics: %v\n", replica, err)
		return
	}
	defer resp.Body.Close()
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for scanner.Scan() {
		line := scanner.Text()
		for _, name := range []string{"kmp_allocation_duration_seconds_count", "kmp_admission_requests_total", "kmp_lease_operations_total", "kmp_mac_collisions", "kmp_pool_allocated"} {
			if strings.HasPrefix(line, name) {
				GinkgoWriter.Printf("replica %d: %s\n", replica, line)
			}
		}
	}
}
