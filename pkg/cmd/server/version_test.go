package server

import (
	"bytes"
	"strings"
	"testing"

	basecompatibility "k8s.io/component-base/compatibility"
	baseversion "k8s.io/component-base/version"

	"kubemacpool.io/kubemacpool/pkg/version"
)

func TestVersionEndpointReportsTheBuild(t *testing.T) {
	effective := buildEffectiveVersion{
		MutableEffectiveVersion: basecompatibility.NewEffectiveVersionFromString(baseversion.DefaultKubeBinaryVersion, "", ""),
	}
	info := effective.Info()
	build := version.Get()
	if info.GitVersion != build.GitVersion || info.GitCommit != build.GitCommit || info.BuildDate != build.BuildDate {
		t.Errorf("/version reports %s %s %s, the build is %s %s %s",
			info.GitVersion, info.GitCommit, info.BuildDate, build.GitVersion, build.GitCommit, build.BuildDate)
	}
	// The library keeps gating features by the Kubernetes version.
	if got := info.Major + "." + info.Minor; got != baseversion.DefaultKubeBinaryVersion {
		t.Errorf("/version major.minor %s, want the Kubernetes version %s", got, baseversion.DefaultKubeBinaryVersion)
	}
	if effective.BinaryVersion().String() != effective.MutableEffectiveVersion.BinaryVersion().String() {
		t.Errorf("binary version changed to %s", effective.BinaryVersion())
	}
}

func TestVersionFlagPrintsAndSkipsTheServer(t *testing.T) {
	var stdout, stderr bytes.Buffer
	options := NewOptions(&stdout, &stderr)
	cmd := NewCommand(t.Context(), options)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	// An invalid value elsewhere would fail Validate, which --version
	// must never reach.
	cmd.SetArgs([]string{"--version", "--max-macs-per-object=0"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("--version: %v (stderr %s)", err, stderr.String())
	}
	if got := strings.TrimSpace(stdout.String()); got != version.String() {
		t.Errorf("--version printed %q, want %q", got, version.String())
	}
}
