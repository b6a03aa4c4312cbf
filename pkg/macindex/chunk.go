package macindex

import (
	"slices"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// A chunk is a leaf of the TakenSet: a short sorted array of intervals.
//
// Were every interval its own B-tree item, each allocation in a well-filled
// pool would cost a full tree update (filling a one-address hole merges two
// intervals, so one must be deleted): measured, three to six times the cost
// in an empty pool. With chunks, merging, splitting and growing intervals are
// edits of a small array in place, and the tree changes only when a chunk
// splits or goes away, once per tens of edits.
//
// Chunks are also linked in address order, so the intervals on either side
// of an address and the chunk after a hint are found without the tree.
type chunk struct {
	// lo is the tree key, always ivs[0].first. It is changed in place, which
	// keeps the tree ordered because intervals are disjoint and not adjacent:
	// lo can never move past the intervals of another chunk.
	lo mac.Address
	// ivs holds the intervals, sorted: 1 to maxChunk while in the tree,
	// none once dropped. It is a window into buf that can start anywhere in
	// it, so that deleting near the front shifts the front, not the back.
	ivs        []interval
	buf        []interval
	prev, next *chunk
}

const (
	// A chunk's buffer of maxChunk+1 intervals of 16 bytes is exactly one
	// kilobyte, a malloc size class: a binary search or a shift in it costs
	// little, and the tree holds about 1/40th as many chunks as intervals.
	maxChunk = 63
	// A chunk below minChunk is merged with or refilled from a neighbour,
	// so that chunks stay at least a quarter full and memory per interval
	// stays bounded.
	minChunk = maxChunk / 4
	// treeDegree is the fan-out of the B-tree of chunks.
	treeDegree = 16
)

func byLo(a, b *chunk) bool { return a.lo < b.lo }

// newChunk returns a chunk of the given intervals. Its buf has room for
// maxChunk+1, the most a chunk holds before it splits, so it never grows.
// The last chunk dropped is reused: a set that keeps going from empty to one
// lease and back would otherwise allocate a kilobyte each time.
func (t *TakenSet) newChunk(ivs ...interval) *chunk {
	c := t.spare
	if c != nil {
		t.spare = nil
	} else {
		c = &chunk{buf: make([]interval, maxChunk+1)}
	}
	c.ivs = append(c.buf[:0], ivs...)
	c.lo = c.ivs[0].first
	return c
}

// alive reports whether c is still in the tree; a pool's hint may outlive it.
func (c *chunk) alive() bool { return len(c.ivs) > 0 }

// find returns the index of the interval with the greatest first address
// <= a, or -1 if there is none.
func (c *chunk) find(a mac.Address) int {
	lo, hi := 0, len(c.ivs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if c.ivs[mid].first <= a {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo - 1
}

// room makes space for k more intervals at the back of ivs, moving the
// window to the start of buf if it has drifted too far back.
func (c *chunk) room(k int) {
	if len(c.ivs)+k > cap(c.ivs) {
		c.ivs = c.buf[:copy(c.buf, c.ivs)]
	}
}

// deleteAt removes the j-th interval, shifting whichever side of it is
// shorter. A pool filling a region sweeps forward, merging each interval into
// the one it has grown behind the cursor, which is near the front of its
// chunk; shifting the front makes each of those merges O(1).
func (c *chunk) deleteAt(j int) {
	if n := len(c.ivs); j < n/2 {
		copy(c.ivs[1:j+1], c.ivs[:j])
		c.ivs = c.ivs[1:]
	} else {
		copy(c.ivs[j:], c.ivs[j+1:])
		c.ivs = c.ivs[:n-1]
	}
}

// insertAt inserts iv as the j-th interval of c, splitting c in two when it
// overflows.
func (t *TakenSet) insertAt(c *chunk, j int, iv interval) {
	c.room(1)
	c.ivs = slices.Insert(c.ivs, j, iv)
	if j == 0 {
		c.lo = iv.first
	}
	if len(c.ivs) <= maxChunk {
		return
	}
	half := len(c.ivs) / 2
	d := t.newChunk(c.ivs[half:]...)
	c.ivs = c.ivs[:half]
	t.link(c, d)
	t.tree.ReplaceOrInsert(d)
}

// removeAt deletes the j-th interval of c, then drops c if it is empty or
// rebalances it with a neighbour if it is nearly so.
func (t *TakenSet) removeAt(c *chunk, j int) {
	c.deleteAt(j)
	if len(c.ivs) == 0 {
		t.drop(c)
		return
	}
	if j == 0 {
		c.lo = c.ivs[0].first
	}
	if len(c.ivs) >= minChunk {
		return
	}
	switch next, prev := c.next, c.prev; {
	case next != nil && len(c.ivs)+len(next.ivs) <= maxChunk:
		c.room(len(next.ivs))
		c.ivs = append(c.ivs, next.ivs...)
		t.drop(next)
	case prev != nil && len(prev.ivs)+len(c.ivs) <= maxChunk:
		prev.room(len(c.ivs))
		prev.ivs = append(prev.ivs, c.ivs...)
		t.drop(c)
	case next != nil:
		// Too many to merge: take half the difference from next's front.
		k := (len(next.ivs) - len(c.ivs)) / 2
		c.room(k)
		c.ivs = append(c.ivs, next.ivs[:k]...)
		next.ivs = next.ivs[k:]
		next.lo = next.ivs[0].first
	case prev != nil:
		k := (len(prev.ivs) - len(c.ivs)) / 2
		c.room(k)
		c.ivs = slices.Insert(c.ivs, 0, prev.ivs[len(prev.ivs)-k:]...)
		prev.ivs = prev.ivs[:len(prev.ivs)-k]
		c.lo = c.ivs[0].first
	}
}

// link puts d into the chunk list right after c.
func (t *TakenSet) link(c, d *chunk) {
	d.prev, d.next = c, c.next
	if c.next != nil {
		c.next.prev = d
	}
	c.next = d
}

// drop removes c from the tree and the chunk list and marks it dead, so that
// a hint still pointing at it is ignored. If newChunk brings it back, such a
// hint is valid again: chunkFor checks a hint against the list as it is now,
// not against what the chunk used to hold.
func (t *TakenSet) drop(c *chunk) {
	t.tree.Delete(c)
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		t.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.ivs, c.prev, c.next = c.buf[:0], nil, nil
	t.spare = c
}
