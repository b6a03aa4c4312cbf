package localcluster

import (
	"errors"
	"fmt"
)

// errSharedEtcd is the answer of the embedded-etcd accessors when the
// replicas share an external etcd cluster instead.
var errSharedEtcd = errors.New("kubemacpool-apiserver runs on a shared etcd cluster, not an embedded one")

// KubemacpoolDataDir is the data directory of the embedded etcd of the
// single kubemacpool-apiserver. A test that stops the server (StopKubemacpool)
// may move it away or replace it, say with a restored snapshot, before
// StartKubemacpool: the server then starts on what it finds there, as a
// fresh install or a restore in a real cluster would.
func (c *Cluster) KubemacpoolDataDir() (string, error) {
	if c.opts.sharedEtcd() {
		return "", errSharedEtcd
	}
	return c.layout.kubemacpoolEtcdDir(), nil
}

// KubemacpoolEmbeddedEtcdClientURL is the loopback client URL of the
// embedded etcd while kubemacpool-apiserver runs.
func (c *Cluster) KubemacpoolEmbeddedEtcdClientURL() (string, error) {
	if c.opts.sharedEtcd() {
		return "", errSharedEtcd
	}
	return c.embeddedEtcdClientURL(), nil
}

func (c *Cluster) embeddedEtcdClientURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d", c.ports.KubemacpoolEtcdClient)
}
