package lease

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/hashedindex"
)

// leasesNamed finds the lease of a name whatever its namespace, and nothing
// for a name no lease has, among more leases than the index has buckets.
func TestLeasesNamed(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{leaseNameIndex: hashedindex.IndexFunc(leaseName)})
	for i := range 10_000 {
		lease := &macpool.MacLease{ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("ns-%d", i%13), Name: fmt.Sprintf("02-00-00-00-%02x-%02x", i>>8, i&0xff)}}
		if err := indexer.Add(lease); err != nil {
			t.Fatal(err)
		}
	}
	c := &Controller{leases: indexer}
	for _, tc := range []struct {
		name, namespace string
	}{
		{"02-00-00-00-00-00", "ns-0"},
		{"02-00-00-00-12-34", fmt.Sprintf("ns-%d", 0x1234%13)},
		{"02-00-00-00-27-0f", fmt.Sprintf("ns-%d", 0x270f%13)},
		{"02-00-00-00-27-10", ""},
		{"02-ff-00-00-00-00", ""},
	} {
		leases, err := c.leasesNamed(tc.name)
		if err != nil {
			t.Fatalf("leasesNamed(%s): %v", tc.name, err)
		}
		switch {
		case tc.namespace == "" && len(leases) != 0:
			t.Errorf("leasesNamed(%s) = %d leases, want none", tc.name, len(leases))
		case tc.namespace != "" && (len(leases) != 1 || leases[0].(*macpool.MacLease).Namespace != tc.namespace || leases[0].(*macpool.MacLease).Name != tc.name):
			t.Errorf("leasesNamed(%s) = %v, want the lease of %s", tc.name, leases, tc.namespace)
		}
	}
}
