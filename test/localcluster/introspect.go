package localcluster

import (
	"context"
	"fmt"
)

// The accessors below let benchmarks reach the components directly: the raw
// etcd endpoints for a baseline without any API server in the way, and the
// process of kubemacpool-apiserver (replica 0) to read its CPU time and
// memory from /proc.

// EtcdURL is the client URL of the etcd behind kube-apiserver.
func (c *Cluster) EtcdURL() string { return c.etcdURL() }

// KubemacpoolEtcdURL is the client URL of the etcd that stores the MacLeases
// and MacPools: the one embedded in kubemacpool-apiserver, which serves only
// while that process runs, or with several replicas member 0 of their own
// etcd cluster (KubemacpoolEtcdMemberURL names the others).
func (c *Cluster) KubemacpoolEtcdURL() string {
	if c.opts.sharedEtcd() {
		return c.kubemacpoolEtcdMemberURL(0)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", c.ports.KubemacpoolEtcdClient)
}

// KubemacpoolURL is the secure endpoint of kubemacpool-apiserver (replica 0)
// itself, not through the aggregator.
func (c *Cluster) KubemacpoolURL() string { return c.kubemacpoolURL(0) }

// KubemacpoolPID is the process id of the running kubemacpool-apiserver
// (replica 0), or 0 when it is not running.
func (c *Cluster) KubemacpoolPID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return pidOf(c.kubemacpool)
}

// KubeAPIServerPID is the process id of the running kube-apiserver, or 0.
func (c *Cluster) KubeAPIServerPID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return pidOf(c.kubeAPIServer)
}

// KubemacpoolReadyzCheck returns a check of the /readyz of
// kubemacpool-apiserver (replica 0), verified with its serving CA, that
// returns nil when it passes. Keep and reuse the function: it holds one HTTP
// client and its connections.
func (c *Cluster) KubemacpoolReadyzCheck() func(context.Context) error {
	return c.kubemacpoolReadyzCheck(0)
}

// pidOf is the process id of p while it runs, else 0.
func pidOf(p *process) int {
	if p == nil || !p.running() || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
