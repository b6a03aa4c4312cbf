package embeddedetcd

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/klog/v2"
)

// readyTimeout bounds how long a start may take; replaying a large WAL after
// an unclean stop takes seconds, not minutes.
const readyTimeout = 2 * time.Minute

// Server is a running embedded etcd.
type Server struct {
	etcd     *embed.Etcd
	stopping atomic.Bool
	failed   chan error
	// local is the in-process client the API server's storage uses.
	local inProcess
}

const (
	// snapshotCount is how many committed writes trigger a snapshot to
	// disk. A start replays the WAL since the last one and keeps those
	// entries in memory until 100 more writes (see snapshotCatchUpEntries):
	// at 2,000, the restart benchmark's idle store kept 85 MB of lease
	// values that way. A snapshot costs a backend commit and two small
	// synced writes: no difference in the CPU of 3,000 puts was measurable
	// (docs/benchmarks.md).
	snapshotCount = 100
	// snapshotCatchUpEntries is how many entries etcd keeps in memory when
	// it compacts its raft log (every 100 applied entries), for followers
	// that fall behind. A single member has none.
	snapshotCatchUpEntries = 10
)

// Start starts the member and waits until it serves clients. A data directory
// from an earlier run is reused, so the data survives restarts.
func Start(ctx context.Context, o *Options) (*Server, error) {
	clientURL, err := url.Parse(o.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("parsing --embedded-etcd-client-url: %w", err)
	}
	peerURL, err := url.Parse(o.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("parsing --embedded-etcd-peer-url: %w", err)
	}
	config := embed.NewConfig()
	config.Name = "kubemacpool"
	config.Dir = o.DataDir
	config.ListenClientUrls = []url.URL{*clientURL}
	config.AdvertiseClientUrls = []url.URL{*clientURL}
	config.ListenPeerUrls = []url.URL{*peerURL}
	config.AdvertisePeerUrls = []url.URL{*peerURL}
	config.InitialCluster = config.InitialClusterFromName(config.Name)
	config.LogLevel = "warn"
	// etcd replays the raft entries since its last snapshot from the WAL at
	// each start and keeps them in memory until a compaction of its raft
	// log, which keeps the catch-up entries. At the defaults (10,000 and
	// 5,000 entries) that is a copy of every lease written since: about
	// 0.9 KB of heap per lease in the restart benchmark, and a slower
	// start. A single member has no follower to catch up, and a v3
	// snapshot is a commit of the backend, so snapshotting far more often
	// costs next to nothing.
	config.SnapshotCount = snapshotCount
	config.SnapshotCatchUpEntries = snapshotCatchUpEntries

	etcd, err := embed.StartEtcd(config)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %s: %w", o.DataDir, err)
	}
	select {
	case <-etcd.Server.ReadyNotify():
		klog.InfoS("Embedded etcd is ready", "dataDir", o.DataDir, "clientURL", o.ClientURL)
		server := &Server{etcd: etcd, failed: make(chan error, 1)}
		go server.forwardFailures()
		return server, nil
	case err := <-etcd.Err():
		etcd.Close()
		return nil, fmt.Errorf("embedded etcd in %s failed while starting: %w", o.DataDir, err)
	case <-time.After(readyTimeout):
		etcd.Close()
		return nil, fmt.Errorf("embedded etcd in %s was not ready after %s", o.DataDir, readyTimeout)
	case <-ctx.Done():
		etcd.Close()
		return nil, fmt.Errorf("starting embedded etcd: %w", ctx.Err())
	}
}

// forwardFailures passes on the errors of a running member. Closing the
// member makes its listeners report errors too; those are not failures.
func (s *Server) forwardFailures() {
	for err := range s.etcd.Err() {
		if s.stopping.Load() {
			return
		}
		select {
		case s.failed <- err:
		default:
		}
	}
}

// Err reports a failure of the running member.
func (s *Server) Err() <-chan error { return s.failed }

// Stop stops the member and waits for its data to be on disk.
func (s *Server) Stop() {
	s.stopping.Store(true)
	s.stopInProcess()
	s.etcd.Close()
}
