package localcluster

import (
	"fmt"
	"io"
	"path/filepath"
)

// Options says where the control plane keeps its state and finds its binaries.
type Options struct {
	// RootDir holds all state: data dirs, PKI, kubeconfigs and logs, e.g.
	// <repo>/_output/local. It is created if missing and reused if present.
	RootDir string
	// BinDir holds etcd, kube-apiserver, kubectl and kubemacpool-apiserver,
	// e.g. <repo>/_output/bin.
	BinDir string
	// ArtifactsDir holds crds/, local/ and rbac/ with the YAML applied at
	// start, e.g. <repo>/artifacts.
	ArtifactsDir string
	// KubemacpoolBinary is the kubemacpool-apiserver to run, for example
	// one taken out of the image (`make local-up KUBEMACPOOL_IMAGE=...`).
	// Empty means BinDir/kubemacpool-apiserver.
	KubemacpoolBinary string
	// KubemacpoolArgs are appended to the flags the launcher passes to
	// kubemacpool-apiserver, to every replica alike: a fixed port in them
	// (say --metric-addr) makes replicas clash.
	KubemacpoolArgs []string
	// KubemacpoolReplicas is how many kubemacpool-apiserver processes run.
	// 0 or 1 runs one with its embedded etcd. N >= 2 runs N on an external
	// etcd cluster of their own (KubemacpoolEtcdMembers members), each with
	// its own secure and metrics port, as replicas of a Deployment would.
	// The APIService and the webhooks then reach them through a TCP
	// balancer in the launcher that stands in for the Service's ClusterIP
	// and kube-proxy: each new connection goes round-robin to a replica
	// whose port accepts it. KubemacpoolReplicaConfig reaches any replica
	// directly.
	KubemacpoolReplicas int
	// KubemacpoolEtcdMembers is the size of kubemacpool's own etcd cluster
	// when KubemacpoolReplicas is 2 or more; 0 means 3. It is apart from the
	// etcd of kube-apiserver, so that killing one of its members (see
	// KillKubemacpoolEtcdMember) leaves the rest of the control plane alone.
	// With one replica it is ignored: that replica embeds its etcd.
	KubemacpoolEtcdMembers int
	// KubemacpoolMetricsPort, when not 0, is the metrics port of replica 0
	// instead of the free port stored in ports.json (local-up passes the
	// documented 8080). The other replicas keep their free ports.
	KubemacpoolMetricsPort int
	// AuditLog runs every replica with the audit policy the deploy
	// profiles ship (ArtifactsDir/deploy/base/audit-policy.yaml), each
	// writing its events to its own file (KubemacpoolAuditLog).
	AuditLog bool
	// Progress receives one human-readable line per step; nil discards them.
	Progress io.Writer
}

// withAbsolutePaths returns a copy of o whose directories are absolute, so
// that paths written into kubeconfigs and flags do not depend on the cwd of
// whoever reads them later.
func (o Options) withAbsolutePaths() (Options, error) {
	if o.RootDir == "" || o.BinDir == "" || o.ArtifactsDir == "" {
		return o, fmt.Errorf("RootDir, BinDir and ArtifactsDir must all be set")
	}
	if o.KubemacpoolEtcdMembers < 0 {
		return o, fmt.Errorf("KubemacpoolEtcdMembers is %d, want 0 or more", o.KubemacpoolEtcdMembers)
	}
	if o.KubemacpoolReplicas < 0 {
		return o, fmt.Errorf("KubemacpoolReplicas is %d, want 0 or more", o.KubemacpoolReplicas)
	}
	if o.KubemacpoolBinary == "" {
		o.KubemacpoolBinary = filepath.Join(o.BinDir, "kubemacpool-apiserver")
	}
	for _, dir := range []*string{&o.RootDir, &o.BinDir, &o.ArtifactsDir, &o.KubemacpoolBinary} {
		abs, err := filepath.Abs(*dir)
		if err != nil {
			return o, fmt.Errorf("making %q absolute: %w", *dir, err)
		}
		*dir = abs
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o, nil
}

// kubemacpoolReplicas is the number of kubemacpool-apiserver processes.
func (o Options) kubemacpoolReplicas() int { return max(1, o.KubemacpoolReplicas) }

// sharedEtcd tells whether the kubemacpool-apiserver replicas store their
// objects in the control plane's etcd instead of an embedded one each.
func (o Options) sharedEtcd() bool { return o.kubemacpoolReplicas() > 1 }

// kubemacpoolEtcdMembers is the size of kubemacpool's own etcd cluster, 0
// when the single replica embeds its etcd.
func (o Options) kubemacpoolEtcdMembers() int {
	switch {
	case !o.sharedEtcd():
		return 0
	case o.KubemacpoolEtcdMembers == 0:
		return 3
	default:
		return o.KubemacpoolEtcdMembers
	}
}

// layout names every file and directory under RootDir in one place.
type layout struct{ root string }

func (l layout) portsFile() string          { return filepath.Join(l.root, "ports.json") }
func (l layout) etcdDataDir() string        { return filepath.Join(l.root, "etcd") }
func (l layout) kubemacpoolEtcdDir() string { return filepath.Join(l.root, "kubemacpool-etcd") }
func (l layout) kubemacpoolEtcdMemberDir(j int) string {
	return filepath.Join(l.root, fmt.Sprintf("kubemacpool-etcd-%d", j))
}
func (l layout) pkiDir() string          { return filepath.Join(l.root, "pki") }
func (l layout) logDir() string          { return filepath.Join(l.root, "logs") }
func (l layout) usersDir() string        { return filepath.Join(l.root, "users") }
func (l layout) adminKubeconfig() string { return filepath.Join(l.root, "kubeconfig") }
func (l layout) controllerManagerKubeconfig() string {
	return filepath.Join(l.root, "kube-controller-manager.kubeconfig")
}
func (l layout) kubemacpoolKubeconfig() string {
	return filepath.Join(l.root, "kubemacpool-apiserver.kubeconfig")
}

// webhookClientKubeconfig holds the credentials kube-apiserver presents to
// kubemacpool's webhooks; admissionConfig points kube-apiserver at it.
func (l layout) webhookClientKubeconfig() string {
	return filepath.Join(l.root, "webhook-client.kubeconfig")
}
func (l layout) admissionConfig() string { return filepath.Join(l.root, "admission-config.yaml") }
func (l layout) pki(name string) string  { return filepath.Join(l.pkiDir(), name) }
func (l layout) log(component string) string {
	return filepath.Join(l.logDir(), component+".log")
}
