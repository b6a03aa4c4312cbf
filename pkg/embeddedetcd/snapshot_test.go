package embeddedetcd

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// loopbackOptions returns options for a member in dir on free loopback ports.
func loopbackOptions(t *testing.T, dir string) *Options {
	t.Helper()
	port := func() int {
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer listener.Close()
		return listener.Addr().(*net.TCPAddr).Port
	}
	return &Options{
		DataDir:   dir,
		ClientURL: fmt.Sprintf("http://127.0.0.1:%d", port()),
		PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", port()),
	}
}

func connect(t *testing.T, o *Options) *clientv3.Client {
	t.Helper()
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{o.ClientURL}, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func allKeys(t *testing.T, ctx context.Context, client *clientv3.Client) map[string]string {
	t.Helper()
	response, err := client.Get(ctx, "", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, kv := range response.Kvs {
		keys[string(kv.Key)] = string(kv.Value)
	}
	return keys
}

// An online snapshot of a member with overwritten, deleted and leased keys
// restores to exactly the keys alive at the snapshot, minus the leased one.
func TestSnapshotRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	source := loopbackOptions(t, filepath.Join(t.TempDir(), "etcd"))
	server, err := Start(ctx, source)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Stop()
	client := connect(t, source)
	want := map[string]string{}
	// More than one transaction's worth, so that batching is exercised.
	for i := range 250 {
		key := fmt.Sprintf("/registry/macpool.kubemacpool.io/macleases/02-00-00-00-%02x-%02x", i/256, i%256)
		want[key] = fmt.Sprintf("lease %d", i)
		if _, err := client.Put(ctx, key, "first value"); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Put(ctx, key, want[key]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.Put(ctx, "/registry/deleted", "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Delete(ctx, "/registry/deleted"); err != nil {
		t.Fatal(err)
	}
	grant, err := client.Grant(ctx, 3600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Put(ctx, "/registry/events/leased", "expires", clientv3.WithLease(grant.ID)); err != nil {
		t.Fatal(err)
	}
	// Compaction drops old revisions; the restore must still find every key.
	if _, err := client.Compact(ctx, 100); err != nil {
		t.Fatal(err)
	}

	var snapshot bytes.Buffer
	if _, err := SaveSnapshot(ctx, source.ClientURL, &snapshot); err != nil {
		t.Fatal(err)
	}
	// A write after the snapshot is not in it.
	if _, err := client.Put(ctx, "/registry/later", "after"); err != nil {
		t.Fatal(err)
	}

	target := loopbackOptions(t, filepath.Join(t.TempDir(), "restored", "etcd"))
	result, err := RestoreSnapshot(ctx, bytes.NewReader(snapshot.Bytes()), target)
	if err != nil {
		t.Fatal(err)
	}
	if result.Keys != len(want) || result.SkippedLeased != 1 {
		t.Errorf("restored %+v, want %d keys and 1 leased key skipped", result, len(want))
	}
	// The restored directory is a member's data directory: it starts.
	restored, err := Start(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Stop()
	got := allKeys(t, ctx, connect(t, target))
	if len(got) != len(want) {
		t.Errorf("restored %d keys, want %d", len(got), len(want))
	}
	for key, value := range want {
		if got[key] != value {
			t.Errorf("key %s = %q, want %q", key, got[key], value)
		}
	}
}

func TestRestoreRefusals(t *testing.T) {
	ctx := context.Background()
	full := filepath.Join(t.TempDir(), "etcd")
	if err := os.MkdirAll(filepath.Join(full, "member"), 0o700); err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Repeat([]byte{1}, 4096+32)
	for name, tc := range map[string]struct {
		dir, want string
		snapshot  []byte
	}{
		"data dir in use":  {dir: full, snapshot: damaged, want: "is not empty"},
		"truncated":        {snapshot: []byte("not a snapshot"), want: "no etcd checksum"},
		"damaged checksum": {snapshot: damaged, want: "checksum does not match"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := tc.dir
			if dir == "" {
				dir = filepath.Join(t.TempDir(), "etcd")
			}
			_, err := RestoreSnapshot(ctx, bytes.NewReader(tc.snapshot), loopbackOptions(t, dir))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
			if tc.dir == "" {
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Errorf("a refused restore left %s behind", dir)
				}
			}
		})
	}
}
