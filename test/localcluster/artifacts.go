package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// artifactDirs are applied in this order: CRDs first so that anything below
// may use them, then the kubemacpool-apiserver identity, then the RBAC roles.
var artifactDirs = []string{"crds", "local", "rbac"}

func (c *Cluster) applyArtifacts(ctx context.Context) error {
	for _, name := range artifactDirs {
		dir := filepath.Join(c.opts.ArtifactsDir, name)
		hasYAML, err := holdsYAML(dir)
		if err != nil {
			return fmt.Errorf("looking at %s: %w", dir, err)
		}
		if !hasYAML {
			// rbac/ is written separately and may not exist yet.
			c.progress("skipping %s: no YAML there", dir)
			continue
		}
		c.progress("applying %s", dir)
		if _, err := c.kubectl(ctx, "apply", "--recursive", "--filename="+dir); err != nil {
			return fmt.Errorf("applying %s: %w", dir, err)
		}
		if name == "crds" {
			// Objects of a CRD can only be created once it is Established.
			if _, err := c.kubectl(ctx, "wait", "--for=condition=Established", "--timeout=60s", "customresourcedefinitions", "--all"); err != nil {
				return fmt.Errorf("waiting for CRDs to be Established: %w", err)
			}
		}
	}
	return nil
}

// holdsYAML tells whether dir or any directory below it has a YAML file; a
// missing dir holds none.
func holdsYAML(dir string) (bool, error) {
	found := false
	err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := filepath.Ext(path)
		if !entry.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return found, err
}

// kubectl runs the real kubectl binary against the cluster as admin and
// returns its standard output; the error carries its standard error.
func (c *Cluster) kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.KubectlPath(), append([]string{"--kubeconfig=" + c.Kubeconfig()}, args...)...)
	// Keep kubectl's discovery cache with the cluster: ports, and with them
	// the cache key, are reused across runs of different clusters.
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+filepath.Join(c.opts.RootDir, "kubectl-cache"))
	var stdout, stderr strings.Builder
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
