// Package metrics defines every Prometheus metric Kubemacpool exports and
// serves them on their own HTTP endpoint.
//
// The metrics are k8s.io/component-base metrics with a stability level, and
// the server's (Default) are registered in component-base's legacy registry,
// next to those of k8s.io/apiserver and client-go. One gatherer therefore
// serves both endpoints: the secure port's /metrics, which k8s.io/apiserver
// installs, and the plain --metric-addr endpoint (default
// 127.0.0.1:8080/metrics, the port the original Kubemacpool's README gives,
// on loopback). New gives tests a fresh registry.
//
// Names, types, help texts, labels and stability levels are declared once,
// in Describe's table, and both the collectors and the generated
// docs/metrics.md are built from that table so the documentation cannot
// drift from what is exposed.
package metrics
