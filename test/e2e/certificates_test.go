package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/test/localcluster"
)

const (
	certificateSecret = "kubemacpool-service"
	servingName       = "kubemacpool-apiserver.kubemacpool-system.svc"
	apiServiceName    = "v1alpha1.macpool.kubemacpool.io"
	webhookConfigName = "kubemacpool-mutator"
	// healTimeout is the promise: a minute.
	healTimeout = time.Minute
)

var _ = Describe("Certificates", Label("certificates"), func() {
	var aggregator aggregatorclient.Interface

	BeforeEach(func() {
		aggregator = aggregatorclient.NewForConfigOrDie(cluster.RESTConfig())
	})

	It("are generated into Secret kubemacpool-service and published as the caBundle of the APIService and every webhook", func(ctx context.Context) {
		secret, err := kubeClient.CoreV1().Secrets("kubemacpool-system").Get(ctx, certificateSecret, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(secret.Type).To(Equal(corev1.SecretTypeTLS))
		Expect(secret.Data).To(HaveKey("tls.crt"))
		Expect(secret.Data).To(HaveKey("tls.key"))
		Expect(secret.Data).To(HaveKey("ca.crt"))
		expectCABundles(ctx, aggregator, secret.Data["ca.crt"])

		served := servedCertificate(cluster.KubemacpoolURL())
		Expect(served.DNSNames).To(ContainElement(servingName))
		Expect(verifyServing(cluster.KubemacpoolURL(), secret.Data["ca.crt"])).To(Succeed())
		Expect(tls.X509KeyPair(secret.Data["tls.crt"], secret.Data["tls.key"])).Error().NotTo(HaveOccurred())
	})

	It("restore a blanked caBundle within a minute, and a dry-run VM still gets its MAC", func(ctx context.Context) {
		bundle, err := cluster.KubemacpoolCABundle(ctx)
		Expect(err).NotTo(HaveOccurred())
		blanked := time.Now()

		webhooks, err := kubeClient.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhookConfigName, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		for i := range webhooks.Webhooks {
			webhooks.Webhooks[i].ClientConfig.CABundle = nil
		}
		_, err = kubeClient.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, webhooks, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		apiService, err := aggregator.ApiregistrationV1().APIServices().Get(ctx, apiServiceName, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		apiService.Spec.CABundle = nil
		_, err = aggregator.ApiregistrationV1().APIServices().Update(ctx, apiService, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())

		Eventually(func(g Gomega) { expectCABundlesG(ctx, g, aggregator, bundle) }).
			WithContext(ctx).WithTimeout(healTimeout).Should(Succeed())
		AddReportEntry("caBundle restored after", time.Since(blanked).Round(time.Millisecond).String())
		fmt.Fprintf(GinkgoWriter, "both caBundles restored %s after blanking\n", time.Since(blanked).Round(time.Millisecond))

		expectDryRunVMGetsMAC(ctx)
		Expect(macClient.MacpoolV1alpha1().MacPools().List(ctx, metav1.ListOptions{})).Error().NotTo(HaveOccurred())
	})

	It("regenerate a deleted Secret with a new CA within a minute, publish it, serve with it, and a dry-run VM still gets its MAC", func(ctx context.Context) {
		old, err := cluster.KubemacpoolCABundle(ctx)
		Expect(err).NotTo(HaveOccurred())
		deleted := time.Now()
		Expect(kubeClient.CoreV1().Secrets("kubemacpool-system").Delete(ctx, certificateSecret, metav1.DeleteOptions{})).To(Succeed())

		var bundle []byte
		Eventually(func(g Gomega) {
			secret, err := kubeClient.CoreV1().Secrets("kubemacpool-system").Get(ctx, certificateSecret, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(secret.Data["ca.crt"]).NotTo(Equal(old), "the regenerated Secret must have a new CA")
			bundle = secret.Data["ca.crt"]
			expectCABundlesG(ctx, g, aggregator, bundle)
			g.Expect(verifyServing(cluster.KubemacpoolURL(), bundle)).To(Succeed())
		}).WithContext(ctx).WithTimeout(healTimeout).Should(Succeed())
		AddReportEntry("Secret regenerated and published after", time.Since(deleted).Round(time.Millisecond).String())
		fmt.Fprintf(GinkgoWriter, "Secret regenerated, published and served %s after deletion\n", time.Since(deleted).Round(time.Millisecond))

		Expect(verifyServing(cluster.KubemacpoolURL(), old)).NotTo(Succeed(), "the deleted CA must no longer be trusted")
		served := servedCertificate(cluster.KubemacpoolURL())
		Eventually(func(g Gomega) {
			text := scrapeMetrics()
			g.Expect(text).To(MatchRegexp(`kmp_certificate_writes_total\{action="regenerate"\} [1-9]`))
			expiry := regexp.MustCompile(`kmp_certificate_expiry_timestamp_seconds\{certificate="serving"\} (\S+)`).FindStringSubmatch(text)
			g.Expect(expiry).To(HaveLen(2), "no serving certificate expiry in the metrics")
			g.Expect(strconv.ParseFloat(expiry[1], 64)).To(BeNumerically("==", served.NotAfter.Unix()))
		}).WithContext(ctx).Should(Succeed())
		expectDryRunVMGetsMAC(ctx)
		Eventually(func() error {
			_, err := macClient.MacpoolV1alpha1().MacPools().List(ctx, metav1.ListOptions{})
			return err
		}).WithContext(ctx).WithTimeout(healTimeout).Should(Succeed())
	})
})

var _ = Describe("Certificate rotation", Serial, Label("certificates"), func() {
	// A CA for 100 s renewed 40 s early, serving certificates for 50 s
	// renewed 20 s early: within two minutes the serving certificate is
	// renewed, the CA rotated, the serving certificate moved to the new CA
	// and the old CA dropped.
	rotationArgs := []string{
		"--ca-rotate-interval=100s", "--ca-overlap-interval=40s",
		"--cert-rotate-interval=50s", "--cert-overlap-interval=20s",
	}

	It("renews the serving certificate and the CA on the configured intervals while every request succeeds", func(ctx SpecContext) {
		rotating := startOwnCluster("rotation", localcluster.Options{KubemacpoolArgs: rotationArgs})

		config := rotating.RESTConfig()
		config.Timeout = 30 * time.Second
		kube := kubernetes.NewForConfigOrDie(config)
		dynamicRotating := dynamic.NewForConfigOrDie(config)
		leases := versioned.NewForConfigOrDie(config)
		namespace := "rotation"
		_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		var (
			mu       sync.Mutex
			failures []string
			requests int
			serials  = map[string]bool{}
			cas      = map[string]bool{}
		)
		record := func(what string, err error) {
			mu.Lock()
			defer mu.Unlock()
			requests++
			if err != nil {
				failures = append(failures, fmt.Sprintf("%s at %s: %v", what, time.Now().Format(time.TimeOnly), err))
			}
		}
		deadline := time.Now().Add(125 * time.Second)
		var wg sync.WaitGroup
		// Through kube-apiserver: the webhook (a dry-run VM) and the
		// aggregated API.
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				vm := toUnstructured(newVM(fmt.Sprintf("rotation-%d", i), vmInterface{name: "default", masquerade: true}))
				created, err := dynamicRotating.Resource(vmResource).Namespace(namespace).Create(ctx, vm, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
				if err == nil && vmMACs(fromUnstructured(created))["default"] == "" {
					err = fmt.Errorf("the dry-run VM got no MAC")
				}
				record("dry-run VM", err)
				_, err = leases.MacpoolV1alpha1().MacLeases(namespace).List(ctx, metav1.ListOptions{})
				record("list MacLeases", err)
				time.Sleep(200 * time.Millisecond)
			}
		})
		// A client that, like kube-apiserver, trusts the caBundle of the
		// webhook configuration of the moment, on a new connection each
		// time so that every request is a handshake with whatever
		// certificate the server presents now.
		wg.Go(func() {
			for time.Now().Before(deadline) {
				webhooks, err := kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhookConfigName, metav1.GetOptions{})
				if err == nil {
					bundle := webhooks.Webhooks[0].ClientConfig.CABundle
					err = verifyServing(rotating.KubemacpoolURL(), bundle)
					served := servedCertificate(rotating.KubemacpoolURL())
					mu.Lock()
					serials[served.SerialNumber.String()] = true
					for _, ca := range parseBundle(bundle) {
						cas[ca.SerialNumber.String()] = true
					}
					mu.Unlock()
				}
				record("handshake with the published caBundle", err)
				time.Sleep(100 * time.Millisecond)
			}
		})
		wg.Wait()

		AddReportEntry("rotation", fmt.Sprintf("%d requests, %d serving certificates, %d CAs, %d failures", requests, len(serials), len(cas), len(failures)))
		fmt.Fprintf(GinkgoWriter, "%d requests during rotation; serving certificates seen: %d, CAs seen: %d\n", requests, len(serials), len(cas))
		Expect(failures).To(BeEmpty())
		Expect(len(serials)).To(BeNumerically(">=", 3), "the serving certificate should have been renewed at least twice")
		Expect(len(cas)).To(BeNumerically(">=", 2), "the CA should have been rotated")

		By("dropping the old CA once it expired")
		Eventually(func(g Gomega) {
			bundle, err := rotating.KubemacpoolCABundle(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			for _, ca := range parseBundle(bundle) {
				g.Expect(time.Now().Before(ca.NotAfter)).To(BeTrue(), "expired CA %s still in the bundle", ca.Subject.CommonName)
			}
		}).WithContext(ctx).WithTimeout(healTimeout).Should(Succeed())
	}, NodeTimeout(6*time.Minute))
})

// expectCABundles checks that the APIService and every webhook trust bundle.
func expectCABundles(ctx context.Context, aggregator aggregatorclient.Interface, bundle []byte) {
	GinkgoHelper()
	expectCABundlesG(ctx, Default, aggregator, bundle)
}

func expectCABundlesG(ctx context.Context, g Gomega, aggregator aggregatorclient.Interface, bundle []byte) {
	apiService, err := aggregator.ApiregistrationV1().APIServices().Get(ctx, apiServiceName, metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(apiService.Spec.CABundle).To(Equal(bundle), "caBundle of APIService %s", apiServiceName)
	webhooks, err := kubeClient.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhookConfigName, metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(webhooks.Webhooks).To(HaveLen(2))
	for _, webhook := range webhooks.Webhooks {
		g.Expect(webhook.ClientConfig.CABundle).To(Equal(bundle), "caBundle of webhook %s", webhook.Name)
	}
	g.Expect(availableCondition(apiService)).To(Equal(apiregistrationv1.ConditionTrue))
}

func availableCondition(apiService *apiregistrationv1.APIService) apiregistrationv1.ConditionStatus {
	for _, condition := range apiService.Status.Conditions {
		if condition.Type == apiregistrationv1.Available {
			return condition.Status
		}
	}
	return apiregistrationv1.ConditionUnknown
}

// expectDryRunVMGetsMAC creates a VM on dry-run until the webhook answers,
// within healTimeout, and checks its interface got a MAC.
func expectDryRunVMGetsMAC(ctx context.Context) {
	GinkgoHelper()
	namespace := createNamespace(ctx, "certificates")
	Eventually(func(g Gomega) {
		vm, err := createVM(ctx, namespace, newVM("dry-run", vmInterface{name: "default", masquerade: true}), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(vmMACs(vm)["default"]).NotTo(BeEmpty())
	}).WithContext(ctx).WithTimeout(healTimeout).Should(Succeed())
}

// servedCertificate is the certificate the server at url presents now.
func servedCertificate(url string) *x509.Certificate {
	GinkgoHelper()
	conn, err := tls.Dial("tcp", hostPort(url), &tls.Config{InsecureSkipVerify: true, ServerName: servingName}) //nolint:gosec // Only reads the certificate.
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// verifyServing makes a new TLS connection to url that trusts only bundle
// and checks the name kube-apiserver checks, then asks for /readyz.
func verifyServing(url string, bundle []byte) error {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(bundle) {
		return fmt.Errorf("the bundle holds no certificate")
	}
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: servingName, MinVersion: tls.VersionTLS12},
		},
	}
	resp, err := client.Get(url + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s/readyz: %s", url, resp.Status)
	}
	return nil
}

func parseBundle(bundle []byte) []*x509.Certificate {
	GinkgoHelper()
	var cas []*x509.Certificate
	for rest := bundle; ; {
		cert, remaining, ok := nextPEMCertificate(rest)
		if !ok {
			return cas
		}
		cas = append(cas, cert)
		rest = remaining
	}
}

func nextPEMCertificate(data []byte) (*x509.Certificate, []byte, bool) {
	GinkgoHelper()
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, nil, false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	Expect(err).NotTo(HaveOccurred())
	return cert, rest, true
}

// hostPort is the host:port of an https:// URL.
func hostPort(url string) string { return strings.TrimPrefix(url, "https://") }
