package macindex

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// Pool is the allocation state of one MAC pool: its ranges, the shared
// TakenSet and a cursor that only moves forward.
type Pool struct {
	name  string
	taken *TakenSet

	mu     sync.Mutex
	random io.Reader // read only under mu: seeded test readers are not goroutine safe
	ranges []mac.Range
	// capacity is the number of unicast addresses in ranges.
	capacity uint64
	// The cursor is the next address to try: ranges[index], from address at.
	// at may be one past the end of that range after its last address was
	// handed out; Candidate then simply moves on to the next range.
	index int
	at    mac.Address
	// hint is where in the TakenSet the last candidate went, so that the
	// next search can start there instead of at the root of the tree. Only
	// the TakenSet dereferences it, under its own lock, and checks it first.
	hint spot
}

// NewPool returns a pool over ranges, which must not overlap (the API
// validates that), allocating from taken, the set shared by all pools. The
// cursor starts at a uniformly random offset drawn from random: crypto/rand
// in production, a seeded reader in tests.
func NewPool(name string, ranges []mac.Range, taken *TakenSet, random io.Reader) (*Pool, error) {
	if taken == nil {
		return nil, fmt.Errorf("MAC pool %q: no taken set", name)
	}
	if random == nil {
		return nil, fmt.Errorf("MAC pool %q: no source of randomness", name)
	}
	p := &Pool{name: name, taken: taken, random: random}
	if err := p.SetRanges(ranges); err != nil {
		return nil, err
	}
	return p, nil
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// Ranges returns a copy of the pool's ranges.
func (p *Pool) Ranges() []mac.Range {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.ranges)
}

// SetRanges replaces the pool's ranges (a day-2 edit). New allocations come
// from the new ranges at once because the cursor is re-randomised over them.
// The same ranges again (every MacPool status write delivers the pool anew)
// keep the cursor: re-randomising it would hand a just-freed address straight
// back. Addresses leased outside the new ranges stay in the shared TakenSet:
// their leases still exist and no other pool may hand them out.
func (p *Pool) SetRanges(ranges []mac.Range) error {
	var total, capacity uint64
	for i, r := range ranges {
		if r.Start > r.End || r.End > mac.MaxAddress {
			return fmt.Errorf("MAC pool %q: range %d (%s) is not a valid range", p.name, i, r)
		}
		for _, earlier := range ranges[:i] {
			if r.Overlaps(earlier) {
				return fmt.Errorf("MAC pool %q: range %s overlaps range %s", p.name, r, earlier)
			}
		}
		total += r.Size()
		capacity += unicastIn(r.Start, r.End)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ranges != nil && slices.Equal(p.ranges, ranges) {
		return nil
	}
	index, at := 0, mac.Address(0)
	if total > 0 {
		offset, err := randomBelow(p.random, total)
		if err != nil {
			return fmt.Errorf("MAC pool %q: choosing a random starting point: %w", p.name, err)
		}
		index, at = atOffset(ranges, offset)
	}
	p.ranges = slices.Clone(ranges)
	p.capacity = capacity
	p.index, p.at = index, at
	return nil
}

// Candidate returns the next free address at or after the cursor, going
// through the ranges in order and wrapping around once, and reserves it in
// the TakenSet so that concurrent callers (of this pool or of another pool
// sharing the set) get different addresses. The cursor moves past the
// returned address, so an address freed just now is only offered again once
// the cursor has gone all the way round.
//
// The caller must either create the lease for the address or, if that failed
// for a reason other than AlreadyExists, give it back with Release.
func (p *Pool) Candidate() (mac.Address, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.ranges)
	// Step 0 searches the cursor's range from the cursor on, steps 1..n-1 the
	// other ranges in order, and step n the cursor's range behind the cursor.
	for step := 0; n > 0 && step <= n; step++ {
		i := (p.index + step) % n
		within, from := p.ranges[i], p.ranges[i].Start
		switch step {
		case 0:
			from = p.at
		case n:
			if p.at == within.Start {
				continue
			}
			within.End = p.at - 1
		}
		a, hint, ok := p.taken.takeNextFree(from, within, p.hint)
		if ok {
			p.index, p.at, p.hint = i, a+1, hint
			return a, nil
		}
	}
	return 0, &ExhaustedError{Pool: p.name, Capacity: p.capacity}
}

// Release frees an address that Candidate reserved but whose lease could not
// be created. If the lease was in fact created (say the create timed out after
// storage committed it), the watch adds it back, and until then a second
// create of the same address fails with AlreadyExists, so no MAC is ever
// handed out twice.
func (p *Pool) Release(a mac.Address) { p.taken.Remove(a) }

// Stats returns the number of unicast addresses in the pool's ranges, how
// many of them are taken, and how many are free. It is computed from the
// TakenSet, so leases made by other replicas or pools count as soon as the
// watch has seen them.
func (p *Pool) Stats() (capacity, allocated, free uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	allocated = p.taken.countUnicastIn(p.ranges)
	return p.capacity, allocated, p.capacity - min(allocated, p.capacity)
}

// atOffset maps an offset into the concatenation of ranges to a range index
// and an address. offset must be below the total size of the ranges.
func atOffset(ranges []mac.Range, offset uint64) (int, mac.Address) {
	for i, r := range ranges {
		if offset < r.Size() {
			return i, r.Start + mac.Address(offset)
		}
		offset -= r.Size()
	}
	panic(fmt.Sprintf("allocator: offset %d is beyond the ranges", offset))
}

// randomBelow returns a uniformly distributed number in [0, n), n > 0. Values
// from the top, incomplete cycle of 2^64 mod n are rejected and redrawn, so
// that low offsets are not favoured; with n <= 2^48 that almost never happens.
func randomBelow(random io.Reader, n uint64) (uint64, error) {
	rejectFrom := -(-n % n) // 2^64 - (2^64 mod n), as 0 when n divides 2^64
	var buf [8]byte
	for {
		if _, err := io.ReadFull(random, buf[:]); err != nil {
			return 0, err
		}
		v := binary.BigEndian.Uint64(buf[:])
		if rejectFrom == 0 || v < rejectFrom {
			return v % n, nil
		}
	}
}
