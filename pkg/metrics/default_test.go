package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/component-base/metrics/legacyregistry"
)

// TestDefaultIsTheLegacyRegistry checks that the server's metrics and
// component-base's legacy registry are one: what the secure port's /metrics
// serves (legacyregistry) has kmp_*, and what --metric-addr serves
// (Default().Handler()) has the legacy registry's own metrics.
func TestDefaultIsTheLegacyRegistry(t *testing.T) {
	m := Default()
	if Default() != m {
		t.Fatal("Default returned two Metrics: the second would register every name again")
	}
	m.CountCertificateWrite("default-test")

	recorder := httptest.NewRecorder()
	legacyregistry.Handler().ServeHTTP(recorder, httptest.NewRequest(http.MethodGet, Path, nil))
	secure, err := io.ReadAll(recorder.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain := scrape(t, m)
	for endpoint, text := range map[string]string{"legacy registry (secure /metrics)": string(secure), "--metric-addr": plain} {
		for _, want := range []string{
			`kmp_certificate_writes_total{action="default-test"} 1`,
			"# HELP kubevirt_kmp_duplicate_macs [STABLE] [DEPRECATED] ",
			"# HELP kmp_build_info [ALPHA] ",
			// Registered by component-base in the legacy registry only.
			"# TYPE registered_metrics_total counter",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q", endpoint, want)
			}
		}
	}
}
