package embeddedetcd

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"kubemacpool.io/kubemacpool/pkg/embeddedetcd/embeddedetcdtest"
)

func testOptions(t testing.TB) *Options {
	t.Helper()
	return &Options{DataDir: t.TempDir(), ClientURL: embeddedetcdtest.FreeLoopbackURL(t), PeerURL: embeddedetcdtest.FreeLoopbackURL(t)}
}

func client(t testing.TB, o *Options) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{o.ClientURL}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// The data directory is the member's state: what was written before a stop
// is there after the next start.
func TestDataSurvivesARestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	options := testOptions(t)

	server, err := Start(ctx, options)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	// More writes than snapshotCount, so that the restart reads a snapshot
	// and the WAL after it rather than the WAL alone.
	writer := client(t, options)
	for i := range snapshotCount + 10 {
		if _, err := writer.Put(ctx, fmt.Sprintf("/registry/test/%05d", i), "lease"); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	server.Stop()

	server, err = Start(ctx, options)
	if err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	defer server.Stop()
	response, err := client(t, options).Get(ctx, "/registry/test/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if response.Count != snapshotCount+10 {
		t.Errorf("%d keys after the restart, want %d", response.Count, snapshotCount+10)
	}
	select {
	case err := <-server.Err():
		t.Errorf("a running member reported %v", err)
	default:
	}
}

// A start replays the raft entries since the last snapshot from the WAL and
// keeps them in memory until a compaction of the raft log, which comes only
// after 100 more writes and keeps the catch-up entries. With a snapshot
// every 2,000 writes and 1,000 catch-up entries (this package's settings
// before), every value written since the last snapshot stayed on the heap of
// an idle member: here 40 MB.
func TestReplayedEntriesAreNotKept(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	options := testOptions(t)
	before := liveHeap()
	server, err := Start(ctx, options)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	const (
		writes    = 400 // more than snapshotCount
		valueSize = 100 << 10
	)
	writer := client(t, options)
	value := strings.Repeat("x", valueSize)
	for i := range writes {
		if _, err := writer.Put(ctx, fmt.Sprintf("/registry/test/%05d", i), value); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	server.Stop()

	server, err = Start(ctx, options)
	if err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	defer server.Stop()
	// The replayed entries are applied, and the log compacted, behind
	// readiness: poll.
	const limit = 20 << 20
	var grown int64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if grown = liveHeap() - before; grown < limit {
			return
		}
	}
	t.Errorf("the heap grew by %d MB with the restarted member and stayed so, want less than %d MB (the replayed WAL holds %d MB)",
		grown>>20, limit>>20, writes*valueSize>>20)
}

// liveHeap is the heap in use after a garbage collection.
func liveHeap() int64 {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return int64(stats.HeapAlloc)
}

// Stopping a member is not a failure of it.
func TestStopReportsNoFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server, err := Start(ctx, testOptions(t))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	server.Stop()
	select {
	case err := <-server.Err():
		t.Errorf("Err() after Stop = %v, want nothing", err)
	case <-time.After(500 * time.Millisecond):
	}
}

func TestStartFailsWhenTheClientPortIsTaken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	options := testOptions(t)
	options.ClientURL = "http://" + listener.Addr().String()

	server, err := Start(ctx, options)
	if err == nil {
		server.Stop()
		t.Fatal("Start succeeded on a port another listener holds")
	}
	if !strings.Contains(err.Error(), options.DataDir) {
		t.Errorf("Start error %q does not name the data directory", err)
	}
}

func TestStartRefusesUnparsableURLs(t *testing.T) {
	for flag, change := range map[string]func(*Options){
		"--embedded-etcd-client-url": func(o *Options) { o.ClientURL = "http://127.0.0.1:%zz" },
		"--embedded-etcd-peer-url":   func(o *Options) { o.PeerURL = "http://127.0.0.1:%zz" },
	} {
		options := testOptions(t)
		change(options)
		if _, err := Start(context.Background(), options); err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("Start with a bad %s = %v, want an error naming the flag", flag, err)
		}
	}
}

func TestStartGivesUpWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	server, err := Start(ctx, testOptions(t))
	if err == nil {
		// A new member needs an election before it is ready, so the
		// cancelled context is always first.
		server.Stop()
		t.Fatal("Start succeeded with a cancelled context")
	}
	if !strings.Contains(err.Error(), context.Canceled.Error()) {
		t.Errorf("Start with a cancelled context = %v, want it to say so", err)
	}
}
