package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"kubemacpool.io/kubemacpool/pkg/metrics"
)

// The ServiceMonitor's "https" endpoint, done by hand against the real
// server: its TLS settings, the scraper's identity and the metrics the
// alerts and the dashboard need from the secure port. (The "metrics"
// endpoint is kube-rbac-proxy, which the local control plane does not run.)
var _ = Describe("The monitoring component", Label("deploy"), func() {
	It("lets the scraper read the secure port's metrics, verified against the server's CA, and nobody else", func(ctx context.Context) {
		monitoring, err := filepath.Abs("../../artifacts/deploy/overlays/monitoring")
		Expect(err).NotTo(HaveOccurred())
		rendered := renderKustomization(monitoring)

		By("applying the scraper's ServiceAccount and its binding to kubemacpool-metrics-reader")
		var manifests []string
		for _, object := range []*unstructured.Unstructured{
			objectOf(rendered, "ServiceAccount", "kubemacpool-metrics-scraper"),
			objectOf(rendered, "ClusterRole", "kubemacpool-metrics-reader"),
			objectOf(rendered, "ClusterRoleBinding", "kubemacpool-metrics-reader"),
		} {
			data, err := yaml.Marshal(object.Object)
			Expect(err).NotTo(HaveOccurred())
			manifests = append(manifests, string(data))
		}
		_, err = kubectlWithInput(strings.Join(manifests, "---\n"), "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			_, _ = kubectl("delete", "--ignore-not-found", "clusterrolebinding/kubemacpool-metrics-reader")
			_, _ = kubectl("delete", "--ignore-not-found", "-n", "kubemacpool-system", "serviceaccount/kubemacpool-metrics-scraper")
		})

		By("taking the endpoint's TLS settings from the ServiceMonitor")
		monitor := objectOf(rendered, "ServiceMonitor", "kubemacpool-metrics-monitor")
		endpoints, _, err := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
		Expect(err).NotTo(HaveOccurred())
		var https map[string]interface{}
		for _, endpoint := range endpoints {
			if endpoint.(map[string]interface{})["port"] == "https" {
				https = endpoint.(map[string]interface{})
			}
		}
		Expect(https).NotTo(BeNil(), "the ServiceMonitor has no https endpoint")
		serverName, _, _ := unstructured.NestedString(https, "tlsConfig", "serverName")
		caSecret, _, _ := unstructured.NestedString(https, "tlsConfig", "ca", "secret", "name")
		caKey, _, _ := unstructured.NestedString(https, "tlsConfig", "ca", "secret", "key")
		path, _, _ := unstructured.NestedString(https, "path")
		secret, err := kubeClient.CoreV1().Secrets("kubemacpool-system").Get(ctx, caSecret, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		roots := x509.NewCertPool()
		Expect(roots.AppendCertsFromPEM(secret.Data[caKey])).To(BeTrue(), "Secret %s holds no CA in %s", caSecret, caKey)
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12},
		}}
		scrape := func(token string) (int, string, error) {
			request, err := http.NewRequestWithContext(ctx, http.MethodGet, cluster.KubemacpoolURL()+path, nil)
			if err != nil {
				return 0, "", err
			}
			if token != "" {
				request.Header.Set("Authorization", "Bearer "+token)
			}
			response, err := client.Do(request)
			if err != nil {
				return 0, "", err
			}
			defer response.Body.Close()
			body, err := io.ReadAll(response.Body)
			return response.StatusCode, string(body), err
		}

		By("scraping as kubemacpool-metrics-scraper")
		token := strings.TrimSpace(mustKubectl("create", "token", "-n", "kubemacpool-system", "kubemacpool-metrics-scraper", "--duration=10m"))
		// A lease write, so the etcd client has requests to report.
		createLease(ctx, createNamespace(ctx, "monitoring"), newLease(nextMAC(), "scraped"))
		keep := metricRelabelKeep(https)
		Eventually(func(g Gomega) {
			status, body, err := scrape(token)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(status).To(Equal(http.StatusOK), body)
			for _, name := range metrics.GenericServerMetrics {
				if name == "etcd_request_errors_total" {
					// Its series appear at the first failed request only.
					continue
				}
				g.Expect(body).To(MatchRegexp(`(?m)^`+regexp.QuoteMeta(name)+`(_bucket)?\{`), "the secure port does not export %s", name)
				g.Expect(keep.MatchString(name)).To(BeTrue(), "the ServiceMonitor's metricRelabelings drop %s", name)
			}
			// One registry: the secure port serves the kmp_* metrics too.
			g.Expect(body).To(MatchRegexp(`(?m)^kmp_build_info\{`), "the secure port does not export kmp_build_info")
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())

		By("refusing a scrape without a token, and one by a ServiceAccount without kubemacpool-metrics-reader")
		status, _, err := scrape("")
		Expect(err).NotTo(HaveOccurred())
		Expect(status).To(BeElementOf(http.StatusUnauthorized, http.StatusForbidden))
		mustKubectl("create", "serviceaccount", "-n", "kubemacpool-system", "monitoring-e2e-stranger")
		DeferCleanup(func() {
			_, _ = kubectl("delete", "--ignore-not-found", "-n", "kubemacpool-system", "serviceaccount/monitoring-e2e-stranger")
		})
		stranger := strings.TrimSpace(mustKubectl("create", "token", "-n", "kubemacpool-system", "monitoring-e2e-stranger", "--duration=10m"))
		status, _, err = scrape(stranger)
		Expect(err).NotTo(HaveOccurred())
		Expect(status).To(Equal(http.StatusForbidden))
	})
})

// metricRelabelKeep is the regular expression of an endpoint's keep rule
// on __name__, anchored as Prometheus anchors it.
func metricRelabelKeep(endpoint map[string]interface{}) *regexp.Regexp {
	GinkgoHelper()
	relabelings, _, err := unstructured.NestedSlice(endpoint, "metricRelabelings")
	Expect(err).NotTo(HaveOccurred())
	for _, relabeling := range relabelings {
		relabeling := relabeling.(map[string]interface{})
		if relabeling["action"] == "keep" && fmt.Sprint(relabeling["sourceLabels"]) == "[__name__]" {
			return regexp.MustCompile("^(?:" + relabeling["regex"].(string) + ")$")
		}
	}
	Fail("the endpoint has no keep rule on __name__")
	return nil
}
