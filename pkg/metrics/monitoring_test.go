package metrics

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// monitoringDir holds the shipped PrometheusRule and Grafana dashboard.
var monitoringDir = filepath.Join("..", "..", "artifacts", "deploy", "components", "monitoring")

// prometheusMetrics are series Prometheus makes itself for every target.
var prometheusMetrics = []string{"up"}

// exportedMetrics returns every metric name a query may use: the kmp_*
// metrics of the registry (histograms with their _bucket, _sum and _count
// series), the generic server's and Prometheus's own.
func exportedMetrics() map[string]bool {
	known := map[string]bool{}
	add := func(name, kind string) {
		known[name] = true
		if kind == TypeHistogram {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				known[name+suffix] = true
			}
		}
	}
	for _, doc := range Describe() {
		add(doc.Name, doc.Type)
	}
	for _, name := range GenericServerMetrics {
		add(name, TypeHistogram)
	}
	for _, name := range prometheusMetrics {
		add(name, TypeGauge)
	}
	return known
}

var (
	// Parts of a PromQL expression that hold no metric name: strings,
	// label matchers, range and subquery durations, and the label lists
	// of by, without, on, ignoring, group_left and group_right.
	promqlStrings    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promqlMatchers   = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promqlLabels     = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdentifier = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promqlKeywords   = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true}
)

// metricNames returns the metric names a PromQL expression selects.
func metricNames(expr string) []string {
	expr = promqlStrings.ReplaceAllString(expr, `""`)
	expr = promqlMatchers.ReplaceAllString(expr, " ")
	expr = promqlLabels.ReplaceAllString(expr, " ")
	var names []string
	for _, span := range promqlIdentifier.FindAllStringIndex(expr, -1) {
		name := expr[span[0]:span[1]]
		// Part of a number (1e9, 0.5e3), not a name.
		if span[0] > 0 && strings.ContainsAny(expr[span[0]-1:span[0]], "0123456789.") {
			continue
		}
		// Called: a function or an aggregation.
		if strings.HasPrefix(strings.TrimLeft(expr[span[1]:], " \t\n"), "(") {
			continue
		}
		if promqlKeywords[strings.ToLower(name)] {
			continue
		}
		names = append(names, name)
	}
	return names
}

func TestMetricNamesOfAnExpression(t *testing.T) {
	for expr, want := range map[string][]string{
		`count(kmp_mac_collisions > 1) > 0`: {"kmp_mac_collisions"},
		`sum by (namespace, pool) (rate(kmp_a_total{job="x", result=~"e|f"}[5m])) / on () group_left (pool) kmp_b offset 5m > 1.6e9`: {"kmp_a_total", "kmp_b"},
		`absent(up{job="x"} == 1) and on () count(up) > 0`:                                                                           {"up", "up"},
		`histogram_quantile(0.99, sum by (le) (rate(kmp_c_bucket[$__rate_interval]))) or vector(0)`:                                  {"kmp_c_bucket"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %v, want %v", expr, got, want)
		}
	}
}

// ruleExpressions returns each alert's name and expression from the
// PrometheusRule manifest.
func ruleExpressions(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(monitoringDir, "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert       string            `json:"alert"`
					Expr        string            `json:"expr"`
					Labels      map[string]string `json:"labels"`
					Annotations map[string]string `json:"annotations"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{}
	for _, group := range rule.Spec.Groups {
		for _, r := range group.Rules {
			exprs[r.Alert] = r.Expr
			for _, annotation := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[annotation] == "" {
					t.Errorf("alert %s has no %s", r.Alert, annotation)
				}
			}
			if severity := r.Labels["severity"]; severity != "warning" && severity != "critical" {
				t.Errorf("alert %s: severity %q, want warning or critical", r.Alert, severity)
			}
			// Every alert has its runbook in docs/runbooks; the original's
			// alert keeps its URL, the others link to theirs.
			if _, err := os.Stat(filepath.Join("..", "..", "docs", "runbooks", r.Alert+".md")); err != nil {
				t.Errorf("alert %s has no runbook: %v", r.Alert, err)
			}
			if r.Alert != "KubemacpoolMACCollisionDetected" && !strings.HasSuffix(r.Annotations["runbook_url"], "/docs/runbooks/"+r.Alert+".md") {
				t.Errorf("alert %s: runbook_url %q does not link to docs/runbooks/%s.md", r.Alert, r.Annotations["runbook_url"], r.Alert)
			}
		}
	}
	if len(exprs) == 0 {
		t.Fatal("the PrometheusRule has no alerts")
	}
	return exprs
}

// dashboardExpressions returns the query of every panel of the dashboard.
func dashboardExpressions(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(monitoringDir, "dashboards", "kubemacpool.json"))
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dashboard struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Type string `json:"type"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dashboard); err != nil {
		t.Fatal(err)
	}
	for _, variable := range dashboard.Templating.List {
		// A query variable would hide metric names from this test.
		if variable.Type != "datasource" {
			t.Errorf("dashboard variable of type %q: only datasource variables are checked", variable.Type)
		}
	}
	exprs := map[string]string{}
	for _, p := range dashboard.Panels {
		if len(p.Panels) > 0 {
			t.Errorf("panel %q nests panels: keep rows expanded so that this test sees every query", p.Title)
		}
		for _, target := range p.Targets {
			exprs[p.Title+"/"+target.RefID] = target.Expr
		}
	}
	if len(exprs) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	return exprs
}

// TestMonitoringUsesOnlyExportedMetrics keeps the alerts and the dashboard
// honest: every metric they query must be one the server exports (or one
// Prometheus makes), so a renamed or removed metric fails here rather than
// silently in production.
func TestMonitoringUsesOnlyExportedMetrics(t *testing.T) {
	known := exportedMetrics()
	used := map[string]bool{}
	for source, exprs := range map[string]map[string]string{
		"PrometheusRule": ruleExpressions(t),
		"dashboard":      dashboardExpressions(t),
	} {
		for name, expr := range exprs {
			names := metricNames(expr)
			if len(names) == 0 {
				t.Errorf("%s %s: no metric found in %q", source, name, expr)
			}
			for _, metric := range names {
				used[metric] = true
				if !known[metric] {
					t.Errorf("%s %s queries %s, which the server does not export", source, name, metric)
				}
			}
		}
	}
	// The dashboard covers what the issue asks of it.
	for _, metric := range []string{NamePoolAllocated, NameAllocationDuration + "_count", NameAdmissionDuration + "_bucket", NameLeases, NameMACCollisions, NameCertificateExpiry} {
		if !used[metric] {
			t.Errorf("neither the alerts nor the dashboard use %s", metric)
		}
	}
	// Every generic metric listed is used, so the list does not rot.
	for _, metric := range GenericServerMetrics {
		if !used[metric] && !used[metric+"_bucket"] {
			t.Errorf("GenericServerMetrics lists %s, which nothing queries", metric)
		}
	}
}

// TestEveryAlertHasRuleTests checks that test/monitoring has, for every
// alert, a promtool test in which it fires and one in which it stays quiet.
func TestEveryAlertHasRuleTests(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "test", "monitoring", "rules_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string           `json:"alertname"`
				ExpAlerts []map[string]any `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(data, &tests); err != nil {
		t.Fatal(err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, test := range tests.Tests {
		for _, check := range test.AlertRuleTest {
			if len(check.ExpAlerts) > 0 {
				fires[check.Alertname] = true
			} else {
				quiet[check.Alertname] = true
			}
		}
	}
	var alerts []string
	for alert := range ruleExpressions(t) {
		alerts = append(alerts, alert)
	}
	sort.Strings(alerts)
	for _, alert := range alerts {
		if !fires[alert] {
			t.Errorf("no promtool test in which %s fires", alert)
		}
		if !quiet[alert] {
			t.Errorf("no promtool test in which %s stays quiet", alert)
		}
	}
}
