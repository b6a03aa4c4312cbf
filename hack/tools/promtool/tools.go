//go:build tools

// Package promtool pins Prometheus's promtool, which `make test-monitoring`
// uses to check and unit-test the alerting rules of
// artifacts/deploy/components/monitoring. It is its own module so that
// Prometheus's dependencies never move the product's or hack/tools'
// Kubernetes versions.
package promtool

import (
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
