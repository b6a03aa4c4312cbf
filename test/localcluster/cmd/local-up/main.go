// Command local-up runs the local control plane of kubemacpool (etcd,
// kube-apiserver and kubemacpool-apiserver behind the aggregator) in the
// foreground until SIGINT or SIGTERM, then stops it. A later run on the same
// --root keeps all data.
//
// Extra flags for kubemacpool-apiserver come from the environment variable
// KUBEMACPOOL_APISERVER_ARGS, split on whitespace. KUBEMACPOOL_REPLICAS=N
// (N >= 2) runs N replicas on a 3-member etcd cluster of their own, behind a
// TCP balancer that stands in for their Service. --kubemacpool-binary runs
// another server binary than --bin-dir's, e.g. one out of the image.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"kubemacpool.io/kubemacpool/test/localcluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "local-up:", err)
		os.Exit(1)
	}
}

func run() error {
	replicas := 1
	if value := os.Getenv("KUBEMACPOOL_REPLICAS"); value != "" {
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 {
			return fmt.Errorf("KUBEMACPOOL_REPLICAS=%q: want a number of replicas, 1 or more", value)
		}
		replicas = n
	}
	opts := localcluster.Options{
		// The documented local metrics endpoint is replica 0's; the other
		// replicas get free ports (printed below), and
		// KUBEMACPOOL_APISERVER_ARGS="--metric-addr=..." may move them all.
		KubemacpoolMetricsPort: 8080,
		KubemacpoolArgs:        strings.Fields(os.Getenv("KUBEMACPOOL_APISERVER_ARGS")),
		KubemacpoolReplicas:    replicas,
		// As the deploy profiles: the shipped audit policy, here to
		// _output/local/logs/kubemacpool-apiserver-audit.log.
		AuditLog: true,
		Progress: os.Stdout,
	}
	flag.StringVar(&opts.RootDir, "root", "_output/local", "directory holding data, PKI, kubeconfigs and logs")
	flag.StringVar(&opts.BinDir, "bin-dir", "_output/bin", "directory holding etcd, kube-apiserver, kubectl and kubemacpool-apiserver")
	flag.StringVar(&opts.KubemacpoolBinary, "kubemacpool-binary", "", "the kubemacpool-apiserver to run; empty for the one in --bin-dir")
	flag.StringVar(&opts.ArtifactsDir, "artifacts", "artifacts", "directory holding crds/, local/ and rbac/")
	flag.Parse()

	ctx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stopSignals()

	started := time.Now()
	cluster, err := localcluster.Start(ctx, opts)
	if err != nil {
		return err
	}
	// Also reached after a signal: Stop is idempotent and waits for the
	// processes that cancelling ctx began to stop.
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "local-up: stopping:", err)
		}
	}()

	if err := checkKubectlWorks(ctx, cluster); err != nil {
		return err
	}
	kubectl := pathFromCwd(cluster.KubectlPath())
	fmt.Println()
	for _, line := range cluster.Summary() {
		fmt.Println(line)
	}
	fmt.Printf("\nexport KUBECONFIG=%s\n", cluster.Kubeconfig())
	fmt.Printf("kubectl: %s\n", kubectl)
	fmt.Printf("logs:    %s\n", cluster.LogDir())
	fmt.Printf("started in %s; press Ctrl-C to stop\n", time.Since(started).Round(100*time.Millisecond))
	fmt.Printf("Kubemacpool local control plane is ready: try  %s get macleases -A\n", kubectl)

	// Cancelling ctx already began stopping the cluster; the deferred Stop
	// waits for it to finish.
	<-ctx.Done()
	return nil
}

// checkKubectlWorks runs exactly what the ready line suggests, with the real
// kubectl, so that the line is never printed before it would work.
func checkKubectlWorks(ctx context.Context, cluster *localcluster.Cluster) error {
	const attempts = 20
	var lastErr error
	for range attempts {
		cmd := exec.CommandContext(ctx, cluster.KubectlPath(), "--kubeconfig="+cluster.Kubeconfig(), "get", "macleases", "-A")
		out, err := cmd.CombinedOutput()
		if err == nil {
			return nil
		}
		lastErr = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("kubectl get macleases -A still fails after %d attempts: %w", attempts, lastErr)
}

// pathFromCwd shortens path to one relative to the working directory when it
// lies below it, so the suggested command can be pasted as is.
func pathFromCwd(path string) string {
	cwd, err := os.Getwd()
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(cwd, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return path
	}
	return rel
}
