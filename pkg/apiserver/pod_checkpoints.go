package apiserver

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/client-go/kubernetes"

	leasecontroller "kubemacpool.io/kubemacpool/pkg/controller/lease"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

// podCheckpoints keeps the lease controller's Pod watch checkpoint
// (leasecontroller.Checkpoints) in the etcd that stores the leases, under
// a key of its own beside the resources' prefixes: it belongs with the
// holds it vouches for, and every replica reaches it.
//
// One etcd client serves every load and save of the process: the leader
// saves every 10 s, and a client made for each save cost a connection (a
// TLS handshake with an external etcd) each time. Close ends it.
type podCheckpoints struct {
	options generic.RESTOptions
	key     string

	mu     sync.Mutex
	client *clientv3.Client
	closed bool
}

// errCheckpointsClosed answers a load or save after Close: the server is
// stopping, and a new client would outlive it.
var errCheckpointsClosed = errors.New("the Pod watch checkpoints are closed: the server is stopping")

// dialCheckpoints connects the checkpoints to etcd; a variable for tests.
var dialCheckpoints = etcdClient

func newPodCheckpoints(options generic.RESTOptions) *podCheckpoints {
	return &podCheckpoints{options: options, key: path.Join("/", options.StorageConfig.Prefix, "kubemacpool", "pod-watch-checkpoint")}
}

var _ leasecontroller.Checkpoints = &podCheckpoints{}

// connection returns the client, connecting on first use. The client's
// own context is not ctx, which is one load's or one term's: it lives
// until Close. A client that lost etcd reconnects by itself.
func (c *podCheckpoints) connection(ctx context.Context) (*clientv3.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errCheckpointsClosed
	}
	if c.client == nil {
		client, err := dialCheckpoints(context.WithoutCancel(ctx), c.options)
		if err != nil {
			return nil, err
		}
		c.client = client
	}
	return c.client, nil
}

// Close ends the client; later loads and saves fail.
func (c *podCheckpoints) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.client == nil {
		return nil
	}
	err := c.client.Close()
	c.client = nil
	return err
}

func (c *podCheckpoints) Load(ctx context.Context) (string, error) {
	client, err := c.connection(ctx)
	if err != nil {
		return "", err
	}
	response, err := client.Get(ctx, c.key)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", c.key, err)
	}
	if len(response.Kvs) == 0 {
		return "", nil
	}
	return string(response.Kvs[0].Value), nil
}

func (c *podCheckpoints) Save(ctx context.Context, resourceVersion string) error {
	client, err := c.connection(ctx)
	if err != nil {
		return err
	}
	if _, err := client.Put(ctx, c.key, resourceVersion); err != nil {
		return fmt.Errorf("writing %s: %w", c.key, err)
	}
	return nil
}

// podReplay replays the Pods' watch from the checkpoint in c through kube,
// or compares the Pods as they were then with the first list; the result
// goes to m, if set.
func podReplay(c *podCheckpoints, kube kubernetes.Interface, m *metrics.Metrics) *leasecontroller.Replay {
	var report func(string)
	if m != nil {
		report = func(result string) { m.SetPodRemovalReplay(result, time.Now()) }
	}
	return &leasecontroller.Replay{
		Report:      report,
		Checkpoints: c,
		Watch: func(ctx context.Context, resourceVersion string) (watch.Interface, error) {
			return kube.CoreV1().Pods(metav1.NamespaceAll).Watch(ctx, metav1.ListOptions{ResourceVersion: resourceVersion, AllowWatchBookmarks: true})
		},
		List: func(ctx context.Context, options metav1.ListOptions) (*corev1.PodList, error) {
			return kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, options)
		},
	}
}
