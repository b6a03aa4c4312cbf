// Package metrics defines every Prometheus metric Kubemacpool exports and
// serves them on their own HTTP endpoint.
//
// The metrics live in a private registry rather than the process-wide
// default one: the embedded API server registers hundreds of series in
// component-base's legacy registry, and keeping ours apart means the
// controller endpoint (default :8080/metrics, the address the original
// Kubemacpool used) carries only what dashboards and alerts query.
//
// Names, types, help texts and labels are declared once, in Describe's
// table, and both the collectors and the generated docs/metrics.md are built
// from that table so the documentation cannot drift from what is exposed.
package metrics
