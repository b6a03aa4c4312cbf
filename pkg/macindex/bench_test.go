package macindex

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// benchPoolSize is the pool width for the fill benchmarks: 2^20 addresses.
const benchPoolSize = 1 << 20

var benchFills = []float64{0, 50, 90, 99.9}

// filledPool returns a 2^20-address pool whose addresses are taken at random
// positions up to fill percent (not one contiguous block, which would be the
// easy case of a single interval), and the taken addresses.
func filledPool(b *testing.B, fill float64, random *rand.Rand) (*Pool, []mac.Address) {
	b.Helper()
	r := mac.Range{Start: m("02:00:00:00:00:00"), End: m("02:00:00:00:00:00") + benchPoolSize - 1}
	chosen := make([]bool, benchPoolSize)
	for _, offset := range random.Perm(benchPoolSize)[:int(fill/100*benchPoolSize)] {
		chosen[offset] = true
	}
	// Adding in address order is much quicker than in random order, and
	// gives the same intervals; the chunks come out about half full, as
	// when a replica loads its leases at start-up from a sorted list.
	taken := NewTakenSet()
	leased := make([]mac.Address, 0, benchPoolSize)
	for offset, isChosen := range chosen {
		if isChosen {
			a := r.Start + mac.Address(offset)
			taken.Add(a)
			leased = append(leased, a)
		}
	}
	p, err := NewPool("bench", []mac.Range{r}, taken, seeded(1))
	if err != nil {
		b.Fatal(err)
	}
	return p, leased
}

// releaseRandom frees a random taken address and returns the remaining ones.
func releaseRandom(p *Pool, leased []mac.Address, random *rand.Rand) []mac.Address {
	i := random.IntN(len(leased))
	p.Release(leased[i])
	leased[i] = leased[len(leased)-1]
	return leased[:len(leased)-1]
}

// BenchmarkAllocate measures allocations in a 2^20-address pool filled at
// random positions. To hold the fill level steady, each batch of 64
// allocations is followed by the release of 64 random taken addresses, which
// moves the fill by at most 64/2^20.
//
// ns/op is one allocation plus one such release. ns/alloc is the allocation
// alone (Candidate, keeping the address), timed per batch so that reading
// the clock costs under 1ns per allocation. The acceptance target is that
// ns/alloc at fill=90 and fill=99.9 is at most twice that at fill=0.
//
// The releases land at random places in the set, so in a large set they pay
// for cache misses that allocations, working forward from the cursor, do
// not; that is why ns/op grows with the number of intervals and ns/alloc
// hardly does.
func BenchmarkAllocate(b *testing.B) {
	const batch = 64
	for _, fill := range benchFills {
		b.Run(fmt.Sprintf("fill=%v", fill), func(b *testing.B) {
			random := rand.New(rand.NewPCG(uint64(fill*10), 1))
			p, leased := filledPool(b, fill, random)
			var started time.Time
			var allocating time.Duration
			pending := 0
			for b.Loop() {
				if pending == 0 {
					started = time.Now()
				}
				a, err := p.Candidate()
				if err != nil {
					b.Fatal(err)
				}
				leased = append(leased, a)
				if pending++; pending == batch {
					allocating += time.Since(started)
					for ; pending > 0; pending-- {
						leased = releaseRandom(p, leased, random)
					}
				}
			}
			if pending > 0 {
				allocating += time.Since(started)
			}
			b.ReportMetric(float64(allocating.Nanoseconds())/float64(b.N), "ns/alloc")
			if _, allocated, _ := p.Stats(); allocated != uint64(len(leased)) {
				b.Fatalf("pool reports %d allocated, benchmark holds %d", allocated, len(leased))
			}
		})
	}
}

// BenchmarkLeaseMemory reports the heap used per lease for 100,000 leases at
// random positions in a 2^40 range (the worst case: no two adjacent, so
// every lease is its own interval), then times an Add and Remove against
// that set.
func BenchmarkLeaseMemory(b *testing.B) {
	const leases = 100_000
	random := rand.New(rand.NewPCG(3, 4))
	r := mac.Range{Start: m("02:00:00:00:00:00"), End: m("02:ff:ff:ff:ff:ff")}
	addresses := make([]mac.Address, leases)
	for i := range addresses {
		addresses[i] = r.Offset(random.Uint64())
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	taken := NewTakenSet()
	for _, a := range addresses {
		taken.Add(a)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	// addresses was live at the first reading; were it collected before the
	// second, the difference would come out 8 bytes a lease too low.
	runtime.KeepAlive(addresses)
	bytesPerLease := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(taken.Len())

	for b.Loop() {
		a := r.Offset(random.Uint64())
		if taken.Add(a) {
			taken.Remove(a)
		}
	}
	b.ReportMetric(bytesPerLease, "B/lease")
	runtime.KeepAlive(taken)
}
