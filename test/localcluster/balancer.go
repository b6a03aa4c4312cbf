package localcluster

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// balancerDialTimeout bounds the dial of one backend. On loopback a dead
// replica refuses at once; the timeout only matters for a stuck one.
const balancerDialTimeout = time.Second

// tcpBalancer stands in for what a Service gives the replicas of a
// Deployment in a real cluster: one address (the ClusterIP) and kube-proxy
// spreading connections over the ready endpoints. Each new connection goes
// round-robin to the next backend whose dial succeeds, so a killed replica
// gets no new connections (kube-proxy learns that from the endpoint's
// readiness; here the refused dial tells at once). It passes bytes through
// untouched: TLS stays end to end, and kube-apiserver verifies the replica's
// serving certificate as it would behind a Service. Connections that were
// open to a replica that dies break, as they would in a cluster.
type tcpBalancer struct {
	listener net.Listener
	backends []string // host:port

	next atomic.Uint64
	// opened counts the connections made to each backend.
	opened []atomic.Int64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// startBalancer starts the balancer in front of several replicas; with one
// replica there is none, and the Service port is the replica's own.
func (c *Cluster) startBalancer() error {
	if c.ports.KubemacpoolService == 0 {
		return nil
	}
	backends := make([]string, c.opts.kubemacpoolReplicas())
	for i := range backends {
		backends[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(c.ports.kubemacpool(i).Secure))
	}
	listener, err := listenLoopback(c.ports.KubemacpoolService)
	if err != nil {
		return fmt.Errorf("starting the Service balancer: %w", err)
	}
	b := &tcpBalancer{listener: listener, backends: backends, opened: make([]atomic.Int64, len(backends)), conns: map[net.Conn]struct{}{}}
	c.mu.Lock()
	stopped := c.stopped
	if !stopped {
		c.balancer = b
	}
	c.mu.Unlock()
	if stopped {
		_ = listener.Close()
		return fmt.Errorf("the Service balancer: the cluster was stopped while it started")
	}
	c.progress("Service balancer on 127.0.0.1:%d spreads connections over %d replicas", c.ports.KubemacpoolService, len(backends))
	b.wg.Add(1)
	go b.serve()
	return nil
}

// kubemacpoolServicePort is the port the APIService and the webhooks use:
// the balancer's with several replicas, else the single replica's.
func (c *Cluster) kubemacpoolServicePort() int32 {
	if c.ports.KubemacpoolService != 0 {
		return int32(c.ports.KubemacpoolService)
	}
	return int32(c.ports.Kubemacpool)
}

// KubemacpoolServiceURL is where the Service in front of the replicas
// listens: the balancer, or the single replica itself.
func (c *Cluster) KubemacpoolServiceURL() string {
	return "https://127.0.0.1:" + strconv.Itoa(int(c.kubemacpoolServicePort()))
}

// KubemacpoolServiceConnections returns how many connections the balancer
// has sent to each replica so far; nil with one replica.
func (c *Cluster) KubemacpoolServiceConnections() []int64 {
	c.mu.Lock()
	b := c.balancer
	c.mu.Unlock()
	if b == nil {
		return nil
	}
	counts := make([]int64, len(b.opened))
	for i := range counts {
		counts[i] = b.opened[i].Load()
	}
	return counts
}

func (b *tcpBalancer) serve() {
	defer b.wg.Done()
	for {
		client, err := b.listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if !b.add(client) {
			_ = client.Close()
			return
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.forward(client)
		}()
	}
}

// forward connects client to the first backend, from the next in turn,
// that accepts, and copies bytes both ways until either side closes.
func (b *tcpBalancer) forward(client net.Conn) {
	defer b.remove(client)
	start := b.next.Add(1)
	var backend net.Conn
	for k := range uint64(len(b.backends)) {
		i := (start + k) % uint64(len(b.backends))
		conn, err := net.DialTimeout("tcp", b.backends[i], balancerDialTimeout)
		if err != nil {
			continue
		}
		b.opened[i].Add(1)
		backend = conn
		break
	}
	if backend == nil {
		// No replica accepts: the caller sees the connection closed, as
		// with a Service without ready endpoints.
		return
	}
	if !b.add(backend) {
		_ = backend.Close()
		return
	}
	defer b.remove(backend)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Either side ending ends the connection: close both so that the
		// other copy returns too.
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go pipe(backend, client)
	go pipe(client, backend)
	<-done
	<-done
}

// add tracks conn so that close can end it; false once the balancer is
// closed.
func (b *tcpBalancer) add(conn net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.conns[conn] = struct{}{}
	return true
}

func (b *tcpBalancer) remove(conn net.Conn) {
	_ = conn.Close()
	b.mu.Lock()
	delete(b.conns, conn)
	b.mu.Unlock()
}

// close stops accepting, ends every open connection and waits for the
// forwarding goroutines.
func (b *tcpBalancer) close() {
	b.mu.Lock()
	b.closed = true
	_ = b.listener.Close()
	for conn := range b.conns {
		_ = conn.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}
