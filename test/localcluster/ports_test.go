package localcluster

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestPortsForReplicas checks that extra replicas get their own free ports,
// that a restart with the same replica count keeps every port, and that going
// back to one replica writes the ports.json of before.
func TestPortsForReplicas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ports.json")

	three, err := loadOrChoosePorts(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(three.KubemacpoolReplicas) != 2 {
		t.Fatalf("3 replicas got ports for %d extra ones, want 2", len(three.KubemacpoolReplicas))
	}
	seen := map[int]bool{}
	for i := range 3 {
		replica := three.kubemacpool(i)
		for _, port := range []int{replica.Secure, replica.Metrics} {
			if port == 0 || seen[port] {
				t.Fatalf("replica %d: port %d is zero or used twice: %+v", i, port, three)
			}
			seen[port] = true
		}
	}

	again, err := loadOrChoosePorts(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if again.kubemacpool(i) != three.kubemacpool(i) {
			t.Errorf("replica %d: ports %+v after a restart, want %+v", i, again.kubemacpool(i), three.kubemacpool(i))
		}
	}

	one, err := loadOrChoosePorts(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	if one.KubemacpoolReplicas != nil || one.kubemacpool(0) != three.kubemacpool(0) {
		t.Fatalf("one replica: %+v, want replica 0 of %+v alone", one, three)
	}
	stored, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), "kubemacpoolReplicas") {
		t.Fatalf("ports.json of one replica still lists extra replicas:\n%s", stored)
	}
}

func TestPortsKeepEtcdMembersAndServiceBalancer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ports.json")
	three, err := loadOrChoosePortsFor(path, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(three.KubemacpoolEtcdMembers) != 3 || three.KubemacpoolService == 0 {
		t.Fatalf("want 3 etcd members and a balancer port, got %+v", three)
	}
	seen := map[int]bool{}
	all := []int{three.EtcdClient, three.EtcdPeer, three.KubeAPIServer, three.Kubemacpool, three.KubemacpoolMetrics, three.KubemacpoolService}
	for _, member := range three.KubemacpoolEtcdMembers {
		all = append(all, member.Client, member.Peer)
	}
	for _, replica := range three.KubemacpoolReplicas {
		all = append(all, replica.Secure, replica.Metrics)
	}
	for _, port := range all {
		if seen[port] {
			t.Fatalf("port %d chosen twice in %+v", port, three)
		}
		seen[port] = true
	}
	again, err := loadOrChoosePortsFor(path, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, three) {
		t.Fatalf("a second start changed the ports:\n%+v\n%+v", three, again)
	}
	one, err := loadOrChoosePortsFor(path, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if one.KubemacpoolEtcdMembers != nil || one.KubemacpoolService != 0 {
		t.Fatalf("one replica keeps no etcd members and no balancer: %+v", one)
	}
}
