package localcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
)

// Kubemacpool's own etcd cluster: with several replicas, they share an
// external etcd cluster of Options.KubemacpoolEtcdMembers members, apart from
// the single etcd of kube-apiserver, as a real installation would run it
// (kubemacpool's storage is its own concern, and killing one of its members
// must not disturb kube-apiserver).

// kubemacpoolEtcdName names member j in logs and errors.
func kubemacpoolEtcdName(j int) string { return "kubemacpool-etcd-" + strconv.Itoa(j) }

func (c *Cluster) kubemacpoolEtcdMemberURL(j int) string {
	return fmt.Sprintf("http://127.0.0.1:%d", c.ports.KubemacpoolEtcdMembers[j].Client)
}

func (c *Cluster) kubemacpoolEtcdPeerURL(j int) string {
	return fmt.Sprintf("http://127.0.0.1:%d", c.ports.KubemacpoolEtcdMembers[j].Peer)
}

// kubemacpoolEtcdServers is the --etcd-servers of every replica: all
// members, so that the etcd client fails over when one dies.
func (c *Cluster) kubemacpoolEtcdServers() string {
	urls := make([]string, len(c.ports.KubemacpoolEtcdMembers))
	for j := range urls {
		urls[j] = c.kubemacpoolEtcdMemberURL(j)
	}
	return strings.Join(urls, ",")
}

// kubemacpoolEtcdArgs are the flags of member j. On a restart with existing
// data the --initial-* flags are ignored and the stored membership wins,
// which is why the peer ports are kept in ports.json.
func (c *Cluster) kubemacpoolEtcdArgs(j int) []string {
	initial := make([]string, len(c.ports.KubemacpoolEtcdMembers))
	for k := range initial {
		initial[k] = fmt.Sprintf("m%d=%s", k, c.kubemacpoolEtcdPeerURL(k))
	}
	return []string{
		fmt.Sprintf("--name=m%d", j),
		"--data-dir=" + c.layout.kubemacpoolEtcdMemberDir(j),
		"--listen-client-urls=" + c.kubemacpoolEtcdMemberURL(j),
		"--advertise-client-urls=" + c.kubemacpoolEtcdMemberURL(j),
		"--listen-peer-urls=" + c.kubemacpoolEtcdPeerURL(j),
		"--initial-advertise-peer-urls=" + c.kubemacpoolEtcdPeerURL(j),
		"--initial-cluster=" + strings.Join(initial, ","),
		"--initial-cluster-state=new",
		"--initial-cluster-token=kubemacpool-etcd",
		// As for the control plane's etcd: a throw-away development store.
		"--unsafe-no-fsync=true",
	}
}

// kubemacpoolEtcdProcesses returns the tracked members. The caller holds
// c.mu.
func (c *Cluster) kubemacpoolEtcdProcesses() []*process {
	var procs []*process
	for _, proc := range c.kubemacpoolEtcd {
		if proc != nil {
			procs = append(procs, proc)
		}
	}
	return procs
}

// startKubemacpoolEtcd starts every member together (the first alone has no
// quorum and would never become healthy) and waits until each is healthy.
// It does nothing when the single replica embeds its etcd.
func (c *Cluster) startKubemacpoolEtcd(ctx context.Context) error {
	if len(c.kubemacpoolEtcd) == 0 {
		return nil
	}
	members := make([]int, len(c.kubemacpoolEtcd))
	for j := range members {
		members[j] = j
	}
	return c.startKubemacpoolEtcdMembers(ctx, members)
}

func (c *Cluster) startKubemacpoolEtcdMembers(ctx context.Context, members []int) error {
	procs := make([]*process, len(members))
	for k, j := range members {
		name := kubemacpoolEtcdName(j)
		c.progress("starting %s on %s (data in %s)", name, c.kubemacpoolEtcdMemberURL(j), c.layout.kubemacpoolEtcdMemberDir(j))
		proc, err := startProcess(name, filepath.Join(c.opts.BinDir, "etcd"), c.kubemacpoolEtcdArgs(j), c.layout.log(name))
		if err != nil {
			return err
		}
		if err := c.track(&c.kubemacpoolEtcd[j], proc); err != nil {
			return err
		}
		procs[k] = proc
	}
	for k, j := range members {
		if err := waitUntil(ctx, kubemacpoolEtcdName(j)+" /health", etcdReadyTimeout, procs[k], c.kubemacpoolEtcdHealthCheck(j)); err != nil {
			return err
		}
	}
	return nil
}

// kubemacpoolEtcdHealthCheck passes when member j reports healthy, which
// takes a raft leader, hence a quorum.
func (c *Cluster) kubemacpoolEtcdHealthCheck(j int) func(context.Context) error {
	url := c.kubemacpoolEtcdMemberURL(j) + "/health"
	return func(ctx context.Context) error { return checkGet(ctx, shortHTTPClient, url, etcdHealthy) }
}

// KubemacpoolEtcdMembers is the number of members of kubemacpool's own etcd
// cluster, 0 when the single replica embeds its etcd.
func (c *Cluster) KubemacpoolEtcdMembers() int { return len(c.kubemacpoolEtcd) }

// KubemacpoolEtcdMemberURL is the client URL of member j.
func (c *Cluster) KubemacpoolEtcdMemberURL(j int) string { return c.kubemacpoolEtcdMemberURL(j) }

// KubemacpoolEtcdMemberPID is the process id of member j, or 0 while it does
// not run.
func (c *Cluster) KubemacpoolEtcdMemberPID(j int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return pidOf(c.kubemacpoolEtcd[j])
}

// KillKubemacpoolEtcdMember kills member j with SIGKILL, as a crash or an
// OOM kill would, and waits until it has exited.
func (c *Cluster) KillKubemacpoolEtcdMember(j int) error {
	c.mu.Lock()
	proc := c.kubemacpoolEtcd[j]
	c.mu.Unlock()
	if err := proc.kill(); err != nil {
		return fmt.Errorf("killing %s: %w", kubemacpoolEtcdName(j), err)
	}
	c.progress("killed %s (SIGKILL)", kubemacpoolEtcdName(j))
	return nil
}

// RestartKubemacpoolEtcdMember starts member j again on its data and ports
// and waits until it is healthy again.
func (c *Cluster) RestartKubemacpoolEtcdMember(ctx context.Context, j int) error {
	if err := c.startKubemacpoolEtcdMembers(ctx, []int{j}); err != nil {
		return fmt.Errorf("restarting %s: %w", kubemacpoolEtcdName(j), err)
	}
	return nil
}

// StopKubemacpoolEtcd stops every member of kubemacpool's etcd cluster
// (SIGTERM, SIGKILL after 10 s) and waits for them: the replicas lose their
// storage altogether.
func (c *Cluster) StopKubemacpoolEtcd() error {
	c.mu.Lock()
	procs := c.kubemacpoolEtcdProcesses()
	c.mu.Unlock()
	if err := stopTogether(procs); err != nil {
		return fmt.Errorf("stopping kubemacpool's etcd cluster: %w", err)
	}
	c.progress("stopped kubemacpool's etcd cluster")
	return nil
}

// StartKubemacpoolEtcd starts every member again after StopKubemacpoolEtcd
// and waits until all are healthy.
func (c *Cluster) StartKubemacpoolEtcd(ctx context.Context) error {
	if err := c.startKubemacpoolEtcd(ctx); err != nil {
		return fmt.Errorf("starting kubemacpool's etcd cluster: %w", err)
	}
	return nil
}

// KubemacpoolEtcdLeader returns the member that is raft leader now, asking
// the running members for their status.
func (c *Cluster) KubemacpoolEtcdLeader(ctx context.Context) (int, error) {
	ids := map[string]int{}
	leaders := map[string]bool{}
	var lastErr error
	for j := range c.kubemacpoolEtcd {
		status, err := c.kubemacpoolEtcdStatus(ctx, j)
		if err != nil {
			lastErr = err
			continue
		}
		ids[status.Header.MemberID] = j
		if status.Leader != "" && status.Leader != "0" {
			leaders[status.Leader] = true
		}
	}
	if len(leaders) != 1 {
		return -1, fmt.Errorf("the members of kubemacpool's etcd name %d leaders (last error: %v)", len(leaders), lastErr)
	}
	for leader := range leaders {
		if j, ok := ids[leader]; ok {
			return j, nil
		}
	}
	return -1, fmt.Errorf("the raft leader of kubemacpool's etcd is not a running member")
}

type etcdStatus struct {
	Header struct {
		MemberID string `json:"member_id"`
	} `json:"header"`
	Leader string `json:"leader"`
}

// kubemacpoolEtcdStatus calls the Maintenance.Status RPC of member j through
// etcd's JSON gateway.
func (c *Cluster) kubemacpoolEtcdStatus(ctx context.Context, j int) (etcdStatus, error) {
	var status etcdStatus
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.kubemacpoolEtcdMemberURL(j)+"/v3/maintenance/status", bytes.NewReader([]byte("{}")))
	if err != nil {
		return status, err
	}
	resp, err := shortHTTPClient.Do(req)
	if err != nil {
		return status, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64*1024))
	if resp.StatusCode != http.StatusOK {
		return status, fmt.Errorf("%s status: %d %s", kubemacpoolEtcdName(j), resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &status); err != nil {
		return status, fmt.Errorf("%s status %q: %w", kubemacpoolEtcdName(j), body, err)
	}
	return status, nil
}
