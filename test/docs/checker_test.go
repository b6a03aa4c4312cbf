package docs

import (
	"fmt"
	"strings"
	"testing"
)

// The checks must catch what they are for: a synthetic document with one
// wrong name of each kind, and as many right ones, gives exactly the
// expected complaints.
func TestCheckerCatchesWhatIsWrong(t *testing.T) {
	doc := parseDocument("docs/synthetic.md", strings.Join([]string{
		"# A title",
		"## Second `heading`, with punctuation!",
		"Use `--metric-addr=127.0.0.1:8080`, `--embedded-etcd-*` and `--no-such-flag`.",
		"kube-rbac-proxy takes `--upstream`; `kubectl get --no-such-kubectl-flag` is a command, not checked.",
		"Metrics: kmp_mac_collisions, kmp_allocation_duration_seconds_bucket, `kmp_` and kmp_not_a_metric.",
		"Files: `pkg/mac/address.go`, `pkg/registry/macpool/{maclease,macpool}`, `artifacts/deploy/base/rbac-*.yaml`,",
		"`pkg/nothing/here.go`, `test/{e2e,nowhere}` and `base/not-checked.yaml`.",
		"Links: [ok](design.md), [ok](#second-heading-with-punctuation), [ok](../README.md#documentation),",
		"[bad](missing.md), [bad](#no-such-heading), [bad](design.md#no-such-heading), [url](https://example.com/x).",
		"```",
		"--inside-a-fence `--not-checked` `pkg/not/checked` [x](not-checked.md) kmp_also_checked_in_fences",
		"```",
	}, "\n"))
	var got []string
	report := func(format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) }
	documents := append(readDocuments(t), doc)
	checkFlags([]document{doc}, serverFlags(), report)
	checkMetrics([]document{doc}, registeredMetrics(t), report)
	checkPaths([]document{doc}, report)
	checkLinks(documents, report)
	want := []string{
		"docs/synthetic.md:3: kubemacpool-apiserver has no flag --no-such-flag",
		"docs/synthetic.md:5: pkg/metrics registers no metric kmp_not_a_metric",
		"docs/synthetic.md:11: pkg/metrics registers no metric kmp_also_checked_in_fences",
		"docs/synthetic.md:7: `pkg/nothing/here.go`: pkg/nothing/here.go does not exist",
		"docs/synthetic.md:7: `test/{e2e,nowhere}`: test/nowhere does not exist",
		"docs/synthetic.md:9: link missing.md: docs/missing.md does not exist",
		"docs/synthetic.md:9: link #no-such-heading: docs/synthetic.md has no heading",
		"docs/synthetic.md:9: link design.md#no-such-heading: docs/design.md has no heading",
	}
	var synthetic []string
	for _, problem := range got {
		if strings.HasPrefix(problem, "docs/synthetic.md:") {
			synthetic = append(synthetic, problem)
		}
	}
	if len(synthetic) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(synthetic), len(want), strings.Join(synthetic, "\n"))
	}
	for _, prefix := range want {
		found := false
		for _, problem := range synthetic {
			found = found || strings.HasPrefix(problem, prefix)
		}
		if !found {
			t.Errorf("no problem starting %q among:\n%s", prefix, strings.Join(synthetic, "\n"))
		}
	}
}
