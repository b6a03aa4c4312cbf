package multus

// Annotation keys defined by the Kubernetes Network Plumbing Working Group
// multi-network specification, which multus implements.
const (
	// NetworksAnnotation selects the secondary networks of a Pod; this
	// package parses and rewrites its value.
	NetworksAnnotation = "k8s.v1.cni.cncf.io/networks"
	// NetworkStatusAnnotation is written by multus after the pod sandbox is
	// set up and reports the interfaces, IPs and MACs actually configured.
	NetworkStatusAnnotation = "k8s.v1.cni.cncf.io/network-status"
)

// Input bounds. They keep a hostile annotation from costing the webhook
// more than a fixed amount of CPU and memory.
const (
	// MaxAnnotationLength is the longest annotation value Parse accepts and
	// Encode produces. The API server limits all annotations of an object
	// together to 256 KiB, so a longer value could never be stored anyway.
	MaxAnnotationLength = 256 << 10
	// MaxElements is the most network elements Parse accepts. A pod with
	// more secondary interfaces than this is a mistake or an attack.
	MaxElements = 1024
)
