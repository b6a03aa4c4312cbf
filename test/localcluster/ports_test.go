package localcluster

import (
	"os"
	"path/filepath"
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
