package macindex

import (
	"sync"

	"github.com/google/btree"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// interval is a run of consecutive taken addresses, first and last included.
type interval struct {
	first, last mac.Address
}

// TakenSet is the set of MAC addresses that are leased (or reserved by an
// allocation in flight), shared by every pool.
//
// The set is kept as merged intervals: sorted, disjoint and never adjacent,
// so a fully allocated block is a single interval and there is at most one
// interval per lease; memory follows the leases, never the width of the
// ranges. Addresses above mac.MaxAddress are not MACs and are never in the
// set.
//
// The intervals live in chunks (see chunk.go) indexed by a B-tree. A pool's
// allocations walk forward through the addresses, so it keeps a hint to where
// its last allocation went, and the next one usually needs no search at all. That is what keeps the cost of an allocation nearly the same
// in a set of a million intervals as in an empty one.
type TakenSet struct {
	// mu is a plain mutex, not a RWMutex, because even lookups write pivot.
	mu    sync.Mutex
	tree  *btree.BTreeG[*chunk]
	head  *chunk // the first chunk in address order, nil when the set is empty
	spare *chunk // the last chunk dropped, for newChunk to reuse
	count uint64
	// pivot is the search key for tree lookups. A fresh &chunk{} per lookup
	// would escape to the heap through the tree's comparison function.
	pivot chunk
}

// NewTakenSet returns an empty set.
func NewTakenSet() *TakenSet {
	return &TakenSet{tree: btree.NewG(treeDegree, byLo)}
}

// Add marks a as taken and reports whether it was free before, merging a
// with the intervals on either side.
func (t *TakenSet) Add(a mac.Address) bool {
	if a > mac.MaxAddress {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.locate(a, spot{})
	if s.holds(a) {
		return false
	}
	t.join(a, s)
	return true
}

// Remove marks a as free and reports whether it was taken before. Removing
// an address from the middle of an interval splits it in two.
func (t *TakenSet) Remove(a mac.Address) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.locate(a, spot{})
	if !s.holds(a) {
		return false
	}
	c, i := s.c, s.i
	iv := &c.ivs[i]
	switch {
	case iv.first == a && iv.last == a:
		t.removeAt(c, i)
	case iv.first == a:
		iv.first++
		if i == 0 {
			c.lo = iv.first
		}
	case iv.last == a:
		iv.last--
	default:
		right := interval{first: a + 1, last: iv.last}
		iv.last = a - 1
		t.insertAt(c, i+1, right)
	}
	t.count--
	return true
}

// Contains reports whether a is taken.
func (t *TakenSet) Contains(a mac.Address) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.locate(a, spot{}).holds(a)
}

// Len returns the number of taken addresses (not the number of intervals).
func (t *TakenSet) Len() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count
}

// CountIn returns how many addresses inside r are taken, in O(log n + k) for
// k intervals overlapping r, independent of the width of r.
func (t *TakenSet) CountIn(r mac.Range) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.countInLocked(r, false)
}

// countUnicastIn sums the taken unicast addresses over all of ranges under a
// single lock, so that pool statistics are one consistent snapshot.
func (t *TakenSet) countUnicastIn(ranges []mac.Range) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var total uint64
	for _, r := range ranges {
		total += t.countInLocked(r, true)
	}
	return total
}

func (t *TakenSet) countInLocked(r mac.Range, unicastOnly bool) uint64 {
	if r.Start > r.End {
		return 0
	}
	r.End = min(r.End, mac.MaxAddress)
	// The interval holding r.Start, if any, starts before r but counts.
	s := t.locate(r.Start, spot{})
	c, i := s.c, s.i
	if c == nil {
		c, i = t.head, 0
	}
	var total uint64
	for ; c != nil; c, i = c.next, 0 {
		for _, iv := range c.ivs[i:] {
			if iv.first > r.End {
				return total
			}
			first, last := max(iv.first, r.Start), min(iv.last, r.End)
			if first > last {
				continue
			}
			if unicastOnly {
				total += unicastIn(first, last)
			} else {
				total += uint64(last-first) + 1
			}
		}
	}
	return total
}

// NextFree returns the smallest address that is at least from, inside within,
// not taken and not multicast, in O(log n).
func (t *TakenSet) NextFree(from mac.Address, within mac.Range) (mac.Address, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, _, ok := t.nextFreeLocked(from, within, spot{})
	return a, ok
}

// nextFreeLocked finds the smallest free unicast address >= from in within,
// and where it would go, as locate reports it.
//
// It jumps over a taken interval or a whole multicast block in one step.
// Because intervals are merged, the address after a taken interval is free
// unless it is multicast, so the loop runs a small bounded number of times:
// at most two per multicast block crossed, and a range crosses at most 128.
func (t *TakenSet) nextFreeLocked(from mac.Address, within mac.Range, hint spot) (mac.Address, spot, bool) {
	// Clamping to MaxAddress keeps every a+1 and block skip below in range.
	end := min(within.End, mac.MaxAddress)
	a := max(from, within.Start)
	for a <= end {
		if a.IsMulticast() {
			a = pastMulticast(a)
			continue
		}
		s := t.locate(a, hint)
		if !s.holds(a) {
			return a, s, true
		}
		last := s.c.ivs[s.i].last
		if last >= end {
			break
		}
		// The address after an interval is free (intervals never touch),
		// and s is where it goes.
		if a = last + 1; !a.IsMulticast() {
			return a, s, true
		}
		hint = s
	}
	return 0, spot{}, false
}

// takeNextFree finds the next free address like NextFree and marks it taken
// under the same lock, so that two pools sharing the set, or two callers of
// one pool, can never be handed the same address. It returns where the
// address went, for the caller to pass back as the next hint.
func (t *TakenSet) takeNextFree(from mac.Address, within mac.Range, hint spot) (mac.Address, spot, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, s, ok := t.nextFreeLocked(from, within, hint)
	if !ok {
		return 0, hint, false
	}
	return a, t.join(a, s), true
}

// join marks the free address a taken, merging it with the interval that
// ends just before it and the one that starts just after it. s is where a
// goes, as locate reports it. join returns where a is now, which is exact
// unless chunks were rebalanced, and good enough as a hint either way.
func (t *TakenSet) join(a mac.Address, s spot) spot {
	t.count++
	c, i := s.c, s.i
	// Where the interval after a's position is: next in c, the first of the
	// following chunk, or the very first one if a is before everything.
	nc, ni := c, i+1
	switch {
	case c == nil:
		nc, ni = t.head, 0
	case ni == len(c.ivs):
		nc, ni = c.next, 0
	}
	joinsPrev := c != nil && c.ivs[i].last+1 == a
	// a <= MaxAddress, so a+1 does not wrap.
	joinsNext := nc != nil && nc.ivs[ni].first == a+1
	switch {
	case joinsPrev && joinsNext:
		c.ivs[i].last = nc.ivs[ni].last
		t.removeAt(nc, ni)
		return s
	case joinsPrev:
		c.ivs[i].last = a
		return s
	case joinsNext:
		nc.ivs[ni].first = a
		if ni == 0 {
			nc.lo = a
		}
		return spot{nc, ni}
	case c != nil:
		t.insertAt(c, i+1, interval{first: a, last: a})
		return spot{c, i + 1}
	case t.head != nil:
		t.insertAt(t.head, 0, interval{first: a, last: a})
	default:
		t.head = t.newChunk(interval{first: a, last: a})
		t.tree.ReplaceOrInsert(t.head)
	}
	return spot{t.head, 0}
}

// spot is a position in the set: chunk c and the index i of an interval in
// it. A zero spot means "before every interval" (or, as a hint, no hint).
type spot struct {
	c *chunk
	i int
}

// holds reports whether the interval at s contains a.
func (s spot) holds(a mac.Address) bool {
	return s.c != nil && s.c.ivs[s.i].first <= a && a <= s.c.ivs[s.i].last
}

// locate returns where a is or would go: the chunk with the greatest first
// address <= a and the index of the interval in it with the greatest first
// address <= a, the only one that can hold a; or the zero spot if every
// interval starts after a.
//
// A pool's allocations move forward, so the spot of its last allocation
// (hint) is usually right, or one interval or chunk short; checking that is
// O(1), and only otherwise does locate search the tree and the chunk. hint
// may be stale: it is checked against the set as it is now.
func (t *TakenSet) locate(a mac.Address, hint spot) spot {
	c := t.chunkFor(a, hint.c)
	if c == nil {
		return spot{}
	}
	if c == hint.c {
		for _, i := range [2]int{hint.i, hint.i + 1} {
			if i >= 0 && i < len(c.ivs) && c.ivs[i].first <= a && (i+1 == len(c.ivs) || a < c.ivs[i+1].first) {
				return spot{c, i}
			}
		}
	}
	return spot{c, c.find(a)}
}

// chunkFor returns the chunk with the greatest lo <= a, or nil. A hint that
// is still alive and covers a, or whose successor does, answers in O(1);
// otherwise the tree is searched.
func (t *TakenSet) chunkFor(a mac.Address, hint *chunk) *chunk {
	if hint != nil && hint.alive() && hint.lo <= a {
		for range 2 {
			if hint.next == nil || a < hint.next.lo {
				return hint
			}
			hint = hint.next
		}
	}
	var found *chunk
	t.pivot.lo = a
	t.tree.DescendLessOrEqual(&t.pivot, func(c *chunk) bool {
		found = c
		return false
	})
	return found
}
