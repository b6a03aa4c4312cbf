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
	// KubemacpoolArgs are appended to the flags the launcher passes to
	// kubemacpool-apiserver, to every replica alike: a fixed port in them
	// (say --metric-addr) makes replicas clash.
	KubemacpoolArgs []string
	// KubemacpoolReplicas is how many kubemacpool-apiserver processes run.
	// 0 or 1 runs one with its embedded etcd. N >= 2 runs N on one external
	// etcd, the control plane's own (kubemacpool's keys live under
	// /registry/macpool.kubemacpool.io, apart from kube-apiserver's), each
	// with its own secure and metrics port, as replicas of a Deployment
	// would. The APIService and the webhooks reach replica 0 only, since an
	// ExternalName Service names a single port; KubemacpoolReplicaConfig
	// reaches any replica directly.
	KubemacpoolReplicas int
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
	if o.KubemacpoolReplicas < 0 {
		return o, fmt.Errorf("KubemacpoolReplicas is %d, want 0 or more", o.KubemacpoolReplicas)
	}
	for _, dir := range []*string{&o.RootDir, &o.BinDir, &o.ArtifactsDir} {
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

// layout names every file and directory under RootDir in one place.
type layout struct{ root string }

func (l layout) portsFile() string          { return filepath.Join(l.root, "ports.json") }
func (l layout) etcdDataDir() string        { return filepath.Join(l.root, "etcd") }
func (l layout) kubemacpoolEtcdDir() string { return filepath.Join(l.root, "kubemacpool-etcd") }
func (l layout) pkiDir() string             { return filepath.Join(l.root, "pki") }
func (l layout) logDir() string             { return filepath.Join(l.root, "logs") }
func (l layout) usersDir() string           { return filepath.Join(l.root, "users") }
func (l layout) adminKubeconfig() string    { return filepath.Join(l.root, "kubeconfig") }
func (l layout) controllerManagerKubeconfig() string {
	return filepath.Join(l.root, "kube-controller-manager.kubeconfig")
}
func (l layout) kubemacpoolKubeconfig() string {
	return filepath.Join(l.root, "kubemacpool-apiserver.kubeconfig")
}
func (l layout) pki(name string) string { return filepath.Join(l.pkiDir(), name) }
func (l layout) log(component string) string {
	return filepath.Join(l.logDir(), component+".log")
}
