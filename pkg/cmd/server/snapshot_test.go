package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kubemacpool.io/kubemacpool/pkg/embeddedetcd"
	"kubemacpool.io/kubemacpool/pkg/embeddedetcd/embeddedetcdtest"
)

func runServerCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := NewCommand(t.Context(), NewOptions(&stdout, &stderr))
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return stderr.String(), err
}

// `snapshot save` and `snapshot restore` take a running member's data into
// a new data directory that a member starts on.
func TestSnapshotCommands(t *testing.T) {
	source := &embeddedetcd.Options{DataDir: filepath.Join(t.TempDir(), "etcd"), ClientURL: embeddedetcdtest.FreeLoopbackURL(t), PeerURL: embeddedetcdtest.FreeLoopbackURL(t)}
	server, err := embeddedetcd.Start(t.Context(), source)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "snapshot.db")
	stderr, err := runServerCommand(t, "snapshot", "save", "--endpoint="+source.ClientURL, "--file="+file)
	server.Stop()
	if err != nil {
		t.Fatalf("save: %v: %s", err, stderr)
	}
	if !strings.Contains(stderr, "Saved a snapshot of") {
		t.Errorf("save says %q", stderr)
	}
	if _, err := os.Stat(file + ".part"); !os.IsNotExist(err) {
		t.Errorf("save left %s.part behind", file)
	}

	target := filepath.Join(t.TempDir(), "restored")
	restoreArgs := []string{"snapshot", "restore", "--file=" + file, "--embedded-etcd-data-dir=" + target,
		"--embedded-etcd-client-url=" + embeddedetcdtest.FreeLoopbackURL(t), "--embedded-etcd-peer-url=" + embeddedetcdtest.FreeLoopbackURL(t)}
	stderr, err = runServerCommand(t, restoreArgs...)
	if err != nil {
		t.Fatalf("restore: %v: %s", err, stderr)
	}
	if !strings.Contains(stderr, "Restored ") {
		t.Errorf("restore says %q", stderr)
	}
	// Never over data: the same restore again is refused.
	if _, err := runServerCommand(t, restoreArgs...); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Errorf("a restore over data: %v, want a refusal", err)
	}
}

func TestSnapshotCommandErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"save without file":    {args: []string{"snapshot", "save"}, want: "--file is required"},
		"restore without file": {args: []string{"snapshot", "restore"}, want: "--file is required"},
		"restore off loopback": {args: []string{"snapshot", "restore", "--file=x", "--embedded-etcd-client-url=http://10.0.0.1:2379"},
			want: "--embedded-etcd-client-url"},
		"save from nowhere": {args: []string{"snapshot", "save", "--file=-", "--endpoint=" + "http://127.0.0.1:1"}, want: "reaching etcd at http://127.0.0.1:1"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := runServerCommand(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}
