package localcluster

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

const etcdReadyTimeout = time.Minute

func (c *Cluster) etcdURL() string { return fmt.Sprintf("http://127.0.0.1:%d", c.ports.EtcdClient) }

// etcdArgs runs a single-member cluster. On a restart with existing data the
// --initial-* flags are ignored and the stored membership (with the peer URL
// of the first start) wins, which is why the peer port is kept in ports.json.
func (c *Cluster) etcdArgs() []string {
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", c.ports.EtcdPeer)
	return []string{
		"--name=default",
		"--data-dir=" + c.layout.etcdDataDir(),
		"--listen-client-urls=" + c.etcdURL(),
		"--advertise-client-urls=" + c.etcdURL(),
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		"--initial-cluster-state=new",
		// A throw-away development store: skipping fsync makes every write
		// of a test run much faster and only risks data on a machine crash.
		"--unsafe-no-fsync=true",
	}
}

func (c *Cluster) startEtcd(ctx context.Context) error {
	c.progress("starting etcd on %s (data in %s)", c.etcdURL(), c.layout.etcdDataDir())
	proc, err := startProcess("etcd", filepath.Join(c.opts.BinDir, "etcd"), c.etcdArgs(), c.layout.log("etcd"))
	if err != nil {
		return err
	}
	if err := c.track(&c.etcd, proc); err != nil {
		return err
	}
	return waitUntil(ctx, "etcd /health", etcdReadyTimeout, proc, c.etcdHealthCheck)
}

func (c *Cluster) etcdHealthCheck(ctx context.Context) error {
	return checkGet(ctx, shortHTTPClient, c.etcdURL()+"/health", etcdHealthy)
}
