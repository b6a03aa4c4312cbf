package apiserver

import (
	"context"
	"crypto/sha256"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// clusterIdentityNamespace is the namespace whose UID names the cluster: it
// exists in every cluster, is never deleted, and its UID differs between
// clusters and stays the same for every replica and restart.
const clusterIdentityNamespace = "kube-system"

// ClusterRange is the default pool's range of a cluster that configured
// none: the locally administered, unicast prefix 02:XX:YY, with XX:YY the
// first two bytes of the SHA-256 of the kube-system namespace's UID, and
// every address under it (2^24). Two clusters on one L2 network share a
// prefix with probability 1/65536 per pair, instead of always, as with one
// fixed default; 16.7 million addresses are more than any cluster's Pods
// and VMs need, and leave 16 bits to tell clusters apart. The same UID
// always gives the same range.
func ClusterRange(uid types.UID) v1alpha1.MACRange {
	sum := sha256.Sum256([]byte(uid))
	prefix := mac.Address(0x02)<<40 | mac.Address(sum[0])<<32 | mac.Address(sum[1])<<24
	return v1alpha1.MACRange{Start: prefix.String(), End: (prefix | 0xffffff).String()}
}

// clusterRange reads the cluster's identity and derives its range.
func clusterRange(ctx context.Context, namespaces typedcorev1.NamespacesGetter) (v1alpha1.MACRange, error) {
	ns, err := namespaces.Namespaces().Get(ctx, clusterIdentityNamespace, metav1.GetOptions{})
	if err != nil {
		return v1alpha1.MACRange{}, fmt.Errorf("reading namespace %s, whose UID gives the cluster its own default MAC range: %w", clusterIdentityNamespace, err)
	}
	if ns.UID == "" {
		return v1alpha1.MACRange{}, fmt.Errorf("namespace %s has no UID", clusterIdentityNamespace)
	}
	return ClusterRange(ns.UID), nil
}
