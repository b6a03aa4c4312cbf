package macindex

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// seeded returns a deterministic stand-in for crypto/rand.Reader.
func seeded(seed byte) *rand.ChaCha8 {
	var key [32]byte
	key[0] = seed
	return rand.NewChaCha8(key)
}

func newPool(t testing.TB, name string, taken *TakenSet, ranges ...mac.Range) *Pool {
	t.Helper()
	p, err := NewPool(name, ranges, taken, seeded(byte(len(name))))
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	return p
}

func mustCandidate(t testing.TB, p *Pool) mac.Address {
	t.Helper()
	a, err := p.Candidate()
	if err != nil {
		t.Fatalf("Candidate: %v", err)
	}
	return a
}

func TestPoolExhaustsAndReuses(t *testing.T) {
	taken := NewTakenSet()
	p := newPool(t, "default", taken, rng("02:00:00:00:00:00", "02:00:00:00:00:01"))
	first, second := mustCandidate(t, p), mustCandidate(t, p)
	if first == second || !p.Ranges()[0].Contains(first) || !p.Ranges()[0].Contains(second) {
		t.Fatalf("candidates %s and %s are not the two pool addresses", first, second)
	}

	_, err := p.Candidate()
	var exhausted *ExhaustedError
	if !errors.As(err, &exhausted) {
		t.Fatalf("third Candidate error = %v, want *ExhaustedError", err)
	}
	if want := `MAC pool "default" is exhausted: all 2 addresses are leased`; err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
	if exhausted.Pool != "default" || exhausted.Capacity != 2 {
		t.Fatalf("error fields = %+v", exhausted)
	}

	p.Release(first)
	if got := mustCandidate(t, p); got != first {
		t.Fatalf("after freeing %s, Candidate = %s", first, got)
	}
}

func TestExhaustedErrorMessages(t *testing.T) {
	tests := []struct {
		capacity uint64
		want     string
	}{
		{0, `MAC pool "p" is exhausted: its ranges hold no unicast addresses`},
		{1, `MAC pool "p" is exhausted: its only address is leased`},
		{1 << 40, `MAC pool "p" is exhausted: all 1099511627776 addresses are leased`},
	}
	for _, test := range tests {
		if got := (&ExhaustedError{Pool: "p", Capacity: test.capacity}).Error(); got != test.want {
			t.Errorf("capacity %d: %q, want %q", test.capacity, got, test.want)
		}
	}
	empty := newPool(t, "p", NewTakenSet())
	if _, err := empty.Candidate(); err == nil || err.Error() != tests[0].want {
		t.Fatalf("pool without ranges: Candidate error = %v", err)
	}
	multicastOnly := newPool(t, "p", NewTakenSet(), rng("03:00:00:00:00:00", "03:00:00:00:00:ff"))
	if _, err := multicastOnly.Candidate(); err == nil || err.Error() != tests[0].want {
		t.Fatalf("multicast-only pool: Candidate error = %v", err)
	}
}

func TestPoolDoesNotReturnJustFreedAddress(t *testing.T) {
	r := rng("02:00:00:00:00:00", "02:00:00:00:00:09")
	p := newPool(t, "ten", NewTakenSet(), r)
	freed := mustCandidate(t, p)
	p.Release(freed)
	seen := map[mac.Address]bool{}
	for i := 0; i < 9; i++ {
		a := mustCandidate(t, p)
		if a == freed {
			t.Fatalf("candidate %d is the just-freed %s while other addresses were free", i+1, freed)
		}
		seen[a] = true
	}
	if len(seen) != 9 {
		t.Fatalf("got %d distinct addresses, want the other 9", len(seen))
	}
	// Only once the cursor has come round is the freed address offered.
	if got := mustCandidate(t, p); got != freed {
		t.Fatalf("last candidate = %s, want the freed %s", got, freed)
	}
}

func TestPoolCursorWalksRangesInOrderAndWraps(t *testing.T) {
	ranges := []mac.Range{
		rng("02:00:00:00:00:10", "02:00:00:00:00:12"),
		rng("0a:00:00:00:00:00", "0a:00:00:00:00:01"),
		rng("02:00:00:00:00:00", "02:00:00:00:00:00"),
	}
	order := []mac.Address{}
	for _, r := range ranges {
		for a := r.Start; a <= r.End; a++ {
			order = append(order, a)
		}
	}
	for seed := byte(0); seed < 20; seed++ {
		p, err := NewPool("p", ranges, NewTakenSet(), seeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		first := mustCandidate(t, p)
		start := -1
		for i, a := range order {
			if a == first {
				start = i
			}
		}
		if start < 0 {
			t.Fatalf("seed %d: first candidate %s is not in the pool", seed, first)
		}
		for i := 1; i < len(order); i++ {
			want := order[(start+i)%len(order)]
			if got := mustCandidate(t, p); got != want {
				t.Fatalf("seed %d: candidate %d = %s, want %s (ranges in order, wrapping)", seed, i, got, want)
			}
		}
	}
}

func TestPoolRandomStartIsSpread(t *testing.T) {
	// Each of the 6 addresses should be a starting point for some seed; a
	// cursor that always started at the first address would fail this.
	ranges := []mac.Range{rng("02:00:00:00:00:00", "02:00:00:00:00:02"), rng("06:00:00:00:00:00", "06:00:00:00:00:02")}
	starts := map[mac.Address]bool{}
	for seed := byte(0); seed < 100; seed++ {
		p, err := NewPool("p", ranges, NewTakenSet(), seeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		starts[mustCandidate(t, p)] = true
	}
	if len(starts) != 6 {
		t.Fatalf("100 seeds started at only %d distinct addresses, want all 6", len(starts))
	}
}

func TestPoolHuge(t *testing.T) {
	started := time.Now()
	p := newPool(t, "huge", NewTakenSet(), rng("02:00:00:00:00:00", "02:ff:ff:ff:ff:ff"))
	for i := 0; i < 1000; i++ {
		mustCandidate(t, p)
	}
	if elapsed := time.Since(started); elapsed > time.Second {
		t.Fatalf("1000 allocations from a 2^40 pool took %v", elapsed)
	}
	capacity, allocated, free := p.Stats()
	if capacity != 1<<40 || allocated != 1000 || free != 1<<40-1000 {
		t.Fatalf("Stats() = %d, %d, %d, want 2^40, 1000, 2^40-1000", capacity, allocated, free)
	}
}

func TestPoolAcrossMulticastBlock(t *testing.T) {
	// The range holds the whole multicast block 03:xx (2^40 addresses); only
	// the 512 unicast addresses around it may be handed out, and finding them
	// must not walk the block.
	p := newPool(t, "straddle", NewTakenSet(), rng("02:ff:ff:ff:ff:00", "04:00:00:00:00:ff"))
	if capacity, _, _ := p.Stats(); capacity != 512 {
		t.Fatalf("capacity = %d, want 512", capacity)
	}
	seen := map[mac.Address]bool{}
	for i := 0; i < 512; i++ {
		a := mustCandidate(t, p)
		if a.IsMulticast() || seen[a] {
			t.Fatalf("candidate %s is multicast or repeated", a)
		}
		seen[a] = true
	}
	_, err := p.Candidate()
	if err == nil || err.Error() != `MAC pool "straddle" is exhausted: all 512 addresses are leased` {
		t.Fatalf("Candidate after 512 = %v", err)
	}
	if _, allocated, free := p.Stats(); allocated != 512 || free != 0 {
		t.Fatalf("Stats() allocated %d, free %d", allocated, free)
	}
}

func TestPoolSetRanges(t *testing.T) {
	taken := NewTakenSet()
	oldRange := rng("02:00:00:00:00:00", "02:00:00:00:00:03")
	newRange := rng("0e:00:00:00:00:00", "0e:00:00:00:00:ff")
	p := newPool(t, "edited", taken, oldRange)
	var old []mac.Address
	for i := 0; i < 3; i++ {
		old = append(old, mustCandidate(t, p))
	}

	if err := p.SetRanges([]mac.Range{newRange}); err != nil {
		t.Fatalf("SetRanges: %v", err)
	}
	for i := 0; i < 10; i++ {
		if a := mustCandidate(t, p); !newRange.Contains(a) {
			t.Fatalf("after SetRanges, candidate %s is outside %s", a, newRange)
		}
	}
	if capacity, allocated, _ := p.Stats(); capacity != 256 || allocated != 10 {
		t.Fatalf("Stats() after SetRanges: capacity %d, allocated %d, want 256, 10", capacity, allocated)
	}
	for _, a := range old {
		if !taken.Contains(a) {
			t.Fatalf("%s, leased from the old range, is no longer taken", a)
		}
	}
	// Another pool over the old range gets only the one address never leased.
	other := newPool(t, "other", taken, oldRange)
	if _, allocated, free := other.Stats(); allocated != 3 || free != 1 {
		t.Fatalf("old range Stats(): allocated %d, free %d, want 3, 1", allocated, free)
	}
	a := mustCandidate(t, other)
	for _, o := range old {
		if a == o {
			t.Fatalf("old range handed out %s again", a)
		}
	}
}

func TestPoolRejectsBadRanges(t *testing.T) {
	tests := []struct {
		name   string
		ranges []mac.Range
	}{
		{"reversed", []mac.Range{{Start: m("02:00:00:00:00:05"), End: m("02:00:00:00:00:01")}}},
		{"overlapping", []mac.Range{rng("02:00:00:00:00:00", "02:00:00:00:00:10"), rng("02:00:00:00:00:10", "02:00:00:00:00:20")}},
		{"wider than 48 bits", []mac.Range{{Start: 0, End: mac.MaxAddress + 1}}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if _, err := NewPool("bad", test.ranges, NewTakenSet(), seeded(1)); err == nil {
				t.Fatal("NewPool accepted the ranges")
			}
		})
	}
}

func TestNewPoolNeedsSetAndRandomness(t *testing.T) {
	ranges := []mac.Range{rng("02:00:00:00:00:00", "02:00:00:00:00:01")}
	if _, err := NewPool("p", ranges, nil, seeded(1)); err == nil || !strings.Contains(err.Error(), `MAC pool "p"`) {
		t.Fatalf("NewPool without a taken set: %v", err)
	}
	if _, err := NewPool("p", ranges, NewTakenSet(), nil); err == nil || !strings.Contains(err.Error(), `MAC pool "p"`) {
		t.Fatalf("NewPool without randomness: %v", err)
	}
}

func TestPoolsShareTakenSet(t *testing.T) {
	taken := NewTakenSet()
	r := rng("02:00:00:00:00:00", "02:00:00:00:00:63")
	a := newPool(t, "a", taken, r)
	b := newPool(t, "bb", taken, r)
	seen := map[mac.Address]string{}
	for i := 0; i < 50; i++ {
		for _, p := range []*Pool{a, b} {
			addr := mustCandidate(t, p)
			if owner, dup := seen[addr]; dup {
				t.Fatalf("%s handed out by pool %s and pool %s", addr, owner, p.Name())
			}
			seen[addr] = p.Name()
		}
	}
	for _, p := range []*Pool{a, b} {
		if _, err := p.Candidate(); !errors.As(err, new(*ExhaustedError)) {
			t.Fatalf("pool %s after 100 shared allocations: %v", p.Name(), err)
		}
	}
}

func TestRandomBelowIsUniform(t *testing.T) {
	counts := make([]int, 3)
	random := seeded(7)
	for i := 0; i < 30000; i++ {
		v, err := randomBelow(random, 3)
		if err != nil {
			t.Fatal(err)
		}
		counts[v]++
	}
	for v, c := range counts {
		if c < 9500 || c > 10500 {
			t.Fatalf("value %d drawn %d times out of 30000", v, c)
		}
	}
	if _, err := randomBelow(&failingReader{}, 3); err == nil {
		t.Fatal("randomBelow ignored a read error")
	}
	if _, err := NewPool("p", []mac.Range{rng("02:00:00:00:00:00", "02:00:00:00:00:01")}, NewTakenSet(), &failingReader{}); err == nil {
		t.Fatal("NewPool ignored a read error")
	}
}

type failingReader struct{}

func (*failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

// Every MacPool status write delivers the pool anew to every replica; the
// same ranges must keep the cursor, or a just-freed address comes straight
// back and allocations stop moving forward.
func TestSetRangesKeepsTheCursorForTheSameRanges(t *testing.T) {
	r := rng("02:00:00:00:00:00", "02:00:00:00:ff:ff")
	p := newPool(t, "default", NewTakenSet(), r)
	first := mustCandidate(t, p)
	for i := 0; i < 5; i++ {
		if err := p.SetRanges([]mac.Range{r}); err != nil {
			t.Fatalf("SetRanges: %v", err)
		}
	}
	want := first + 1
	if want > r.End {
		want = r.Start
	}
	if got := mustCandidate(t, p); got != want {
		t.Fatalf("after SetRanges with the same ranges, Candidate = %s, want %s (the cursor moved)", got, want)
	}

	// A real change of the ranges moves the cursor into the new ones.
	moved := rng("0a:00:00:00:00:00", "0a:00:00:00:00:ff")
	if err := p.SetRanges([]mac.Range{moved}); err != nil {
		t.Fatalf("SetRanges: %v", err)
	}
	if got := mustCandidate(t, p); !moved.Contains(got) {
		t.Fatalf("after a range change, Candidate = %s, want one in %s", got, moved)
	}
}
