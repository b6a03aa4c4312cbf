#!/usr/bin/env bash
# Checks the shipped alerting rules with the real promtool and runs their unit
# tests (test/monitoring/rules_test.yaml). The rules are taken from the
# PrometheusRule manifest itself (hack/rulespec writes its spec to
# _output/monitoring), so the tests cannot drift from what is installed.
# The first run builds promtool (10 minutes or more, hack/build-promtool.sh).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

hack/build-promtool.sh

manifest=artifacts/deploy/components/monitoring/prometheusrule.yaml
rules=_output/monitoring/kubemacpool.rules.yaml
mkdir -p "$(dirname "${rules}")"
echo "test-monitoring: extracting the rules of ${manifest}"
go run ./hack/rulespec "${manifest}" "${rules}"

echo "test-monitoring: promtool check rules"
_output/bin/promtool check rules "${rules}"
echo "test-monitoring: promtool test rules"
_output/bin/promtool test rules test/monitoring/rules_test.yaml
