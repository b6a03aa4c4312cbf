package chart

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// chartCopies are the files the chart reads with .Files.Get, by the
// kustomize file each copies (Helm reads nothing outside the chart).
var chartCopies = map[string]string{
	"charts/kubemacpool/files/monitoring/prometheusrule.yaml": "artifacts/deploy/components/monitoring/prometheusrule.yaml",
	"charts/kubemacpool/files/monitoring/kubemacpool.json":    "artifacts/deploy/components/monitoring/dashboards/kubemacpool.json",
	"charts/kubemacpool/files/audit/policy.yaml":              "artifacts/deploy/base/audit-policy.yaml",
}

// TestChartCopiesAreIdentical fails when a file the chart reads and the
// kustomize file it copies differ: edit the kustomize one, then run
// make update-chart-files.
func TestChartCopiesAreIdentical(t *testing.T) {
	for copied, original := range chartCopies {
		want, err := os.ReadFile(filepath.Join(repoRoot, original))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(repoRoot, copied))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s: run make update-chart-files", copied, original)
		}
	}
}
