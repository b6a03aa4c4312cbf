package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

const (
	// defaultRestartLeases is the lease count of the acceptance target.
	defaultRestartLeases = 100_000
	// defaultAPIFill is how many of them are created through the API by
	// default; the rest are written into etcd directly (see fillDirect).
	defaultAPIFill = 5_000
	// fillClients create the leases through the API before the restart.
	fillClients = 32
	// directWriters and directBatch: concurrent transactions, and puts in
	// each, of fillDirect. etcd allows 128 operations per transaction.
	directWriters = 4
	directBatch   = 100
	// settleTime passes between readiness and reading the memory, so that
	// start-up garbage is collected and the figure is the steady state.
	settleTime = 10 * time.Second
)

// restartFigures are the measurements of one restart.
type restartFigures struct {
	stop    time.Duration // StopKubemacpool
	readyz  time.Duration // start until its own /readyz passes
	served  time.Duration // start until StartKubemacpool returns: APIService Available and discovered
	rssKiB  int64         // VmRSS after settleTime
	anonKiB int64         // RssAnon after settleTime
}

// restartResult is measured once per run, however often the benchmark
// function is called.
type restartResult struct {
	leases        int
	apiFill       int     // leases created through the API
	fillRate      float64 // of the API fill, leases/s
	empty, full   restartFigures
	poolAllocated float64 // kmp_pool_allocated of the default pool after the restart
	listed        int64   // leases of nsRestart listed through the API after the restart
}

var (
	restartOnce     sync.Once
	restartMeasured restartResult
	restartErr      error
)

// BenchmarkRestart measures how long kubemacpool-apiserver takes from start
// to ready when its store holds KMP_BENCH_LEASES leases (default 100,000),
// against a restart of the same cluster before those leases existed, and
// the memory the leases cost it. The leases are in the default pool's range,
// so that the allocator loads every one. The first KMP_BENCH_API_FILL
// (default 5,000) are created through the API with 32 clients, which also
// gives the sustained create rate (fill-leases/s); creating all 100,000 that
// way takes longer than a `make bench` may on a small machine, so the rest
// are written into etcd directly as copies of a stored lease. It is measured
// once per run: b.N does not apply, and ns/op is not reported.
func BenchmarkRestart(b *testing.B) {
	e := setup(b)
	leases := envInt(b, "KMP_BENCH_LEASES", defaultRestartLeases)
	apiFill := min(leases, envInt(b, "KMP_BENCH_API_FILL", defaultAPIFill))
	b.Run(fmt.Sprintf("leases=%d", leases), func(b *testing.B) {
		restartOnce.Do(func() { restartMeasured, restartErr = measureRestart(e, leases, apiFill) })
		if restartErr != nil {
			b.Fatal(restartErr)
		}
		r := restartMeasured
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(r.full.readyz.Seconds(), "s-to-readyz")
		b.ReportMetric(r.full.served.Seconds(), "s-to-served")
		b.ReportMetric(r.empty.readyz.Seconds(), "empty-s-to-readyz")
		b.ReportMetric(r.empty.served.Seconds(), "empty-s-to-served")
		b.ReportMetric(r.full.stop.Seconds(), "s-to-stop")
		b.ReportMetric(float64(r.full.rssKiB-r.empty.rssKiB)*1024/float64(r.leases), "rss-B/lease")
		b.ReportMetric(float64(r.full.anonKiB-r.empty.anonKiB)*1024/float64(r.leases), "anon-B/lease")
		b.ReportMetric(float64(r.empty.rssKiB)/1024, "empty-rss-MiB")
		b.ReportMetric(float64(r.full.rssKiB)/1024, "rss-MiB")
		b.ReportMetric(r.fillRate, "fill-leases/s")
		b.ReportMetric(float64(r.apiFill), "api-filled")
		b.ReportMetric(r.poolAllocated, "pool-allocated")
		b.ReportMetric(float64(r.listed), "listed-leases")
	})
}

func measureRestart(e *env, leases, apiFill int) (restartResult, error) {
	ctx := context.Background()
	result := restartResult{leases: leases, apiFill: apiFill}
	progress := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "BenchmarkRestart: "+format+"\n", args...)
	}

	var err error
	progress("restarting kubemacpool-apiserver before the leases exist")
	if result.empty, err = restart(ctx, e, nil); err != nil {
		return result, err
	}
	if err := e.profiles.heap(ctx, "BenchmarkRestart-empty.heap"); err != nil {
		return result, err
	}

	// The leases lie in the default pool's range, which is the cluster's
	// own (derived from its identity), so that the pool's count proves
	// the allocator loaded them: the API fill from its start, the direct
	// fill from its middle.
	base, err := defaultPoolStart(ctx, e)
	if err != nil {
		return result, err
	}
	progress("creating %d leases through the API with %d clients", apiFill, fillClients)
	fill := &side{op: func(ctx context.Context, i int) error {
		_, err := e.mac.MacpoolV1alpha1().MacLeases(nsRestart).Create(ctx, newLease(macAddress(0x02, base+i), fmt.Sprintf("owner-%d", i)), metav1.CreateOptions{})
		return err
	}}
	// In steps, to report progress and stop early on an error.
	const step = 5_000
	for done := 0; done < apiFill; done += step {
		if err := fill.run(ctx, e, fillClients, min(step, apiFill-done)); err != nil {
			return result, fmt.Errorf("creating leases: %w", err)
		}
		progress("%d leases created, %.0f/s", fill.ops, fill.rate())
	}
	result.fillRate = fill.rate()
	if direct := leases - apiFill; direct > 0 {
		progress("writing %d more leases into etcd directly", direct)
		t := time.Now()
		if err := fillDirect(ctx, e, direct, base+0x80_0000); err != nil {
			return result, fmt.Errorf("writing leases into etcd: %w", err)
		}
		progress("%d leases written in %s", direct, time.Since(t).Round(time.Millisecond))
	}

	progress("restarting kubemacpool-apiserver with %d leases", leases)
	// With KMP_BENCH_PROFILE=1: the CPU from the moment the server serves
	// its secure port until /readyz passes, and the heap once settled.
	start := e.profiles.cpuProfile()
	if result.full, err = restart(ctx, e, start); err != nil {
		return result, err
	}
	if err := start.save("BenchmarkRestart-start.cpu"); err != nil {
		return result, err
	}
	if err := e.profiles.heap(ctx, "BenchmarkRestart-full.heap"); err != nil {
		return result, err
	}
	// Proof that the restarted server has every lease: the allocator's
	// count of the default pool, and the keys in its store.
	result.poolAllocated, _ = poolAllocated(ctx, e)
	if int(result.poolAllocated) != leases {
		return result, fmt.Errorf("the restarted server counts %v leases in the default pool, want %d", result.poolAllocated, leases)
	}
	if result.listed, err = countLeases(ctx, e); err != nil {
		return result, err
	}
	progress("empty: %+v; %d leases: %+v", result.empty, leases, result.full)
	return result, nil
}

// restart stops kubemacpool-apiserver, starts it again, and measures how
// long it takes until its /readyz passes (polled every 50 ms from the
// moment of the start, in parallel with StartKubemacpool's own wait) and
// until StartKubemacpool returns, which it does once the aggregator reports
// the APIService Available and discovery lists the group. Then it waits
// settleTime and reads the memory of the new process. A profile, if not
// nil, records the CPU of the start until /readyz passes: from when the
// server first answers, since there is nothing to ask before.
func restart(ctx context.Context, e *env, profile *cpuProfile) (restartFigures, error) {
	var f restartFigures
	readyz := e.cluster.KubemacpoolReadyzCheck()
	t := time.Now()
	if err := e.cluster.StopKubemacpool(); err != nil {
		return f, err
	}
	f.stop = time.Since(t)

	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	readyAt := make(chan time.Duration, 1)
	if profile != nil {
		profile.untilServed = true
	}
	started := time.Now()
	profile.begin(ctx)
	go func() {
		for pollCtx.Err() == nil {
			checkCtx, cancel := context.WithTimeout(pollCtx, time.Second)
			err := readyz(checkCtx)
			cancel()
			if err == nil {
				readyAt <- time.Since(started)
				return
			}
			select {
			case <-pollCtx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := e.cluster.StartKubemacpool(startCtx); err != nil {
		_ = profile.end()
		return f, err
	}
	f.served = time.Since(started)
	select {
	case f.readyz = <-readyAt:
	case <-time.After(10 * time.Second):
		_ = profile.end()
		return f, fmt.Errorf("/readyz did not pass although StartKubemacpool returned")
	}
	if err := profile.end(); err != nil {
		return f, err
	}

	time.Sleep(settleTime)
	var err error
	f.rssKiB, f.anonKiB, err = memoryKiB(e.cluster.KubemacpoolPID())
	return f, err
}

// poolAllocated reads kmp_pool_allocated{pool="default"} from the metrics
// endpoint, waiting up to 30 s for the periodic status update to publish it.
func poolAllocated(ctx context.Context, e *env) (float64, error) {
	var value float64
	err := waitFor(ctx, "kmp_pool_allocated", 30*time.Second, time.Second, func(ctx context.Context) error {
		request, err := http.NewRequestWithContext(ctx, http.MethodGet, e.cluster.MetricsURL(), nil)
		if err != nil {
			return err
		}
		response, err := http.DefaultClient.Do(request)
		if err != nil {
			return err
		}
		defer response.Body.Close()
		scanner := bufio.NewScanner(response.Body)
		for scanner.Scan() {
			line := scanner.Text()
			if strings.HasPrefix(line, `kmp_pool_allocated{pool="default"} `) {
				value, err = strconv.ParseFloat(strings.Fields(line)[1], 64)
				if err == nil && value == 0 {
					err = fmt.Errorf("0 so far")
				}
				return err
			}
		}
		return fmt.Errorf("not published yet")
	})
	return value, err
}

// countLeases counts the leases of nsRestart through the API, page by page,
// as any client sees them.
func countLeases(ctx context.Context, e *env) (int64, error) {
	var count int64
	options := metav1.ListOptions{Limit: 5000}
	for {
		list, err := e.mac.MacpoolV1alpha1().MacLeases(nsRestart).List(ctx, options)
		if err != nil {
			return count, err
		}
		count += int64(len(list.Items))
		if list.Continue == "" {
			return count, nil
		}
		options.Continue = list.Continue
	}
}

// fillDirect writes count leases of nsRestart straight into the etcd of
// kubemacpool-apiserver, each a copy of a lease the server stored through
// the API (same encoding, same fields) with its own name, MAC (02:fd:...),
// UID and owner: to the server they are indistinguishable from leases
// created through the API, only much faster to make. The running server
// sees them through its watch like any other write.
func fillDirect(ctx context.Context, e *env, count, directBase int) error {
	etcd, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{e.cluster.KubemacpoolEtcdURL()},
		DialTimeout: 10 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return err
	}
	defer etcd.Close()
	template, err := storedLease(ctx, etcd, nsRestart)
	if err != nil {
		return err
	}
	var next atomic.Int64
	var failure error
	var failureOnce sync.Once
	var wg sync.WaitGroup
	for w := 0; w < directWriters; w++ {
		wg.Go(func() {
			for {
				first := int(next.Add(directBatch) - directBatch)
				if first >= count {
					return
				}
				var compares []clientv3.Cmp
				var puts []clientv3.Op
				for i := first; i < min(first+directBatch, count); i++ {
					lease := template.DeepCopy()
					mac := macAddress(0x02, directBase+i)
					lease.Name = leaseName(mac)
					lease.UID = uuid.NewUUID()
					lease.Spec.MACAddress = mac
					lease.Spec.Owner.Name = fmt.Sprintf("direct-%d", i)
					value, err := json.Marshal(lease)
					if err != nil {
						failureOnce.Do(func() { failure = err })
						return
					}
					key := leaseKeyPrefix + lease.Name
					compares = append(compares, clientv3.Compare(clientv3.CreateRevision(key), "=", 0))
					puts = append(puts, clientv3.OpPut(key, string(value)))
				}
				response, err := etcd.Txn(ctx).If(compares...).Then(puts...).Commit()
				if err == nil && !response.Succeeded {
					err = fmt.Errorf("a lease key of batch %d exists already", first/directBatch)
				}
				if err != nil {
					failureOnce.Do(func() { failure = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return failure
}

// storedLease decodes a lease of namespace as the server stored it.
func storedLease(ctx context.Context, etcd *clientv3.Client, namespace string) (*v1alpha1.MacLease, error) {
	response, err := etcd.Get(ctx, leaseKeyPrefix, clientv3.WithPrefix(), clientv3.WithLimit(1000))
	if err != nil {
		return nil, err
	}
	for _, kv := range response.Kvs {
		lease := &v1alpha1.MacLease{}
		if err := json.Unmarshal(kv.Value, lease); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", kv.Key, err)
		}
		if lease.Namespace == namespace && lease.Spec.Owner != nil {
			return lease, nil
		}
	}
	return nil, fmt.Errorf("no stored lease of namespace %s to copy", namespace)
}

// defaultPoolStart is the lower 40 bits of the first address of the default
// pool's first range (its first octet is 02 for every range the server
// derives or the benchmarks use).
func defaultPoolStart(ctx context.Context, e *env) (int, error) {
	pool, err := e.mac.MacpoolV1alpha1().MacPools().Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("reading the default pool: %w", err)
	}
	if len(pool.Spec.Ranges) == 0 {
		return 0, fmt.Errorf("the default pool has no range")
	}
	start, err := mac.Parse(pool.Spec.Ranges[0].Start)
	if err != nil {
		return 0, fmt.Errorf("the default pool's start: %w", err)
	}
	end, err := mac.Parse(pool.Spec.Ranges[0].End)
	if err != nil {
		return 0, fmt.Errorf("the default pool's end: %w", err)
	}
	if uint64(start)>>40 != 0x02 || uint64(end-start) < 1<<24-1 {
		return 0, fmt.Errorf("the default pool's first range %s-%s is not a 02: range of 2^24 addresses", start, end)
	}
	return int(uint64(start) & (1<<40 - 1)), nil
}
