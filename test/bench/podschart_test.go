package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

const (
	// podsChartFile is written by BenchmarkPodCreate under _output/bench.
	podsChartFile = "pods-by-clients.svg"
	// recordedPodsChart is the copy docs/benchmarks.md shows, written only
	// with KMP_BENCH_RECORD=1.
	recordedPodsChart = "docs/images/pods-by-clients.svg"
)

// podsChart charts pods/s with and without the webhook by client count,
// with the ratio under each group.
func podsChart(rates map[int]admissionRates) barChart {
	clients := make([]int, 0, len(rates))
	for n := range rates {
		clients = append(clients, n)
	}
	slices.Sort(clients)
	chart := barChart{
		title:  "Pods created per second, with and without the Kubemacpool webhook",
		xLabel: "concurrent clients (percentage: with ÷ without)",
		yLabel: "pods/s",
		series: []barSeries{
			{name: "with the webhook", color: "#d95f02"},
			{name: "without (namespace ignored)", color: "#7570b3"},
		},
	}
	ops := 0
	for _, n := range clients {
		r := rates[n]
		ops = max(ops, r.ops)
		chart.categories = append(chart.categories, strconv.Itoa(n))
		chart.series[0].values = append(chart.series[0].values, r.with)
		chart.series[1].values = append(chart.series[1].values, r.without)
		note := ""
		if r.without > 0 {
			note = fmt.Sprintf("%.1f %%", 100*r.with/r.without)
		}
		chart.notes = append(chart.notes, note)
	}
	chart.subtitle = fmt.Sprintf("BenchmarkPodCreate (make bench): up to %d pods per side, alternating rounds, one local control plane", ops)
	return chart
}

// writePodsChart writes the chart to _output/bench, and with
// KMP_BENCH_RECORD=1 also to docs/images for docs/benchmarks.md.
func writePodsChart(e *env, rates map[int]admissionRates) error {
	var svg bytes.Buffer
	if err := podsChart(rates).writeSVG(&svg); err != nil {
		return fmt.Errorf("charting pods/s: %w", err)
	}
	paths := []string{filepath.Join(e.outDir, podsChartFile)}
	if os.Getenv("KMP_BENCH_RECORD") == "1" {
		paths = append(paths, filepath.Join(e.repoRoot, recordedPodsChart))
	}
	for _, path := range paths {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, svg.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "BenchmarkPodCreate: chart written to %s\n", path)
	}
	return nil
}
