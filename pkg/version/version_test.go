package version

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	apimachineryversion "k8s.io/apimachinery/pkg/version"
)

// TestLinkerStamp links a program with the -ldflags -X that `make build`
// and `make image` pass: a renamed variable would otherwise leave every
// build unstamped without an error from the linker.
func TestLinkerStamp(t *testing.T) {
	const (
		pkg     = "kubemacpool.io/kubemacpool/pkg/version"
		version = "v1.2.3-4-gabcdef0-dirty"
		commit  = "abcdef0123456789abcdef0123456789abcdef01"
		date    = "2026-01-02T03:04:05Z"
	)
	binary := filepath.Join(t.TempDir(), "printversion")
	ldflags := "-X " + pkg + ".gitVersion=" + version + " -X " + pkg + ".gitCommit=" + commit + " -X " + pkg + ".buildDate=" + date
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", binary, "./testdata/printversion").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(binary).Output()
	if err != nil {
		t.Fatalf("running the stamped program: %v", err)
	}
	var got struct {
		Info   apimachineryversion.Info
		String string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decoding %q: %v", out, err)
	}
	if got.Info.GitVersion != version || got.Info.GitCommit != commit || got.Info.BuildDate != date {
		t.Errorf("stamped %s %s %s, got %+v", version, commit, date, got.Info)
	}
	want := "kubemacpool-apiserver " + version + " (commit " + commit + ", built " + date + ", "
	if !strings.HasPrefix(got.String, want) {
		t.Errorf("String() = %q, want the prefix %q", got.String, want)
	}
}

func TestUnstampedSaysSo(t *testing.T) {
	info := Get()
	if info.GitVersion != "v0.0.0-unknown" || info.GoVersion != runtime.Version() {
		t.Errorf("an unstamped test binary reports %+v", info)
	}
	if got := String(); !strings.Contains(got, "commit unknown") {
		t.Errorf("String() = %q, want it to say the commit is unknown", got)
	}
}
