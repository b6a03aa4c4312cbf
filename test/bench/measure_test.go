package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// side is one of the two things a benchmark compares: the subject (say, pods
// through the webhook) or its baseline (pods in an ignored namespace).
type side struct {
	// op performs operation i; i is unique across the whole run.
	op func(ctx context.Context, i int) error
	// settle, if set, waits after a round until the work the round caused
	// in the background (lease binding) is done, so that its CPU time is
	// counted with this side and not the next round.
	settle func(ctx context.Context) error
	// profile, if set, records a CPU profile of kubemacpool-apiserver
	// while this side's rounds (settling included) run, and only then.
	profile *cpuProfile
	// kasProfile, if set, records one of kube-apiserver over the same
	// windows (KMP_BENCH_PROFILE_KAS).
	kasProfile *cpuProfile

	ops       int
	wall      time.Duration // time the operations took, settling excluded
	settled   time.Duration // time spent in settle
	latencies []time.Duration
	kmpTicks  int64 // CPU of kubemacpool-apiserver, settling included
	kasTicks  int64 // CPU of kube-apiserver, settling included
	// benchTicks is the CPU of this process: the clients, and the floor
	// webhook when it serves this side.
	benchTicks int64
}

// endProfiles stops this side's recordings, both of them even when the
// first fails.
func (s *side) endProfiles() error {
	err := s.profile.end()
	if kasErr := s.kasProfile.end(); err == nil && kasErr != nil {
		return fmt.Errorf("profiling kube-apiserver: %w", kasErr)
	}
	if err != nil {
		return fmt.Errorf("profiling kubemacpool-apiserver: %w", err)
	}
	return nil
}

// opSequence numbers operations across benchmarks, so that every lease, pod
// and etcd key of a run is new.
var opSequence atomic.Int64

// compare runs n operations of each side with the given number of
// concurrent clients, in alternating rounds (first, ..., last, then last,
// ..., first, ...; for a baseline and a subject: base, subject, subject,
// base, ...) so that a machine that gets busier or quieter during the run
// affects every side alike.
func compare(ctx context.Context, b *testing.B, e *env, clients, n int, sides ...*side) {
	b.Helper()
	rounds := 4
	if n < rounds*clients {
		rounds = 1
	}
	for r := 0; r < rounds; r++ {
		count := n / rounds
		if r == rounds-1 {
			count = n - count*(rounds-1)
		}
		order := slices.Clone(sides)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			if err := s.run(ctx, e, clients, count); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// run performs count operations of s with clients workers and adds the
// measurements to s.
func (s *side) run(ctx context.Context, e *env, clients, count int) error {
	kmp, kas, self := e.cluster.KubemacpoolPID(), e.cluster.KubeAPIServerPID(), os.Getpid()
	kmp0, kas0, self0 := cpuTicks(kmp), cpuTicks(kas), cpuTicks(self)
	latencies := make([]time.Duration, count)
	first := opSequence.Add(int64(count)) - int64(count)
	var next atomic.Int64
	var failure error
	var failureOnce sync.Once
	var wg sync.WaitGroup
	// The profile's own cost falls on this side's counters, never on a
	// baseline's: end waits until the last window is over.
	s.profile.begin(ctx)
	s.kasProfile.begin(ctx)
	started := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= count {
					return
				}
				t := time.Now()
				if err := s.op(ctx, int(first)+k); err != nil {
					failureOnce.Do(func() { failure = err })
					next.Store(int64(count)) // stop the other workers
					return
				}
				latencies[k] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(started)
	if failure != nil {
		_ = s.endProfiles()
		return failure
	}
	if s.settle != nil {
		t := time.Now()
		if err := s.settle(ctx); err != nil {
			_ = s.endProfiles()
			return err
		}
		s.settled += time.Since(t)
	}
	kmpTicks, kasTicks, benchTicks := cpuTicks(kmp)-kmp0, cpuTicks(kas)-kas0, cpuTicks(self)-self0
	if err := s.endProfiles(); err != nil {
		return err
	}
	if kmp != e.cluster.KubemacpoolPID() {
		return fmt.Errorf("kubemacpool-apiserver restarted during the measurement")
	}
	s.kmpTicks += kmpTicks
	s.kasTicks += kasTicks
	s.benchTicks += benchTicks
	s.ops += count
	s.wall += wall
	s.latencies = append(s.latencies, latencies...)
	return nil
}

// rate is operations per second.
func (s *side) rate() float64 { return float64(s.ops) / s.wall.Seconds() }

// percentileMs is the p-th percentile latency in milliseconds.
func (s *side) percentileMs(p float64) float64 {
	sorted := slices.Clone(s.latencies)
	slices.Sort(sorted)
	i := int(p / 100 * float64(len(sorted)-1))
	return float64(sorted[i].Microseconds()) / 1000
}

// cpuMsPerOp is the CPU time a process spent per operation, in ms.
func cpuMsPerOp(ticks int64, ops int) float64 {
	return float64(ticks) * 1000 / clockTicks / float64(ops)
}

// cpuTicks is utime+stime of pid from /proc/<pid>/stat, or 0.
func cpuTicks(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may contain spaces; the fields after it do not.
	// After ") " come state (field 3) ... utime (14) and stime (15).
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	fields := strings.Fields(rest)
	utime, _ := strconv.ParseInt(fields[14-3], 10, 64)
	stime, _ := strconv.ParseInt(fields[15-3], 10, 64)
	return utime + stime
}

// memoryKiB reads VmRSS and RssAnon of pid from /proc/<pid>/status, in KiB.
func memoryKiB(pid int) (rss, anon int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			rss, _ = strconv.ParseInt(fields[1], 10, 64)
		case "RssAnon:":
			anon, _ = strconv.ParseInt(fields[1], 10, 64)
		}
	}
	return rss, anon, scanner.Err()
}

// macAddress is the colon form of a MAC whose first octet is first and whose
// other five octets are i: a unicast, locally administered address for the
// first octets used here (0x02, 0x0e).
func macAddress(first byte, i int) string {
	v := uint64(i)
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", first, byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// leaseName is the name of the lease of a colon-form MAC.
func leaseName(mac string) string { return strings.ReplaceAll(mac, ":", "-") }

// waitFor polls check every interval until it returns nil, or fails after
// timeout with the last reason.
func waitFor(ctx context.Context, what string, timeout, interval time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}
