package macindex

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// intervalsOf returns the set's intervals in order, as "first-last" strings.
func intervalsOf(t *TakenSet) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for c := t.head; c != nil; c = c.next {
		for _, iv := range c.ivs {
			out = append(out, iv.first.String()+"-"+iv.last.String())
		}
	}
	return out
}

// checkInvariants fails if the chunk list and the tree disagree, if a chunk
// is over- or (unless alone) underfull or has the wrong key, if the intervals
// are not sorted, disjoint and non-adjacent, or if the count is wrong.
func checkInvariants(tb testing.TB, t *TakenSet) {
	tb.Helper()
	t.mu.Lock()
	defer t.mu.Unlock()
	var inTree []*chunk
	t.tree.Ascend(func(c *chunk) bool {
		inTree = append(inTree, c)
		return true
	})
	var listed []*chunk
	for c := t.head; c != nil; c = c.next {
		if c.next != nil && c.next.prev != c {
			tb.Fatalf("chunk list is broken after %s", c.lo)
		}
		listed = append(listed, c)
	}
	if !slices.Equal(inTree, listed) {
		tb.Fatalf("tree holds %d chunks, list %d, or in another order", len(inTree), len(listed))
	}
	if t.head != nil && t.head.prev != nil {
		tb.Fatal("head chunk has a predecessor")
	}
	var previous *interval
	var total uint64
	for _, c := range listed {
		if len(c.ivs) == 0 || len(c.ivs) > maxChunk || (len(c.ivs) < minChunk && len(listed) > 1) {
			tb.Fatalf("chunk at %s holds %d intervals", c.lo, len(c.ivs))
		}
		if len(c.buf) != maxChunk+1 || cap(c.buf) != maxChunk+1 || &c.buf[cap(c.buf)-1] != &c.ivs[:cap(c.ivs)][cap(c.ivs)-1] {
			tb.Fatalf("chunk at %s has a buffer of %d, or its intervals are not in it", c.lo, cap(c.buf))
		}
		if c.lo != c.ivs[0].first {
			tb.Fatalf("chunk key %s is not its first address %s", c.lo, c.ivs[0].first)
		}
		for i := range c.ivs {
			iv := &c.ivs[i]
			if iv.first > iv.last {
				tb.Fatalf("interval %s-%s is reversed", iv.first, iv.last)
			}
			if previous != nil && previous.last+1 >= iv.first {
				tb.Fatalf("interval %s-%s touches or overlaps %s-%s", previous.first, previous.last, iv.first, iv.last)
			}
			total += uint64(iv.last-iv.first) + 1
			previous = iv
		}
	}
	if total != t.count {
		tb.Fatalf("count = %d, but the intervals hold %d addresses", t.count, total)
	}
}

func m(text string) mac.Address { return mac.MustParse(text) }

func rng(first, last string) mac.Range { return mac.Range{Start: m(first), End: m(last)} }

func TestTakenSetAddRemove(t *testing.T) {
	type op struct {
		remove bool
		addr   string
		want   bool
	}
	add := func(a string, want bool) op { return op{addr: a, want: want} }
	remove := func(a string, want bool) op { return op{remove: true, addr: a, want: want} }
	tests := []struct {
		name string
		ops  []op
		want []string
	}{
		{
			name: "single",
			ops:  []op{add("02:00:00:00:00:05", true)},
			want: []string{"02:00:00:00:00:05-02:00:00:00:00:05"},
		},
		{
			name: "duplicate add",
			ops:  []op{add("02:00:00:00:00:05", true), add("02:00:00:00:00:05", false)},
			want: []string{"02:00:00:00:00:05-02:00:00:00:00:05"},
		},
		{
			name: "merge right neighbour onto left",
			ops:  []op{add("02:00:00:00:00:05", true), add("02:00:00:00:00:06", true)},
			want: []string{"02:00:00:00:00:05-02:00:00:00:00:06"},
		},
		{
			name: "merge left neighbour onto right",
			ops:  []op{add("02:00:00:00:00:06", true), add("02:00:00:00:00:05", true)},
			want: []string{"02:00:00:00:00:05-02:00:00:00:00:06"},
		},
		{
			name: "fill gap joins both sides",
			ops:  []op{add("02:00:00:00:00:04", true), add("02:00:00:00:00:06", true), add("02:00:00:00:00:05", true)},
			want: []string{"02:00:00:00:00:04-02:00:00:00:00:06"},
		},
		{
			name: "gap of two stays apart",
			ops:  []op{add("02:00:00:00:00:04", true), add("02:00:00:00:00:07", true), add("02:00:00:00:00:05", true)},
			want: []string{"02:00:00:00:00:04-02:00:00:00:00:05", "02:00:00:00:00:07-02:00:00:00:00:07"},
		},
		{
			name: "carry across one octet",
			ops:  []op{add("02:00:00:00:00:ff", true), add("02:00:00:00:01:00", true)},
			want: []string{"02:00:00:00:00:ff-02:00:00:00:01:00"},
		},
		{
			name: "carry across four octets",
			ops:  []op{add("02:00:00:00:01:00", true), add("02:ff:ff:ff:ff:ff", true), add("04:00:00:00:00:00", true), add("02:00:00:00:00:ff", true)},
			want: []string{"02:00:00:00:00:ff-02:00:00:00:01:00", "02:ff:ff:ff:ff:ff-02:ff:ff:ff:ff:ff", "04:00:00:00:00:00-04:00:00:00:00:00"},
		},
		{
			name: "remove in the middle splits",
			ops: []op{add("02:00:00:00:00:fe", true), add("02:00:00:00:00:ff", true), add("02:00:00:00:01:00", true),
				remove("02:00:00:00:00:ff", true)},
			want: []string{"02:00:00:00:00:fe-02:00:00:00:00:fe", "02:00:00:00:01:00-02:00:00:00:01:00"},
		},
		{
			name: "remove at the first edge",
			ops:  []op{add("02:00:00:00:00:ff", true), add("02:00:00:00:01:00", true), remove("02:00:00:00:00:ff", true)},
			want: []string{"02:00:00:00:01:00-02:00:00:00:01:00"},
		},
		{
			name: "remove at the last edge",
			ops:  []op{add("02:00:00:00:00:ff", true), add("02:00:00:00:01:00", true), remove("02:00:00:00:01:00", true)},
			want: []string{"02:00:00:00:00:ff-02:00:00:00:00:ff"},
		},
		{
			name: "remove the only address",
			ops:  []op{add("02:00:00:00:00:01", true), remove("02:00:00:00:00:01", true)},
		},
		{
			name: "remove absent",
			ops: []op{add("02:00:00:00:00:01", true), remove("02:00:00:00:00:02", false), remove("02:00:00:00:00:00", false),
				remove("ff:ff:ff:ff:ff:ff", false)},
			want: []string{"02:00:00:00:00:01-02:00:00:00:00:01"},
		},
		{
			name: "remove then re-add merges back",
			ops: []op{add("02:00:00:00:00:01", true), add("02:00:00:00:00:02", true), add("02:00:00:00:00:03", true),
				remove("02:00:00:00:00:02", true), add("02:00:00:00:00:02", true)},
			want: []string{"02:00:00:00:00:01-02:00:00:00:00:03"},
		},
		{
			name: "edges of the address space",
			ops:  []op{add("00:00:00:00:00:00", true), add("ff:ff:ff:ff:ff:ff", true), add("ff:ff:ff:ff:ff:fe", true), remove("ff:ff:ff:ff:ff:ff", true)},
			want: []string{"00:00:00:00:00:00-00:00:00:00:00:00", "ff:ff:ff:ff:ff:fe-ff:ff:ff:ff:ff:fe"},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			set := NewTakenSet()
			for _, o := range test.ops {
				var got bool
				if o.remove {
					got = set.Remove(m(o.addr))
				} else {
					got = set.Add(m(o.addr))
				}
				if got != o.want {
					t.Fatalf("remove=%v %s returned %v, want %v", o.remove, o.addr, got, o.want)
				}
				checkInvariants(t, set)
			}
			if got := intervalsOf(set); !slices.Equal(got, test.want) {
				t.Fatalf("intervals = %q, want %q", got, test.want)
			}
			var want uint64
			for _, iv := range test.want {
				r := rng(iv[:17], iv[18:])
				want += r.Size()
				if !set.Contains(r.Start) || !set.Contains(r.End) {
					t.Errorf("Contains is false at the edges of %s", iv)
				}
			}
			if set.Len() != want {
				t.Fatalf("Len() = %d, want %d", set.Len(), want)
			}
		})
	}
}

func TestTakenSetAddBeyondMACs(t *testing.T) {
	set := NewTakenSet()
	if set.Add(mac.MaxAddress + 1) {
		t.Fatal("Add accepted an address wider than 48 bits")
	}
	if set.Len() != 0 {
		t.Fatalf("Len() = %d after refusing the address", set.Len())
	}
}

func TestTakenSetNextFree(t *testing.T) {
	taken := []string{
		"02:00:00:00:00:10", "02:00:00:00:00:11", "02:00:00:00:00:12",
		"02:00:00:00:00:ff", "02:00:00:00:01:00",
		"02:ff:ff:ff:ff:fe", "02:ff:ff:ff:ff:ff",
		"04:00:00:00:00:00", "04:00:00:00:00:01",
		"06:00:00:00:00:00",
	}
	set := NewTakenSet()
	for _, a := range taken {
		set.Add(m(a))
	}
	tests := []struct {
		name   string
		from   string
		within mac.Range
		want   string // "" for none
	}{
		{"free at from", "02:00:00:00:00:0f", rng("02:00:00:00:00:00", "02:00:00:00:00:ff"), "02:00:00:00:00:0f"},
		{"from below within", "00:00:00:00:00:00", rng("02:00:00:00:00:10", "02:00:00:00:00:ff"), "02:00:00:00:00:13"},
		{"skip a taken run", "02:00:00:00:00:10", rng("02:00:00:00:00:00", "02:00:00:00:00:ff"), "02:00:00:00:00:13"},
		{"skip from the middle of a run", "02:00:00:00:00:11", rng("02:00:00:00:00:00", "02:00:00:00:00:ff"), "02:00:00:00:00:13"},
		{"run reaches the end of within", "02:00:00:00:00:10", rng("02:00:00:00:00:10", "02:00:00:00:00:12"), ""},
		{"run across an octet carry", "02:00:00:00:00:ff", rng("02:00:00:00:00:00", "02:00:00:00:ff:ff"), "02:00:00:00:01:01"},
		{"from after within", "02:00:00:00:01:00", rng("02:00:00:00:00:00", "02:00:00:00:00:ff"), ""},
		{"multicast block skipped", "02:ff:ff:ff:ff:fe", rng("02:ff:ff:ff:ff:00", "04:00:00:00:00:ff"), "04:00:00:00:00:02"},
		{"from inside the multicast block", "03:12:34:56:78:9a", rng("02:ff:ff:ff:ff:00", "04:00:00:00:00:ff"), "04:00:00:00:00:02"},
		{"within is only multicast", "03:00:00:00:00:00", rng("03:00:00:00:00:00", "03:ff:ff:ff:ff:ff"), ""},
		{"multicast then taken then multicast", "02:ff:ff:ff:ff:ff", rng("02:ff:ff:ff:ff:00", "06:00:00:00:00:00"), "04:00:00:00:00:02"},
		{"two multicast blocks and taken runs", "04:ff:ff:ff:ff:ff", rng("04:ff:ff:ff:ff:ff", "06:00:00:00:00:01"), "04:ff:ff:ff:ff:ff"},
		{"block end taken, next block start taken", "05:ff:ff:ff:ff:ff", rng("04:00:00:00:00:00", "06:00:00:00:00:01"), "06:00:00:00:00:01"},
		{"top of the address space", "fe:ff:ff:ff:ff:ff", rng("fe:ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff"), "fe:ff:ff:ff:ff:ff"},
		{"only the multicast top", "ff:00:00:00:00:00", rng("fe:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"), ""},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, ok := set.NextFree(m(test.from), test.within)
			if test.want == "" {
				if ok {
					t.Fatalf("NextFree = %s, want none", got)
				}
				return
			}
			if !ok || got != m(test.want) {
				t.Fatalf("NextFree = %s, %v, want %s", got, ok, test.want)
			}
		})
	}
}

func TestTakenSetCountIn(t *testing.T) {
	set := NewTakenSet()
	for _, a := range []string{"02:00:00:00:00:10", "02:00:00:00:00:11", "02:00:00:00:00:12", "02:00:00:00:00:20", "02:ff:ff:ff:ff:ff", "04:00:00:00:00:00"} {
		set.Add(m(a))
	}
	tests := []struct {
		name string
		r    mac.Range
		want uint64
	}{
		{"everything", rng("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"), 6},
		{"nothing below", rng("00:00:00:00:00:00", "02:00:00:00:00:0f"), 0},
		{"cuts an interval on the left", rng("02:00:00:00:00:11", "02:00:00:00:00:1f"), 2},
		{"cuts an interval on the right", rng("02:00:00:00:00:00", "02:00:00:00:00:10"), 1},
		{"inside one interval", rng("02:00:00:00:00:11", "02:00:00:00:00:11"), 1},
		{"two intervals", rng("02:00:00:00:00:12", "02:00:00:00:00:20"), 2},
		{"gap only", rng("02:00:00:00:00:13", "02:00:00:00:00:1f"), 0},
		{"across the multicast block, 2^40 wide", rng("02:ff:ff:ff:ff:00", "04:00:00:00:00:ff"), 2},
		{"reversed range", mac.Range{Start: m("02:00:00:00:00:20"), End: m("02:00:00:00:00:10")}, 0},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if got := set.CountIn(test.r); got != test.want {
				t.Fatalf("CountIn(%s) = %d, want %d", test.r, got, test.want)
			}
		})
	}
}

// TestTakenSetChunkRebalancing drives the set into each chunk rebalancing
// case directly. maxChunk+1 spaced addresses make one chunk overflow and
// split into two; then adding and removing addresses leaves one of them
// nearly empty next to a neighbour that is small enough to merge with, or
// too full, so that it must lend intervals instead.
func TestTakenSetChunkRebalancing(t *testing.T) {
	base := m("02:00:00:00:00:00")
	// Addresses 4 apart are separate intervals, with room for more between.
	spaced := func(i int) mac.Address { return base + mac.Address(4*i) }
	const initial = maxChunk + 1
	const first, second = initial / 2, initial - initial/2 // the split
	tooFull := maxChunk - minChunk + 2                     // with minChunk-1 more, over maxChunk
	tests := []struct {
		name        string
		add, remove []mac.Address
	}{
		{
			name:   "refill from the next chunk",
			add:    addresses(func(i int) mac.Address { return spaced(initial + i) }, tooFull-second),
			remove: addresses(spaced, first-minChunk+1),
		},
		{
			name:   "refill from the previous chunk",
			add:    addresses(func(i int) mac.Address { return spaced(i) + 2 }, tooFull-first),
			remove: addresses(func(i int) mac.Address { return spaced(initial - 1 - i) }, second-minChunk+1),
		},
		{
			name:   "merge with the next chunk",
			remove: addresses(spaced, first-minChunk+1),
		},
		{
			name:   "merge into the previous chunk",
			remove: addresses(func(i int) mac.Address { return spaced(initial - 1 - i) }, second-minChunk+1),
		},
		{
			name:   "empty the first chunk",
			remove: addresses(spaced, first),
		},
		{
			name:   "empty everything",
			remove: addresses(spaced, initial),
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			set := NewTakenSet()
			model := map[mac.Address]bool{}
			for _, a := range append(addresses(spaced, initial), test.add...) {
				set.Add(a)
				model[a] = true
			}
			checkInvariants(t, set)
			for _, a := range test.remove {
				if !set.Remove(a) {
					t.Fatalf("Remove(%s) found nothing", a)
				}
				delete(model, a)
				checkInvariants(t, set)
			}
			var want []string
			for _, a := range slices.Sorted(maps.Keys(model)) {
				want = append(want, a.String()+"-"+a.String())
			}
			if got := intervalsOf(set); !slices.Equal(got, want) {
				t.Fatalf("intervals = %q, want %q", got, want)
			}
		})
	}
}

func addresses(f func(int) mac.Address, n int) []mac.Address {
	out := make([]mac.Address, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// TestTakenSetAgainstModel runs thousands of random operations against both
// the TakenSet and a plain map, in two windows on either side of the
// multicast block 03:xx so that merges, splits and block skips all happen.
// The chance of an add rises and falls in waves, so the set repeatedly fills
// and drains: chunks split, merge, borrow from each other and go away.
func TestTakenSetAgainstModel(t *testing.T) {
	tests := []struct {
		name   string
		window int // addresses on each side of the multicast block
		ops    int
	}{
		{name: "small window", window: 256, ops: 20000},
		{name: "many chunks", window: 2048, ops: 12000},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			runAgainstModel(t, test.window, test.ops)
		})
	}
}

func runAgainstModel(t *testing.T, window, ops int) {
	low := mac.Range{Start: m("03:00:00:00:00:00") - mac.Address(window), End: m("02:ff:ff:ff:ff:ff")}
	high := mac.Range{Start: m("04:00:00:00:00:00"), End: m("04:00:00:00:00:00") + mac.Address(window-1)}
	// Everything between the windows is multicast, so walking the windows'
	// addresses in order is a correct (and obviously correct) NextFree.
	var universe []mac.Address
	for _, w := range []mac.Range{low, high} {
		for a := w.Start; a <= w.End; a++ {
			universe = append(universe, a)
		}
	}
	// Points to search from and bound ranges by: window addresses, plus
	// multicast ones in between.
	points := append(slices.Clone(universe), m("03:00:00:00:00:00"), m("03:80:00:00:00:00"), m("03:ff:ff:ff:ff:ff"))
	slices.Sort(points)

	random := rand.New(rand.NewPCG(1, uint64(window)))
	set := NewTakenSet()
	model := map[mac.Address]bool{}
	var hint spot
	for i := 0; i < ops; i++ {
		// Waves of about 4000 operations between mostly adding and mostly
		// removing.
		addPercent := 15 + 70*((i/2000)%2)
		a := universe[random.IntN(len(universe))]
		switch op := random.IntN(100); {
		case op < addPercent:
			if got, want := set.Add(a), !model[a]; got != want {
				t.Fatalf("op %d: Add(%s) = %v, want %v", i, a, got, want)
			}
			model[a] = true
		case op < 95:
			if got, want := set.Remove(a), model[a]; got != want {
				t.Fatalf("op %d: Remove(%s) = %v, want %v", i, a, got, want)
			}
			delete(model, a)
		default:
			// Free a run of consecutive addresses at once, so that whole
			// intervals and chunks empty out.
			start := random.IntN(len(universe) - 8)
			for _, b := range universe[start : start+8] {
				set.Remove(b)
				delete(model, b)
			}
		}
		if set.Contains(a) != model[a] {
			t.Fatalf("op %d: Contains(%s) = %v, want %v", i, a, !model[a], model[a])
		}
		if set.Len() != uint64(len(model)) {
			t.Fatalf("op %d: Len() = %d, want %d", i, set.Len(), len(model))
		}

		x, y := points[random.IntN(len(points))], points[random.IntN(len(points))]
		within := mac.Range{Start: min(x, y), End: max(x, y)}
		var wantCount uint64
		for _, u := range universe {
			if within.Contains(u) && model[u] {
				wantCount++
			}
		}
		if got := set.CountIn(within); got != wantCount {
			t.Fatalf("op %d: CountIn(%s) = %d, want %d", i, within, got, wantCount)
		}

		from := points[random.IntN(len(points))]
		want, wantOK := mac.Address(0), false
		for _, u := range universe {
			if u >= from && within.Contains(u) && !model[u] {
				want, wantOK = u, true
				break
			}
		}
		if got, ok := set.NextFree(from, within); got != want || ok != wantOK {
			t.Fatalf("op %d: NextFree(%s, %s) = %s, %v, want %s, %v", i, from, within, got, ok, want, wantOK)
		}
		// The hinted path pools use: take the address NextFree found, with
		// the hint from the previous take (often stale by now), then put it
		// back unless the model wants it kept.
		if wantOK {
			got, next, ok := set.takeNextFree(from, within, hint)
			if !ok || got != want {
				t.Fatalf("op %d: takeNextFree(%s, %s) = %s, %v, want %s", i, from, within, got, ok, want)
			}
			hint = next
			if random.IntN(2) == 0 {
				model[got] = true
			} else {
				set.Remove(got)
			}
		}
		if i%200 == 0 {
			checkInvariants(t, set)
		}
	}
	checkInvariants(t, set)
}
