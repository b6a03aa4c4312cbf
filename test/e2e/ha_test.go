package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/test/localcluster"
)

const (
	haReplicas    = 3
	haEtcdMembers = 3
	haPods        = 1000
	haCreators    = 16
	// haKillAfter is how many pods exist when a replica and an etcd member
	// are killed: a fixed share of the run, not a moment picked for being
	// quiet.
	haKillAfter = haPods * 3 / 10
	// haReservationTTL bounds how long a lease left by a cut webhook call
	// lives.
	haReservationTTL = 30 * time.Second
	haOutage         = 30 * time.Second
	// haWebhookTimeout is the timeoutSeconds of kubemacpool-mutator.
	haWebhookTimeout = 10 * time.Second
)

// cutWebhookCall tells an admission webhook call that broke because the
// replica serving it died under it: kube-apiserver does not repeat webhook
// calls, so it answers the create with the transport error. Nothing else
// counts as cut.
func cutWebhookCall(err error) bool {
	if err == nil {
		return false
	}
	message := err.Error()
	if !strings.Contains(message, `failed calling webhook "mutatepods.kubemacpool.io"`) {
		return false
	}
	for _, cut := range []string{": EOF", "connection reset by peer", "broken pipe", "http2: client connection lost", "use of closed network connection", "unexpected EOF"} {
		if strings.Contains(message, cut) {
			return true
		}
	}
	return false
}

// haTally collects what the creators did.
type haTally struct {
	mu       sync.Mutex
	pods     []scalePod
	cuts     []string // cut webhook calls, repeated by the creator
	failures []error  // anything else
}

var _ = Describe("High availability: 3 replicas on a 3-member etcd cluster", Serial, Label("ha"), func() {
	var (
		ha         *localcluster.Cluster
		kube       kubernetes.Interface
		aggregated versioned.Interface
	)

	BeforeEach(func(ctx context.Context) {
		ha = startOwnCluster("ha", localcluster.Options{
			KubemacpoolReplicas:    haReplicas,
			KubemacpoolEtcdMembers: haEtcdMembers,
			KubemacpoolArgs:        []string{"--reservation-ttl=" + haReservationTTL.String()},
		})
		kube = kubernetes.NewForConfigOrDie(scaleConfig(ha.RESTConfig()))
		aggregated = versioned.NewForConfigOrDie(scaleConfig(ha.RESTConfig()))
	}, NodeTimeout(4*time.Minute))

	It("creates 1000 pods with unique MACs while a replica and the etcd leader are SIGKILLed, and survives a 30 s etcd outage", func(ctx SpecContext) {
		specStarted := time.Now()
		const namespace = "ha"
		_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		By(fmt.Sprintf("creating %d pods from %d creators; at %d pods, SIGKILL the replica carrying webhook traffic and the etcd raft leader, then restart both", haPods, haCreators, haKillAfter))
		tally := &haTally{}
		var created, next atomic.Int64
		killNow := make(chan struct{})
		var killOnce sync.Once
		started := time.Now()
		var creators sync.WaitGroup
		for range haCreators {
			creators.Go(func() {
				defer GinkgoRecover()
				for {
					k := next.Add(1) - 1
					if k >= haPods || ctx.Err() != nil {
						return
					}
					_, err := tally.createPod(ctx, kube, namespace, fmt.Sprintf("pod-%04d", k))
					if err == nil && created.Add(1) == haKillAfter {
						killOnce.Do(func() { close(killNow) })
					}
				}
			})
		}

		type killReport struct {
			replica, member int
			killedAt        time.Time
			at              time.Duration
			restartedAfter  time.Duration
			err             error
		}
		killed := make(chan killReport, 1)
		go func() {
			defer GinkgoRecover()
			select {
			case <-killNow:
			case <-ctx.Done():
				killed <- killReport{err: ctx.Err()}
				return
			}
			report := killReport{at: time.Since(started)}
			// The victim is the replica whose webhook counter moves: it
			// serves the webhook connection of kube-apiserver.
			report.replica = busiestReplica(ctx, ha)
			report.member, report.err = ha.KubemacpoolEtcdLeader(ctx)
			if report.err != nil {
				killed <- report
				return
			}
			var kills sync.WaitGroup
			var killErrs [2]error
			kills.Go(func() { killErrs[0] = ha.KillKubemacpoolReplica(report.replica) })
			kills.Go(func() { killErrs[1] = ha.KillKubemacpoolEtcdMember(report.member) })
			kills.Wait()
			if report.err = errors.Join(killErrs[:]...); report.err != nil {
				killed <- report
				return
			}
			killedAt := time.Now()
			report.killedAt = killedAt
			// Down long enough for raft to elect a new leader and for
			// creates to run on the survivors; a Deployment or a
			// systemd unit would take about as long to restart them.
			time.Sleep(3 * time.Second)
			var restartErrs [2]error
			kills.Go(func() { restartErrs[0] = ha.RestartKubemacpoolReplica(ctx, report.replica) })
			kills.Go(func() { restartErrs[1] = ha.RestartKubemacpoolEtcdMember(ctx, report.member) })
			kills.Wait()
			report.restartedAfter = time.Since(killedAt)
			report.err = errors.Join(restartErrs[:]...)
			killed <- report
		}()

		creators.Wait()
		createTime := time.Since(started)
		kill := <-killed
		Expect(kill.err).NotTo(HaveOccurred(), "killing and restarting replica %d and etcd member %d", kill.replica, kill.member)
		killedAt := kill.killedAt

		summary := fmt.Sprintf("%d pods in %s (%.1f pods/s) by %d creators; killed replica %d and etcd leader member %d at %s, both back %s later; cut webhook calls: %d; other failures: %d",
			len(tally.pods), createTime.Round(time.Millisecond), float64(len(tally.pods))/createTime.Seconds(), haCreators,
			kill.replica, kill.member, kill.at.Round(time.Millisecond), kill.restartedAfter.Round(time.Millisecond), len(tally.cuts), len(tally.failures))
		GinkgoWriter.Println(summary)
		for _, cut := range tally.cuts {
			GinkgoWriter.Println("cut webhook call:", cut)
		}
		AddReportEntry("ha: creation under kills", summary)
		AddReportEntry("ha: cut webhook calls", len(tally.cuts))
		Expect(firstFewErrors(tally.failures)).To(BeEmpty(), "no create fails other than by a webhook call cut by the SIGKILL")
		Expect(len(tally.cuts)).To(BeNumerically("<=", haCreators), "at most one call per creator can be in flight on the killed replica")
		Expect(tally.pods).To(HaveLen(haPods))

		By("checking that all pods exist, with distinct MACs")
		pods, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(pods.Items).To(HaveLen(haPods))
		podByMAC := map[string]scalePod{}
		var duplicates []string
		for _, pod := range pods.Items {
			address := haPodMAC(pod)
			if other, taken := podByMAC[address]; taken {
				duplicates = append(duplicates, fmt.Sprintf("%s given to %s and %s", address, other.name, pod.Name))
			}
			podByMAC[address] = scalePod{namespace: namespace, name: pod.Name, uid: pod.UID, mac: address}
		}
		Expect(firstFew(duplicates)).To(BeEmpty(), "duplicate MACs")

		By("waiting until every pod's MAC has exactly one lease, Bound to it, and no other lease is left (reservations of cut calls expire)")
		checkStarted := time.Now()
		Eventually(func(g Gomega) {
			leases, err := aggregated.MacpoolV1alpha1().MacLeases(namespace).List(ctx, metav1.ListOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			bound, problems := podLeaseProblems(leases.Items, podByMAC, []string{namespace})
			GinkgoWriter.Printf("%s: %d/%d pod leases Bound, %d leases in all, %d problems\n", time.Since(checkStarted).Round(time.Second), bound, haPods, len(leases.Items), len(problems))
			g.Expect(firstFew(problems)).To(BeEmpty())
			g.Expect(leases.Items).To(HaveLen(haPods))
		}).WithContext(ctx).WithTimeout(haReservationTTL + 90*time.Second).WithPolling(3 * time.Second).Should(Succeed())
		// A cut call may have stored its lease before the replica died;
		// the reservation TTL after the kill, nothing of it may be left.
		if wait := time.Until(killedAt.Add(haReservationTTL + 5*time.Second)); wait > 0 {
			GinkgoWriter.Printf("waiting %s until the reservation TTL has passed since the kill\n", wait.Round(time.Second))
			time.Sleep(wait)
			leases, err := aggregated.MacpoolV1alpha1().MacLeases(namespace).List(ctx, metav1.ListOptions{})
			Expect(err).NotTo(HaveOccurred())
			_, problems := podLeaseProblems(leases.Items, podByMAC, []string{namespace})
			Expect(firstFew(problems)).To(BeEmpty())
			Expect(leases.Items).To(HaveLen(haPods))
		}
		repeated, wentThrough := countLogLines(ha.LogDir(), "Repeating a lease create whose outcome is unknown"), countLogLines(ha.LogDir(), "A lease create with an unknown outcome had gone through")
		storage := fmt.Sprintf("lease creates repeated after an unknown outcome: %d (of which found already stored: %d)", repeated, wentThrough)
		GinkgoWriter.Println(storage)
		AddReportEntry("ha: storage retries", storage)

		By("stopping all three kubemacpool etcd members for 30 s")
		pids := make([]int, haReplicas)
		for i := range pids {
			pids[i] = ha.KubemacpoolReplicaPID(i)
			Expect(pids[i]).NotTo(BeZero(), "replica %d runs", i)
		}
		Expect(ha.StopKubemacpoolEtcd()).To(Succeed())
		outageStarted := time.Now()

		// A pod create needs a lease: it must fail, with a clear
		// message, before the webhook timeout, not hang past it.
		createStarted := time.Now()
		_, err = kube.CoreV1().Pods(namespace).Create(ctx, newPod("during-outage", `[{"name":"br1"}]`), metav1.CreateOptions{})
		createTook := time.Since(createStarted)
		GinkgoWriter.Printf("pod create during the outage: %v after %s\n", err, createTook.Round(time.Millisecond))
		AddReportEntry("ha: pod create during the etcd outage", fmt.Sprintf("failed after %s: %v", createTook.Round(time.Millisecond), err))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("the MAC lease storage is unavailable"))
		Expect(createTook).To(BeNumerically("<", haWebhookTimeout))

		// Lease reads: from the watch cache they may succeed; from etcd
		// they fail with a status, within the request timeout.
		// The server ends a request at its ?timeout= (5 s here) with a
		// status; the client waits longer so that it sees that answer.
		readConfig := ha.RESTConfig()
		readConfig.Timeout = 0 // else the client sets ?timeout= itself
		reader := versioned.NewForConfigOrDie(readConfig)
		read := func(request func(context.Context) error) (error, time.Duration) {
			readCtx, cancelRead := context.WithTimeout(ctx, 15*time.Second)
			defer cancelRead()
			readStarted := time.Now()
			err := request(readCtx)
			return err, time.Since(readStarted)
		}
		getErr, getTook := read(func(ctx context.Context) error {
			return reader.MacpoolV1alpha1().RESTClient().Get().Namespace(namespace).Resource("macleases").
				Name(leaseName(tally.pods[0].mac)).Param("timeout", "5s").Do(ctx).Error()
		})
		listErr, listTook := read(func(ctx context.Context) error {
			_, err := reader.MacpoolV1alpha1().MacLeases(namespace).List(ctx, metav1.ListOptions{ResourceVersion: "0", Limit: 10})
			return err
		})
		readTook := max(getTook, listTook)
		reads := fmt.Sprintf("get: %v after %s; list from the watch cache: %v after %s", errOrOK(getErr), getTook.Round(time.Millisecond), errOrOK(listErr), listTook.Round(time.Millisecond))
		GinkgoWriter.Println("lease reads during the outage:", reads)
		AddReportEntry("ha: lease reads during the etcd outage", reads)
		Expect(readTook).To(BeNumerically("<", 15*time.Second))
		for _, err := range []error{getErr, listErr} {
			if err != nil {
				var status apierrors.APIStatus
				Expect(errors.As(err, &status)).To(BeTrue(), "a lease read fails with an API status, not a hang or a broken connection: %v", err)
			}
		}

		// The probes of artifacts/deploy, as the kubelet makes them (it
		// does not verify the serving certificate): liveness must pass,
		// or the kubelet would restart every replica for etcd's fault;
		// readiness must fail, so the Service stops sending traffic.
		for i := range haReplicas {
			Expect(probe(ctx, ha.KubemacpoolReplicaURL(i)+"/livez?exclude=etcd")).To(Succeed(), "replica %d liveness during the outage", i)
			Expect(probe(ctx, ha.KubemacpoolReplicaURL(i)+"/readyz")).NotTo(Succeed(), "replica %d readiness during the outage", i)
		}
		GinkgoWriter.Printf("during the outage: /livez?exclude=etcd passes and /readyz fails on every replica; /livez: %v\n", probe(ctx, ha.KubemacpoolReplicaURL(0)+"/livez"))

		time.Sleep(time.Until(outageStarted.Add(haOutage)))
		for i := range pids {
			Expect(ha.KubemacpoolReplicaPID(i)).To(Equal(pids[i]), "replica %d is still the same process after %s without etcd", i, haOutage)
		}

		By("starting etcd again: within a minute every replica is ready and new pods get unique MACs")
		Expect(ha.StartKubemacpoolEtcd(ctx)).To(Succeed())
		recoveryStarted := time.Now()
		for i := range haReplicas {
			Eventually(ha.KubemacpoolReplicaReadyzCheck(i)).WithContext(ctx).WithTimeout(time.Minute).WithPolling(500*time.Millisecond).Should(Succeed(), "replica %d /readyz", i)
		}
		recovered := time.Since(recoveryStarted)
		for i := range pids {
			Expect(ha.KubemacpoolReplicaPID(i)).To(Equal(pids[i]), "replica %d never restarted", i)
		}
		for k := range 20 {
			var pod *corev1.Pod
			// The first creates after the outage may still meet a
			// replica whose etcd client is reconnecting: repeated like
			// a controller would, for at most a minute.
			Eventually(func() error {
				var err error
				pod, err = kube.CoreV1().Pods(namespace).Create(ctx, newPod(fmt.Sprintf("after-outage-%02d", k), `[{"name":"br1"}]`), metav1.CreateOptions{})
				if apierrors.IsAlreadyExists(err) {
					pod, err = kube.CoreV1().Pods(namespace).Get(ctx, fmt.Sprintf("after-outage-%02d", k), metav1.GetOptions{})
				}
				return err
			}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())
			address := haPodMAC(*pod)
			Expect(podByMAC).NotTo(HaveKey(address), "new pod %s got a MAC already in use", pod.Name)
			podByMAC[address] = scalePod{namespace: namespace, name: pod.Name, uid: pod.UID, mac: address}
		}
		outage := fmt.Sprintf("every replica ready %s after etcd came back; 20 new pods got unique MACs; spec took %s",
			recovered.Round(time.Millisecond), time.Since(specStarted).Round(time.Second))
		GinkgoWriter.Println(outage)
		AddReportEntry("ha: recovery", outage)
		for i := range haReplicas {
			logKubemacpoolMetrics(ctx, ha.KubemacpoolReplicaMetricsURL(i), i)
		}
	}, SpecTimeout(6*time.Minute))
})

// createPod creates one pod, repeating a create whose webhook call was cut
// by a dying replica, as the ReplicaSet controller would, and records the
// outcome.
func (t *haTally) createPod(ctx context.Context, kube kubernetes.Interface, namespace, name string) (scalePod, error) {
	for attempt := 0; ; attempt++ {
		created, err := kube.CoreV1().Pods(namespace).Create(ctx, newPod(name, `[{"name":"br1"}]`), metav1.CreateOptions{})
		if attempt > 0 && apierrors.IsAlreadyExists(err) {
			created, err = kube.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		}
		t.mu.Lock()
		switch {
		case err == nil:
			pod := scalePod{namespace: namespace, name: name, uid: created.UID, mac: haPodMAC(*created)}
			t.pods = append(t.pods, pod)
			t.mu.Unlock()
			return pod, nil
		case cutWebhookCall(err) && attempt < 3:
			t.cuts = append(t.cuts, fmt.Sprintf("%s: %v", name, err))
			t.mu.Unlock()
			continue
		default:
			t.failures = append(t.failures, fmt.Errorf("creating pod %s (attempt %d): %w", name, attempt+1, err))
			t.mu.Unlock()
			return scalePod{}, err
		}
	}
}

// haPodMAC is the MAC the webhook wrote into the pod's only network, or ""
// when there is none.
func haPodMAC(pod corev1.Pod) string {
	var networks []struct {
		MAC string `json:"mac"`
	}
	if err := json.Unmarshal([]byte(pod.Annotations[networksAnnotation]), &networks); err != nil || len(networks) != 1 {
		return ""
	}
	address, err := mac.ParseUnicast(networks[0].MAC)
	if err != nil {
		return ""
	}
	return address.String()
}

// busiestReplica returns the replica whose admission counter grows most
// over a second: the one kube-apiserver's webhook connection goes to.
func busiestReplica(ctx context.Context, c *localcluster.Cluster) int {
	before := make([]float64, c.KubemacpoolReplicas())
	for i := range before {
		before[i] = admissionRequests(ctx, c.KubemacpoolReplicaMetricsURL(i))
	}
	time.Sleep(time.Second)
	busiest, most := 0, -1.0
	for i := range before {
		if grown := admissionRequests(ctx, c.KubemacpoolReplicaMetricsURL(i)) - before[i]; grown > most {
			busiest, most = i, grown
		}
	}
	GinkgoWriter.Printf("replica %d served %.0f webhook calls in the last second; balancer connections per replica: %v\n", busiest, most, c.KubemacpoolServiceConnections())
	return busiest
}

// admissionRequests sums kmp_admission_requests_total of one replica.
func admissionRequests(ctx context.Context, url string) float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	total := 0.0
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for scanner.Scan() {
		line := scanner.Text()
		if !strings.HasPrefix(line, "kmp_admission_requests_total") {
			continue
		}
		fields := strings.Fields(line)
		if value, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			total += value
		}
	}
	return total
}

func errOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func firstFewErrors(errs []error) []string {
	messages := make([]string, len(errs))
	for i, err := range errs {
		messages[i] = err.Error()
	}
	return firstFew(messages)
}

// countLogLines counts the lines holding text in the kubemacpool-apiserver
// logs of dir.
func countLogLines(dir, text string) int {
	paths, _ := filepath.Glob(filepath.Join(dir, "kubemacpool-apiserver*.log"))
	count := 0
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		count += strings.Count(string(data), text)
	}
	return count
}

// probe is an HTTPS GET as the kubelet's httpGet probe makes it: the
// certificate is not verified, any 2xx or 3xx passes.
func probe(ctx context.Context, url string) error {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as the kubelet's probes
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}
