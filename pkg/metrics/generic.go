package metrics

// GenericServerMetrics are the metrics of k8s.io/apiserver and its etcd
// client that the shipped alerts and Grafana dashboard use
// (artifacts/deploy/components/monitoring). They are not in this package's
// registry: the server serves them on its secure port at /metrics, next to
// everything else the generic API server exports, and the ServiceMonitor
// scrapes that page as its "https" endpoint. Histograms are named without
// the _bucket, _sum and _count suffixes.
var GenericServerMetrics = []string{
	// Histogram of the etcd requests by operation, group and resource.
	"etcd_request_duration_seconds",
	// Counter of the etcd requests by operation, group and resource.
	"etcd_requests_total",
	// Counter of the failed ones; its series appear at the first failure.
	"etcd_request_errors_total",
	// Gauge: the physical size of the etcd database file.
	"apiserver_storage_size_bytes",
}
