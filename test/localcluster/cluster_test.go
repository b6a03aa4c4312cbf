package localcluster_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kubemacpool.io/kubemacpool/test/localcluster"
)

// TestClusterLifecycle starts the real binaries from _output/bin (make
// test-e2e builds them first), or from LOCALCLUSTER_BIN_DIR when set. A missing
// binary fails the test: it never passes by not running.
func TestClusterLifecycle(t *testing.T) {
	binDir := os.Getenv("LOCALCLUSTER_BIN_DIR")
	if binDir == "" {
		binDir = filepath.Join("..", "..", "_output", "bin")
	}
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	opts := localcluster.Options{
		RootDir:      t.TempDir(),
		BinDir:       binDir,
		ArtifactsDir: filepath.Join("..", "..", "artifacts"),
		Progress:     &progress,
	}
	t.Cleanup(func() { t.Logf("progress:\n%s", progress.String()) })

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cluster, err := localcluster.Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	kubectl := func(kubeconfig string, args ...string) (string, error) {
		out, err := exec.Command(cluster.KubectlPath(), append([]string{"--kubeconfig=" + kubeconfig}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := kubectl(cluster.Kubeconfig(), "create", "namespace", "kept-across-restarts"); err != nil {
		t.Fatalf("creating namespace: %v: %s", err, out)
	}
	if out, err := kubectl(cluster.Kubeconfig(), "get", "macleases", "-A"); err != nil {
		t.Fatalf("listing macleases: %v: %s", err, out)
	}

	t.Run("user kubeconfig authenticates as the user, without admin rights", func(t *testing.T) {
		path, err := cluster.UserKubeconfig("alice", "developers")
		if err != nil {
			t.Fatal(err)
		}
		out, err := kubectl(path, "auth", "whoami")
		if err != nil || !strings.Contains(out, "alice") || !strings.Contains(out, "developers") {
			t.Fatalf("whoami as alice: %v: %s", err, out)
		}
		if out, err := kubectl(path, "get", "namespaces"); err == nil || !strings.Contains(out, "forbidden") {
			t.Fatalf("alice listed namespaces: %v: %s", err, out)
		}
	})

	t.Run("kubemacpool-apiserver restarts alone", func(t *testing.T) {
		if err := cluster.StopKubemacpool(); err != nil {
			t.Fatal(err)
		}
		started := time.Now()
		if err := cluster.StartKubemacpool(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Logf("kubemacpool-apiserver served again after %s", time.Since(started))
		if out, err := kubectl(cluster.Kubeconfig(), "get", "macleases", "-A"); err != nil {
			t.Fatalf("listing macleases after restart: %v: %s", err, out)
		}
	})

	caBefore, err := os.ReadFile(filepath.Join(opts.RootDir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	// Cancelling the context stops the cluster; Stop waits for that.
	cancel()
	if err := cluster.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	restarted, err := localcluster.Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("second Start: %v", err)
	}
	defer func() {
		if err := restarted.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	if out, err := kubectl(restarted.Kubeconfig(), "get", "namespace", "kept-across-restarts"); err != nil {
		t.Fatalf("namespace lost across restarts: %v: %s", err, out)
	}
	caAfter, err := os.ReadFile(filepath.Join(opts.RootDir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(caBefore, caAfter) {
		t.Fatal("the cluster CA was not reused on the second start")
	}
}
