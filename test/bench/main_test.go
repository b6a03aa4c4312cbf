package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/test/localcluster"
)

// Namespaces of the benchmarks. The cluster is new on every run, so fixed
// names are safe.
const (
	// nsManaged is managed by both webhooks (opt-out mode, no label).
	nsManaged = "bench-managed"
	// nsIgnored opted out of both webhooks: the baseline of (b).
	nsIgnored = "bench-ignored"
	// nsLeases holds the leases of (a).
	nsLeases = "bench-leases"
	// nsRestart holds the leases of (d).
	nsRestart = "bench-restart"
	// nsFloor opted out of both webhooks and into the floor webhook
	// (floor_test.go).
	nsFloor = "bench-floor"
)

// env is the one cluster of a benchmark run and its clients.
type env struct {
	cluster *localcluster.Cluster
	kube    kubernetes.Interface
	mac     versioned.Interface
	dynamic dynamic.Interface
	// repoRoot is the repository; outDir its _output/bench, where the
	// cluster lives and the bench writes its chart and profiles.
	repoRoot, outDir string
	// profiles is nil unless KMP_BENCH_PROFILE=1.
	profiles *profiler
	// kasProfiles profiles kube-apiserver; nil unless
	// KMP_BENCH_PROFILE_KAS=1.
	kasProfiles *profiler
	// floor serves the Pods and VirtualMachines of nsFloor.
	floor *floorWebhook
}

var (
	clusterOnce sync.Once
	shared      *env
	sharedErr   error
	// stopCluster ends the cluster's lifetime; TestMain calls it.
	stopCluster context.CancelFunc = func() {}
)

// TestMain stops the cluster that the first benchmark started, whatever
// happened.
func TestMain(m *testing.M) {
	code := m.Run()
	stopCluster()
	if shared != nil {
		if err := shared.cluster.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the local cluster: %v\n", err)
		}
	}
	os.Exit(code)
}

// setup starts the local control plane on first use, in _output/bench
// (emptied first), and returns it. Only benchmarks call it, so a plain `go
// test ./...` starts nothing.
func setup(b *testing.B) *env {
	b.Helper()
	clusterOnce.Do(func() { shared, sharedErr = start() })
	if sharedErr != nil {
		b.Fatal(sharedErr)
	}
	return shared
}

func start() (*env, error) {
	repoRoot, err := filepath.Abs("../..")
	if err != nil {
		return nil, err
	}
	root := filepath.Join(repoRoot, "_output", "bench")
	// KMP_BENCH_BIN_DIR compares two builds of the server on one machine.
	binDir := os.Getenv("KMP_BENCH_BIN_DIR")
	if binDir == "" {
		binDir = filepath.Join(repoRoot, "_output", "bin")
	}
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	// The cluster must outlive the benchmark that starts it.
	var clusterCtx context.Context
	clusterCtx, stopCluster = context.WithCancel(context.Background())
	ctx, cancel := context.WithTimeout(clusterCtx, 5*time.Minute)
	defer cancel()
	cluster, err := localcluster.Start(clusterCtx, localcluster.Options{
		RootDir:      root,
		BinDir:       binDir,
		ArtifactsDir: filepath.Join(repoRoot, "artifacts"),
		Progress:     os.Stderr,
		// KMP_BENCH_SERVER_ARGS measures a flag of the server, e.g.
		// "--watch-cache=false", against its default.
		KubemacpoolArgs: strings.Fields(os.Getenv("KMP_BENCH_SERVER_ARGS")),
	})
	if err != nil {
		return nil, fmt.Errorf("starting the local control plane (logs in %s): %w", filepath.Join(root, "logs"), err)
	}
	config := cluster.RESTConfig()
	// No client-side rate limit: the server is what is measured.
	config.QPS, config.Burst = 1e6, 1e6
	config.Timeout = time.Minute
	e := &env{cluster: cluster, repoRoot: repoRoot, outDir: root}
	if e.kube, err = kubernetes.NewForConfig(config); err != nil {
		return nil, err
	}
	if e.mac, err = versioned.NewForConfig(config); err != nil {
		return nil, err
	}
	if e.dynamic, err = dynamic.NewForConfig(config); err != nil {
		return nil, err
	}
	ignore := map[string]string{"mutatepods.kubemacpool.io": "ignore", "mutatevirtualmachines.kubemacpool.io": "ignore"}
	floor := map[string]string{floorLabel: "true"}
	for key, value := range ignore {
		floor[key] = value
	}
	for name, labels := range map[string]map[string]string{nsManaged: nil, nsIgnored: ignore, nsLeases: nil, nsRestart: nil, nsFloor: floor} {
		namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		if _, err := e.kube.CoreV1().Namespaces().Create(ctx, namespace, metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("creating namespace %s: %w", name, err)
		}
	}
	if e.floor, err = startFloorWebhook(ctx, e.kube); err != nil {
		return nil, err
	}
	if os.Getenv("KMP_BENCH_PROFILE") == "1" {
		if e.profiles, err = newProfiler(filepath.Join(root, "profiles"), cluster.KubemacpoolReplicaConfig(0)); err != nil {
			return nil, err
		}
	}
	if os.Getenv("KMP_BENCH_PROFILE_KAS") == "1" {
		if e.kasProfiles, err = newProfiler(filepath.Join(root, "profiles"), cluster.RESTConfig()); err != nil {
			return nil, err
		}
	}
	// The namespace informers of kubemacpool-apiserver must see the
	// namespaces before a lease or a webhook call names them.
	time.Sleep(2 * time.Second)
	return e, nil
}

// envInt reads a positive integer from the environment, or def.
func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	value := os.Getenv(name)
	if value == "" {
		return def
	}
	n, err := strconv.Atoi(value)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, value)
	}
	return n
}
