package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"reflect"
	"strconv"
)

// ports are the TCP ports on 127.0.0.1 the control plane listens on. They are
// stored in ports.json so that a restart keeps them: etcd records its peer URL
// in the membership on first start, and stable ports keep the kubeconfigs of a
// previous run valid.
type ports struct {
	EtcdClient    int `json:"etcdClient"`
	EtcdPeer      int `json:"etcdPeer"`
	KubeAPIServer int `json:"kubeAPIServer"`
	Kubemacpool   int `json:"kubemacpool"`
	// The embedded etcd of kubemacpool-apiserver would otherwise listen on
	// fixed default ports, and two clusters (parallel e2e runs) would clash.
	KubemacpoolEtcdClient int `json:"kubemacpoolEtcdClient"`
	KubemacpoolEtcdPeer   int `json:"kubemacpoolEtcdPeer"`
	// The plain Prometheus endpoint, on loopback like the default
	// 127.0.0.1:8080, but on a port of its own so that clusters do not
	// clash.
	KubemacpoolMetrics int `json:"kubemacpoolMetrics"`
	// KubemacpoolReplicas are the ports of kubemacpool-apiserver replicas
	// 1..N-1 when Options.KubemacpoolReplicas is N >= 2. Replica 0 keeps the
	// fields above, so a single-replica cluster reads and writes the same
	// ports.json as before.
	KubemacpoolReplicas []replicaPorts `json:"kubemacpoolReplicas,omitempty"`
	// KubemacpoolEtcdMembers are the ports of the members of kubemacpool's
	// own etcd cluster when several replicas run (Options.KubemacpoolEtcdMembers).
	KubemacpoolEtcdMembers []etcdMemberPorts `json:"kubemacpoolEtcdMembers,omitempty"`
	// KubemacpoolService is the port of the TCP balancer that stands in for
	// the Service in front of several replicas; 0 with one replica.
	KubemacpoolService int `json:"kubemacpoolService,omitempty"`
}

// etcdMemberPorts are the client and peer ports of one etcd member.
type etcdMemberPorts struct {
	Client int `json:"client"`
	Peer   int `json:"peer"`
}

// replicaPorts are the ports one extra kubemacpool-apiserver replica listens
// on; it needs no etcd ports, since replicas share an external etcd.
type replicaPorts struct {
	Secure  int `json:"secure"`
	Metrics int `json:"metrics"`
}

// kubemacpool returns the secure and metrics ports of replica i.
func (p ports) kubemacpool(i int) replicaPorts {
	if i == 0 {
		return replicaPorts{Secure: p.Kubemacpool, Metrics: p.KubemacpoolMetrics}
	}
	return p.KubemacpoolReplicas[i-1]
}

// loadOrChoosePorts reuses the ports stored at path where they are still free
// and picks fresh free ports for the rest, then stores the result. It keeps
// ports for exactly kubemacpoolReplicas replicas of kubemacpool-apiserver.
func loadOrChoosePorts(path string, kubemacpoolReplicas int) (ports, error) {
	return loadOrChoosePortsFor(path, kubemacpoolReplicas, Options{KubemacpoolReplicas: kubemacpoolReplicas}.kubemacpoolEtcdMembers())
}

// loadOrChoosePortsFor is loadOrChoosePorts that also keeps ports for
// etcdMembers members of kubemacpool's own etcd cluster and, for several
// replicas, for the balancer in front of them.
func loadOrChoosePortsFor(path string, kubemacpoolReplicas, etcdMembers int) (ports, error) {
	var stored ports
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return stored, fmt.Errorf("reading %s: %w", path, err)
	default:
		if err := json.Unmarshal(data, &stored); err != nil {
			return stored, fmt.Errorf("parsing %s: %w", path, err)
		}
	}

	// Hold every listener open until all ports are picked so that two
	// components never get the same port.
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	chosen := stored
	// A copy, so that filling in chosen does not change stored; nil rather
	// than empty for one replica, so that it compares equal to a file
	// without the field.
	chosen.KubemacpoolReplicas = nil
	if extra := kubemacpoolReplicas - 1; extra > 0 {
		chosen.KubemacpoolReplicas = make([]replicaPorts, extra)
		copy(chosen.KubemacpoolReplicas, stored.KubemacpoolReplicas)
	}
	toChoose := []*int{
		&chosen.EtcdClient, &chosen.EtcdPeer, &chosen.KubeAPIServer,
		&chosen.Kubemacpool, &chosen.KubemacpoolEtcdClient, &chosen.KubemacpoolEtcdPeer, &chosen.KubemacpoolMetrics,
	}
	for i := range chosen.KubemacpoolReplicas {
		replica := &chosen.KubemacpoolReplicas[i]
		toChoose = append(toChoose, &replica.Secure, &replica.Metrics)
	}
	chosen.KubemacpoolEtcdMembers = nil
	if etcdMembers > 0 {
		chosen.KubemacpoolEtcdMembers = make([]etcdMemberPorts, etcdMembers)
		copy(chosen.KubemacpoolEtcdMembers, stored.KubemacpoolEtcdMembers)
	}
	for i := range chosen.KubemacpoolEtcdMembers {
		member := &chosen.KubemacpoolEtcdMembers[i]
		toChoose = append(toChoose, &member.Client, &member.Peer)
	}
	chosen.KubemacpoolService = 0
	if kubemacpoolReplicas > 1 {
		chosen.KubemacpoolService = stored.KubemacpoolService
		toChoose = append(toChoose, &chosen.KubemacpoolService)
	}
	for _, port := range toChoose {
		l, err := listenLoopback(*port)
		if err != nil {
			// Stored port taken (or none stored yet): let the kernel pick.
			if l, err = listenLoopback(0); err != nil {
				return stored, fmt.Errorf("choosing a free port: %w", err)
			}
		}
		held = append(held, l)
		*port = l.Addr().(*net.TCPAddr).Port
	}

	if !reflect.DeepEqual(chosen, stored) {
		data, err := json.MarshalIndent(chosen, "", "  ")
		if err != nil {
			return chosen, fmt.Errorf("encoding ports: %w", err)
		}
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			return chosen, fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return chosen, nil
}

// listenLoopback listens on 127.0.0.1:port; port 0 asks for any free port.
func listenLoopback(port int) (net.Listener, error) {
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("invalid port %d", port)
	}
	return net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
}
