package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

const (
	// leaseKeyPrefix is where kubemacpool-apiserver stores MacLeases.
	leaseKeyPrefix = "/registry/macpool.kubemacpool.io/macpool.kubemacpool.io/macleases/"
	// rawKeyPrefix is where the etcd baseline writes, apart from any
	// key the server reads.
	rawKeyPrefix = "/kubemacpool-bench-raw/"
)

// newLease is a lease of mac for a Pod that does not exist and carries no
// expiry: the lease controller leaves it alone, like a reservation made by
// hand for an owner still to come.
func newLease(mac, owner string) *v1alpha1.MacLease {
	return &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: leaseName(mac)},
		Spec: v1alpha1.MacLeaseSpec{
			MACAddress: mac,
			Pool:       "default",
			Interface:  "bench/br1",
			Owner:      &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: owner},
		},
	}
}

// BenchmarkLeaseCreate compares MacLeases created through the whole API path
// (client -> kube-apiserver -> aggregator proxy -> kubemacpool-apiserver ->
// its embedded etcd) with two baselines:
//   - what that etcd does alone, the physical limit (%-of-etcd): the same
//     atomic create (a transaction "create if the key does not exist", as the
//     API server's storage issues) of a value the size of a stored lease,
//     from a client on the same machine;
//   - what a user would pick instead (%-of-crd): the same object created as
//     a CustomResource served by kube-apiserver (testdata/).
//
// b.N is the number of creates on each side.
func BenchmarkLeaseCreate(b *testing.B) {
	for _, clients := range []int{1, 32} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { benchmarkLeaseCreate(b, clients) })
	}
}

func benchmarkLeaseCreate(b *testing.B, clients int) {
	e := setup(b)
	ctx := context.Background()
	etcd, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{e.cluster.KubemacpoolEtcdURL()},
		DialTimeout: 10 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer etcd.Close()
	payload, err := storedLeaseValue(ctx, e, etcd)
	if err != nil {
		b.Fatal(err)
	}
	if err := installCRDBaseline(ctx, e); err != nil {
		b.Fatal(err)
	}
	leases := e.mac.MacpoolV1alpha1().MacLeases(nsLeases)
	crdLeases := e.dynamic.Resource(crdLeaseResource).Namespace(nsLeases)

	subject := &side{op: func(ctx context.Context, i int) error {
		mac := macAddress(0x0e, i)
		_, err := leases.Create(ctx, newLease(mac, fmt.Sprintf("owner-%d", i)), metav1.CreateOptions{})
		return err
	}, profile: e.profiles.cpuProfile()}
	crd := &side{op: func(ctx context.Context, i int) error {
		lease, err := crdLease(macAddress(0x0e, i), fmt.Sprintf("owner-%d", i))
		if err != nil {
			return err
		}
		_, err = crdLeases.Create(ctx, lease, metav1.CreateOptions{})
		return err
	}}
	base := &side{op: func(ctx context.Context, i int) error {
		key := rawKeyPrefix + leaseName(macAddress(0x0e, i))
		response, err := etcd.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, payload)).
			Commit()
		if err == nil && !response.Succeeded {
			err = fmt.Errorf("etcd key %s exists already", key)
		}
		return err
	}}
	b.ResetTimer()
	compare(ctx, b, e, clients, b.N, base, crd, subject)
	b.StopTimer()
	if err := subject.profile.save(b.Name() + ".cpu"); err != nil {
		b.Fatal(err)
	}

	b.ReportMetric(float64(subject.wall.Nanoseconds())/float64(subject.ops), "ns/op")
	b.ReportMetric(subject.rate(), "leases/s")
	b.ReportMetric(base.rate(), "etcd-creates/s")
	b.ReportMetric(100*subject.rate()/base.rate(), "%-of-etcd")
	b.ReportMetric(subject.percentileMs(50), "p50-ms")
	b.ReportMetric(subject.percentileMs(99), "p99-ms")
	b.ReportMetric(base.percentileMs(50), "etcd-p50-ms")
	b.ReportMetric(base.percentileMs(99), "etcd-p99-ms")
	b.ReportMetric(cpuMsPerOp(subject.kmpTicks, subject.ops), "kmp-cpu-ms/lease")
	b.ReportMetric(cpuMsPerOp(base.kmpTicks, base.ops), "kmp-cpu-ms/etcd-create")
	b.ReportMetric(cpuMsPerOp(subject.kasTicks, subject.ops), "kas-cpu-ms/lease")
	b.ReportMetric(float64(len(payload)), "B/object")
	b.ReportMetric(crd.rate(), "crd-creates/s")
	b.ReportMetric(100*subject.rate()/crd.rate(), "%-of-crd")
	b.ReportMetric(crd.percentileMs(50), "crd-p50-ms")
	b.ReportMetric(crd.percentileMs(99), "crd-p99-ms")
	b.ReportMetric(cpuMsPerOp(crd.kasTicks, crd.ops), "kas-cpu-ms/crd-create")

	if err := leases.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		b.Fatal(err)
	}
	if err := crdLeases.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := etcd.Delete(ctx, rawKeyPrefix, clientv3.WithPrefix()); err != nil {
		b.Fatal(err)
	}
}

// storedLeaseValue creates a lease through the API, reads the bytes the
// server stored for it, and deletes it again: the payload of the raw etcd
// baseline, so that both sides write objects of the same size.
func storedLeaseValue(ctx context.Context, e *env, etcd *clientv3.Client) (string, error) {
	mac := macAddress(0x0e, int(opSequence.Add(1)))
	leases := e.mac.MacpoolV1alpha1().MacLeases(nsLeases)
	if _, err := leases.Create(ctx, newLease(mac, "payload-sample"), metav1.CreateOptions{}); err != nil {
		return "", err
	}
	defer func() { _ = leases.Delete(ctx, leaseName(mac), metav1.DeleteOptions{}) }()
	response, err := etcd.Get(ctx, leaseKeyPrefix, clientv3.WithPrefix(), clientv3.WithLimit(1))
	if err != nil {
		return "", err
	}
	if len(response.Kvs) == 0 {
		return "", fmt.Errorf("no lease under %s in kubemacpool's etcd", leaseKeyPrefix)
	}
	return string(response.Kvs[0].Value), nil
}
