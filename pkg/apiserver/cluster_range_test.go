package apiserver

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// The range of a cluster is a locally administered unicast /24 prefix that
// depends on the kube-system UID alone.
func TestClusterRange(t *testing.T) {
	tests := []struct {
		uid  types.UID
		want string
	}{
		// sha256("") starts e3 b0, sha256("a") starts ca 97.
		{uid: "", want: "02:e3:b0:00:00:00-02:e3:b0:ff:ff:ff"},
		{uid: "a", want: "02:ca:97:00:00:00-02:ca:97:ff:ff:ff"},
	}
	for _, tc := range tests {
		got := ClusterRange(tc.uid)
		if got.Start+"-"+got.End != tc.want {
			t.Errorf("ClusterRange(%q) = %v, want %s", tc.uid, got, tc.want)
		}
	}
	seen := map[string]types.UID{}
	for _, uid := range []types.UID{"0b4c6c4e-6c35-4f4b-9c8e-1f0d3a3c1a11", "0b4c6c4e-6c35-4f4b-9c8e-1f0d3a3c1a12", "5e0b2f41-0000-4000-8000-000000000000"} {
		r := ClusterRange(uid)
		if again := ClusterRange(uid); again != r {
			t.Errorf("ClusterRange(%q) is not stable: %v then %v", uid, r, again)
		}
		parsed, err := mac.ParseRange(r.Start, r.End)
		if err != nil {
			t.Fatalf("ClusterRange(%q) = %v: %v", uid, r, err)
		}
		if !parsed.Start.IsLocallyAdministered() || parsed.Start.IsMulticast() || parsed.Size() != 1<<24 || parsed.Start.Octet(0) != 0x02 {
			t.Errorf("ClusterRange(%q) = %v, want 2^24 locally administered unicast addresses under 02", uid, r)
		}
		if other, dup := seen[r.Start]; dup {
			t.Errorf("%q and %q share %v", uid, other, r)
		}
		seen[r.Start] = uid
	}
}

func TestClusterRangeReadsKubeSystem(t *testing.T) {
	kube := kubefake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system", UID: "a"}})
	got, err := clusterRange(context.Background(), kube.CoreV1())
	if err != nil || got != ClusterRange("a") {
		t.Errorf("clusterRange = %v, %v; want %v", got, err, ClusterRange("a"))
	}
	if _, err := clusterRange(context.Background(), kubefake.NewClientset().CoreV1()); err == nil {
		t.Error("no kube-system namespace: want an error")
	}
}
