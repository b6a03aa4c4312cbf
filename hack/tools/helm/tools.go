//go:build tools

// Package tools pins helm, which hack/build-helm.sh builds into
// _output/bin/helm for `make test-chart` and the chart's e2e specs. A module
// of its own, so that helm's dependencies never move the Kubernetes versions
// of hack/tools (the control plane) or of the product.
package tools

import (
	_ "helm.sh/helm/v4/cmd/helm"
)
