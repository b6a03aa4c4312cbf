package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
)

// Cluster is a running local control plane. Its methods are safe to call from
// several goroutines.
type Cluster struct {
	opts       Options
	layout     layout
	ports      ports
	pki        *clusterPKI
	restConfig *rest.Config // admin
	client     kubernetes.Interface
	aggregator aggregatorclient.Interface
	startedAt  time.Time

	mu            sync.Mutex // guards the processes and stopped
	etcd          *process
	kubeAPIServer *process
	controllers   *process // kube-controller-manager
	kubemacpool   *process // replica 0
	// kubemacpoolReplicas are replicas 1..N-1; its length is fixed before
	// anything starts, so only the elements need the lock.
	kubemacpoolReplicas []*process
	// kubemacpoolEtcd are the members of kubemacpool's own etcd cluster
	// (several replicas only); fixed length, like kubemacpoolReplicas.
	kubemacpoolEtcd []*process
	// balancer stands in for the Service in front of several replicas.
	balancer *tcpBalancer
	stopped  bool

	stopOnce sync.Once
	stopErr  error // valid once stopOnce is done
}

// Start brings up etcd, kube-apiserver and kubemacpool-apiserver, applies the
// artifacts and returns once the kubemacpool API is served through the
// aggregator. ctx bounds the whole life of the cluster, not only the start:
// when it is cancelled every process is stopped, as with exec.CommandContext.
// On error everything already started is stopped again.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	o, err := o.withAbsolutePaths()
	if err != nil {
		return nil, fmt.Errorf("local cluster options: %w", err)
	}
	c := &Cluster{
		opts:                o,
		layout:              layout{root: o.RootDir},
		startedAt:           time.Now(),
		kubemacpoolReplicas: make([]*process, o.kubemacpoolReplicas()-1),
		kubemacpoolEtcd:     make([]*process, o.kubemacpoolEtcdMembers()),
	}
	if err := c.prepare(); err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { _ = c.Stop() })
	if err := c.startAll(ctx); err != nil {
		if stopErr := c.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping after failed start: %w", stopErr))
		}
		return nil, err
	}
	c.progress("local control plane is up")
	return c, nil
}

// prepare lays out RootDir, ports, PKI and the admin clients; it starts
// nothing.
func (c *Cluster) prepare() error {
	if err := c.checkBinaries(); err != nil {
		return err
	}
	for _, dir := range []string{c.opts.RootDir, c.layout.logDir()} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	var err error
	if c.ports, err = loadOrChoosePortsFor(c.layout.portsFile(), c.opts.kubemacpoolReplicas(), c.opts.kubemacpoolEtcdMembers()); err != nil {
		return fmt.Errorf("choosing ports: %w", err)
	}
	if c.opts.KubemacpoolMetricsPort != 0 {
		c.ports.KubemacpoolMetrics = c.opts.KubemacpoolMetricsPort
	}
	if c.pki, err = loadOrCreatePKI(c.layout); err != nil {
		return fmt.Errorf("preparing PKI in %s: %w", c.layout.pkiDir(), err)
	}
	if err := c.writeWebhookAuthentication(); err != nil {
		return err
	}
	// Rewritten on every start: the kube-apiserver port may have changed.
	admin := kubeconfigCredentials{user: "kubernetes-admin", clientKey: c.pki.admin}
	if err := c.writeKubeconfig(c.layout.adminKubeconfig(), admin); err != nil {
		return err
	}
	if c.restConfig, err = restConfigFromKubeconfig(c.layout.adminKubeconfig()); err != nil {
		return err
	}
	if c.client, err = kubernetes.NewForConfig(c.restConfig); err != nil {
		return fmt.Errorf("creating admin client: %w", err)
	}
	if c.aggregator, err = aggregatorclient.NewForConfig(c.restConfig); err != nil {
		return fmt.Errorf("creating aggregator client: %w", err)
	}
	return nil
}

// checkBinaries fails before anything starts when a binary is missing, and
// says how to build it.
func (c *Cluster) checkBinaries() error {
	howToBuild := map[string]string{
		"etcd":                    "hack/build-tools.sh",
		"kube-apiserver":          "hack/build-tools.sh",
		"kube-controller-manager": "hack/build-tools.sh",
		"kubectl":                 "hack/build-tools.sh",
		"kubemacpool-apiserver":   "go build -o _output/bin/kubemacpool-apiserver ./cmd/kubemacpool-apiserver",
	}
	var missing []error
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kubectl", "kubemacpool-apiserver"} {
		path := filepath.Join(c.opts.BinDir, name)
		if name == "kubemacpool-apiserver" {
			path = c.opts.KubemacpoolBinary
		}
		if _, err := os.Stat(path); err != nil {
			missing = append(missing, fmt.Errorf("%s is missing (build it with %s): %w", path, howToBuild[name], err))
		}
	}
	return errors.Join(missing...)
}

func (c *Cluster) startAll(ctx context.Context) error {
	if err := c.startEtcd(ctx); err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	if err := c.startKubeAPIServer(ctx); err != nil {
		return fmt.Errorf("starting kube-apiserver: %w", err)
	}
	if err := c.startControllerManager(ctx); err != nil {
		return fmt.Errorf("starting kube-controller-manager: %w", err)
	}
	if err := c.applyArtifacts(ctx); err != nil {
		return fmt.Errorf("applying artifacts: %w", err)
	}
	if err := c.writeKubemacpoolKubeconfig(ctx); err != nil {
		return fmt.Errorf("preparing kubemacpool-apiserver credentials: %w", err)
	}
	if err := c.startKubemacpoolEtcd(ctx); err != nil {
		return fmt.Errorf("starting kubemacpool's etcd cluster: %w", err)
	}
	if err := c.startBalancer(); err != nil {
		return err
	}
	if err := c.StartKubemacpool(ctx); err != nil {
		return err
	}
	// Registered once per start of the cluster, not of kubemacpool-apiserver,
	// so that a mode a test chose survives a restart of the server.
	c.progress("registering the kubemacpool-mutator webhooks (opt-out)")
	return c.RegisterWebhooks(ctx, WebhookOptOut)
}

// Kubeconfig returns the path of the admin kubeconfig (system:masters).
func (c *Cluster) Kubeconfig() string { return c.layout.adminKubeconfig() }

// RESTConfig returns a copy of the admin client configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restConfig) }

// KubectlPath returns the path of the kubectl binary that matches the
// cluster.
func (c *Cluster) KubectlPath() string { return filepath.Join(c.opts.BinDir, "kubectl") }

// LogDir returns the directory holding <component>.log for every process.
func (c *Cluster) LogDir() string { return c.layout.logDir() }

// StartKubemacpool starts kubemacpool-apiserver, every replica of it, with
// the same ports, data and flags as before and returns once each replica is
// ready and the aggregator serves the API again. Start calls it; tests call
// it after StopKubemacpool.
func (c *Cluster) StartKubemacpool(ctx context.Context) error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return fmt.Errorf("starting kubemacpool-apiserver: the cluster is stopped")
	}
	for _, proc := range c.kubemacpoolProcesses() {
		if proc.running() {
			c.mu.Unlock()
			return fmt.Errorf("starting kubemacpool-apiserver: %s is already running", proc.name)
		}
	}
	c.mu.Unlock()
	if err := c.startKubemacpool(ctx); err != nil {
		return fmt.Errorf("starting kubemacpool-apiserver: %w", err)
	}
	return nil
}

// StopKubemacpool stops kubemacpool-apiserver alone, all its replicas at
// once (SIGTERM, SIGKILL after 10 s), and waits for them to exit; etcd and
// kube-apiserver keep running. It reports a replica that had to be killed.
// Stopping every replica keeps "the server was down" meaning what it says:
// no replica serves, watches or runs the lease controller meanwhile.
func (c *Cluster) StopKubemacpool() error {
	c.mu.Lock()
	procs := c.kubemacpoolProcesses()
	c.mu.Unlock()
	if err := stopTogether(procs); err != nil {
		return fmt.Errorf("stopping kubemacpool-apiserver: %w", err)
	}
	// A server that needs SIGKILL would outlast a Pod's termination grace
	// period in a rolling update; tests that restart it should notice.
	var slow []error
	for _, proc := range procs {
		if proc.killedAfterGrace.Load() {
			slow = append(slow, fmt.Errorf("%s did not exit within %s of SIGTERM and was killed; see %s", proc.name, stopGracePeriod, proc.logFile))
		}
	}
	return errors.Join(slow...)
}

// kubemacpoolProcesses returns the tracked replicas of kubemacpool-apiserver,
// replica 0 first. The caller holds c.mu.
func (c *Cluster) kubemacpoolProcesses() []*process {
	var procs []*process
	for _, proc := range append([]*process{c.kubemacpool}, c.kubemacpoolReplicas...) {
		if proc != nil {
			procs = append(procs, proc)
		}
	}
	return procs
}

// stopTogether stops procs concurrently, so that N replicas take one grace
// period at worst rather than N.
func stopTogether(procs []*process) error {
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, proc := range procs {
		wg.Go(func() { errs[i] = proc.stop() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Stop stops every component in reverse start order, each with SIGTERM and
// SIGKILL after 10 s. Every call, also one made while another is under way
// (say from the cancelled context), returns only once all have exited.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stopAll() })
	return c.stopErr
}

func (c *Cluster) stopAll() error {
	c.mu.Lock()
	c.stopped = true
	kubemacpools := c.kubemacpoolProcesses()
	kubemacpoolEtcd := c.kubemacpoolEtcdProcesses()
	balancer := c.balancer
	inReverseOrder := []*process{c.controllers, c.kubeAPIServer, c.etcd}
	c.mu.Unlock()

	// The replicas first and together: they may share etcd, which stops
	// last.
	for _, proc := range kubemacpools {
		c.progress("stopping %s", proc.name)
	}
	var errs []error
	if err := stopTogether(kubemacpools); err != nil {
		errs = append(errs, err)
	}
	if balancer != nil {
		balancer.close()
	}
	for _, proc := range kubemacpoolEtcd {
		c.progress("stopping %s", proc.name)
	}
	if err := stopTogether(kubemacpoolEtcd); err != nil {
		errs = append(errs, err)
	}
	for _, proc := range inReverseOrder {
		if proc == nil {
			continue
		}
		c.progress("stopping %s", proc.name)
		if err := proc.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// track records proc in slot so that Stop will stop it. proc is stopped at
// once, and reported, when the cluster was stopped meanwhile or slot still
// holds a running process (two concurrent StartKubemacpool calls).
func (c *Cluster) track(slot **process, proc *process) error {
	c.mu.Lock()
	var refusal error
	switch {
	case c.stopped:
		refusal = fmt.Errorf("%s: the cluster was stopped while it started", proc.name)
	case *slot != nil && (*slot).running():
		refusal = fmt.Errorf("%s: already running", proc.name)
	default:
		*slot = proc
	}
	c.mu.Unlock()
	if refusal != nil {
		_ = proc.stop()
	}
	return refusal
}

func (c *Cluster) progress(format string, args ...any) {
	elapsed := time.Since(c.startedAt).Seconds()
	fmt.Fprintf(c.opts.Progress, "[%6.1fs] "+format+"\n", append([]any{elapsed}, args...)...)
}
