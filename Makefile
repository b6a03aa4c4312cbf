# Kubemacpool. `make local-up` starts a local control plane with the product
# registered; `make test` runs every check and test CI runs.

SHELL := /usr/bin/env bash -o errexit -o nounset -o pipefail
BIN_DIR := _output/bin
GO_PACKAGES := ./cmd/... ./pkg/... ./hack/models-schema/... ./test/integration/... ./test/docs/... ./test/bench/...
COVERAGE := _output/coverage.out
E2E_TIMEOUT ?= 40m
# A spec that fails twice fails the run. One that passes on its second
# attempt is printed as [FLAKEY TEST] in the output: a bug to fix, kept from
# failing a run on these shared, noisy machines. E2E_FLAKE_ATTEMPTS=1 turns
# the retry off.
E2E_FLAKE_ATTEMPTS ?= 2

# What the binaries are stamped with (pkg/version): the build date is the
# commit's, not the clock's, so that a commit builds to the same bytes.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-unknown)
GIT_COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
BUILD_DATE ?= $(shell date -u -d @$(BUILD_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
VERSION_PKG := kubemacpool.io/kubemacpool/pkg/version
GO_LDFLAGS := -X $(VERSION_PKG).gitVersion=$(VERSION) -X $(VERSION_PKG).gitCommit=$(GIT_COMMIT) -X $(VERSION_PKG).buildDate=$(BUILD_DATE)
# The image `make image` builds; TAG defaults to the version.
IMAGE ?= quay.io/kubemacpool/kubemacpool-apiserver
TAG ?= $(VERSION)
IMAGE_SOURCE ?= https://kubemacpool.io/kubemacpool

.PHONY: all
all: build

.PHONY: build
build: ## Build kubemacpool-apiserver (static and stamped like the image's; they share the compile cache) and the kubectl plugin kubectl-macpool into _output/bin.
	CGO_ENABLED=0 go build -trimpath -ldflags '$(GO_LDFLAGS)' -o $(BIN_DIR)/kubemacpool-apiserver ./cmd/kubemacpool-apiserver
	go build -o $(BIN_DIR)/kubectl-macpool ./cmd/kubectl-macpool

.PHONY: image
image: ## Build the image (linux/amd64, linux/arm64) into _output/image without a container engine; IMAGE, TAG (cached).
	VERSION='$(VERSION)' GIT_COMMIT='$(GIT_COMMIT)' BUILD_EPOCH='$(BUILD_EPOCH)' GO_LDFLAGS='$(GO_LDFLAGS)' \
	  IMAGE='$(IMAGE)' TAG='$(TAG)' IMAGE_SOURCE='$(IMAGE_SOURCE)' hack/build-image.sh

.PHONY: test-image
test-image: ## Tests of the image builder (hack/tools/image).
	cd hack/tools/image && go test -count=1 ./...

.PHONY: tools
tools: ## Build the pinned etcd, kube-apiserver, kube-controller-manager and kubectl (cached).
	hack/build-tools.sh

.PHONY: helm
helm: ## Build the pinned helm into _output/bin (cached; the first build takes a few minutes).
	hack/build-helm.sh

.PHONY: generate
generate: ## Regenerate deepcopy, conversion, defaults, OpenAPI, clients, listers, informers.
	hack/update-codegen.sh

.PHONY: verify
verify: ## gofmt, go vet and generated-code drift.
	@unformatted=$$(gofmt -l cmd pkg test hack); \
	  if [[ -n "$$unformatted" ]]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	cd hack/tools && go vet ./...
	cd hack/tools/image && go vet ./...
	hack/verify-codegen.sh

.PHONY: test-unit
test-unit: ## Unit, registry-on-etcd and in-process server tests, with the race detector; prints coverage per package under pkg/, counting every test that runs it.
	@mkdir -p $(dir $(COVERAGE))
	go test -race -count=1 -coverpkg=./pkg/... -coverprofile=$(COVERAGE) $(GO_PACKAGES)
	@hack/coverage-by-package.sh $(COVERAGE)

.PHONY: test-monitoring
test-monitoring: ## promtool check and unit tests of the shipped alerts (builds promtool the first time, 10 minutes or more).
	hack/test-monitoring.sh

.PHONY: test-e2e
test-e2e: tools build helm image ## End-to-end tests against a real local control plane, on the server binary of the image.
	go test -count=1 -timeout 10m ./test/localcluster/...
	KUBEMACPOOL_E2E_IMAGE=_output/image/oci go test -count=1 -timeout $(E2E_TIMEOUT) ./test/e2e/... -ginkgo.v -ginkgo.flake-attempts=$(E2E_FLAKE_ATTEMPTS)

# The chart's values files under charts/kubemacpool/ci, one per profile.
CHART_PROFILES := $(wildcard charts/kubemacpool/ci/*-values.yaml)

.PHONY: test-chart
test-chart: tools helm ## Lint and render charts/kubemacpool for every profile; fail when it and the kustomize install drift apart.
	$(BIN_DIR)/helm lint --strict charts/kubemacpool
	$(BIN_DIR)/helm template kubemacpool charts/kubemacpool >/dev/null
	@for values in $(CHART_PROFILES); do \
	  echo "helm lint --strict and helm template with $$values"; \
	  $(BIN_DIR)/helm lint --strict charts/kubemacpool --values $$values && \
	  $(BIN_DIR)/helm template kubemacpool charts/kubemacpool --values $$values >/dev/null || exit 1; \
	done
	go test -count=1 ./test/chart/...

.PHONY: update-chart-files
update-chart-files: ## Copy the monitoring rules and dashboard into charts/kubemacpool/files (test/chart fails while they differ).
	cp artifacts/deploy/components/monitoring/prometheusrule.yaml charts/kubemacpool/files/monitoring/prometheusrule.yaml
	cp artifacts/deploy/components/monitoring/dashboards/kubemacpool.json charts/kubemacpool/files/monitoring/kubemacpool.json
	cp artifacts/deploy/base/audit-policy.yaml charts/kubemacpool/files/audit/policy.yaml

.PHONY: test
test: verify test-unit test-image test-monitoring test-chart test-e2e ## Everything CI runs.

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 30s); the seed corpora under testdata/ also run in test-unit.
	go test ./pkg/mac -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $${FUZZTIME:-30s}
	@for target in FuzzParse FuzzQuote FuzzScanMatchesDecoder FuzzPlainDNSNames; do \
		go test ./pkg/multus -run '^$$' -fuzz "^$$target\$$" -fuzztime $${FUZZTIME:-30s} || exit 1; done
	go test ./pkg/kubevirt -run '^$$' -fuzz '^FuzzPlanMutation$$' -fuzztime $${FUZZTIME:-30s}
	go test ./pkg/kubevirt -run '^$$' -fuzz '^FuzzDecodeVirtualMachine$$' -fuzztime $${FUZZTIME:-30s}
	go test ./pkg/admission/webhook -run '^$$' -fuzz '^FuzzMetadataShortcut$$' -fuzztime $${FUZZTIME:-30s}
	go test ./pkg/apis/macpool -run '^$$' -fuzz '^FuzzParseNodeHolds$$' -fuzztime $${FUZZTIME:-30s}

.PHONY: bench
bench: tools build ## Benchmarks (about 10 min); figures go to docs/benchmarks.md. BENCH_OPS: operations per side (800).
	go test -run '^$$' -bench . -benchmem ./pkg/...
	@# One local control plane in _output/bench; KMP_BENCH_LEASES (100000) and
	@# KMP_BENCH_API_FILL (5000) size the restart benchmark. KMP_BENCH_PROFILE=1
	@# writes pprof profiles to _output/bench/profiles (KMP_BENCH_PROFILE_KAS=1:
	@# of kube-apiserver too, both sides); the pods/s chart goes to
	@# _output/bench/pods-by-clients.svg (and docs/images with KMP_BENCH_RECORD=1).
	go test -run '^$$' -bench . -benchtime=$${BENCH_OPS:-800}x -timeout 30m ./test/bench/

.PHONY: local-up
local-up: ## Start etcd, kube-apiserver, kube-controller-manager and kubemacpool-apiserver on loopback; KUBEMACPOOL_IMAGE=_output/image/oci runs the image's binary.
	GO_LDFLAGS='$(GO_LDFLAGS)' hack/local-up.sh

.PHONY: clean
clean:
	rm -rf _output/local _output/e2e $(BIN_DIR)/kubemacpool-apiserver $(BIN_DIR)/kubectl-macpool _output/image _output/local-image

.PHONY: help
help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
