package localcluster

import (
	"context"
	"fmt"
)

// Test hooks for one replica of kubemacpool-apiserver at a time, in the
// style of introspect.go: a high-availability test kills a replica as a node
// failure or an OOM kill would, and brings it back as the Deployment would.

// KubemacpoolReplicas is the number of kubemacpool-apiserver replicas.
func (c *Cluster) KubemacpoolReplicas() int { return c.opts.kubemacpoolReplicas() }

// KubemacpoolReplicaPID is the process id of replica i, or 0 while it does
// not run.
func (c *Cluster) KubemacpoolReplicaPID(i int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return pidOf(*c.kubemacpoolSlot(i))
}

// KubemacpoolReplicaReadyzCheck is KubemacpoolReadyzCheck for replica i.
func (c *Cluster) KubemacpoolReplicaReadyzCheck(i int) func(context.Context) error {
	return c.kubemacpoolReadyzCheck(i)
}

// KillKubemacpoolReplica kills replica i with SIGKILL and waits until it has
// exited. Requests in flight on it break; the Service balancer stops sending
// it new connections at once.
func (c *Cluster) KillKubemacpoolReplica(i int) error {
	c.mu.Lock()
	proc := *c.kubemacpoolSlot(i)
	c.mu.Unlock()
	if err := proc.kill(); err != nil {
		return fmt.Errorf("killing %s: %w", kubemacpoolName(i), err)
	}
	c.progress("killed %s (SIGKILL)", kubemacpoolName(i))
	return nil
}

// RestartKubemacpoolReplica starts replica i again with the same flags and
// ports and waits until its /readyz passes. It fails while it still runs.
func (c *Cluster) RestartKubemacpoolReplica(ctx context.Context, i int) error {
	name := kubemacpoolName(i)
	c.progress("restarting %s on %s", name, c.kubemacpoolURL(i))
	proc, err := startProcess(name, c.opts.KubemacpoolBinary, c.kubemacpoolArgs(i), c.layout.log(name))
	if err != nil {
		return err
	}
	if err := c.track(c.kubemacpoolSlot(i), proc); err != nil {
		return err
	}
	if err := waitUntil(ctx, name+" /readyz", kubemacpoolReadyTimeout, proc, c.kubemacpoolReadyzCheck(i)); err != nil {
		return fmt.Errorf("restarting %s: %w", name, err)
	}
	return nil
}

// KubemacpoolReplicaURL is where replica i serves, bypassing the Service.
func (c *Cluster) KubemacpoolReplicaURL(i int) string { return c.kubemacpoolURL(i) }

// Summary describes what runs where, one line per process, for a person
// at the terminal.
func (c *Cluster) Summary() []string {
	lines := []string{
		fmt.Sprintf("kube-apiserver              https://127.0.0.1:%d   log %s", c.ports.KubeAPIServer, c.layout.log("kube-apiserver")),
		fmt.Sprintf("etcd (kube-apiserver's)     %s   log %s", c.etcdURL(), c.layout.log("etcd")),
	}
	if c.ports.KubemacpoolService != 0 {
		lines = append(lines, fmt.Sprintf("Service balancer            %s   (APIService and webhooks; round-robin over the replicas)", c.KubemacpoolServiceURL()))
	}
	for i := range c.opts.kubemacpoolReplicas() {
		lines = append(lines, fmt.Sprintf("%-27s %s   metrics %s   log %s", kubemacpoolName(i), c.kubemacpoolURL(i),
			c.KubemacpoolReplicaMetricsURL(i), c.layout.log(kubemacpoolName(i))))
	}
	if len(c.kubemacpoolEtcd) == 0 {
		lines = append(lines, fmt.Sprintf("%-27s http://127.0.0.1:%d   (embedded in kubemacpool-apiserver, data in %s)", "kubemacpool etcd",
			c.ports.KubemacpoolEtcdClient, c.layout.kubemacpoolEtcdDir()))
	}
	for j := range c.kubemacpoolEtcd {
		lines = append(lines, fmt.Sprintf("%-27s %s   data %s   log %s", kubemacpoolEtcdName(j), c.kubemacpoolEtcdMemberURL(j),
			c.layout.kubemacpoolEtcdMemberDir(j), c.layout.log(kubemacpoolEtcdName(j))))
	}
	return lines
}
