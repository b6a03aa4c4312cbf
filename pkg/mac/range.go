package mac

import "fmt"

// Range is an inclusive range of addresses.
type Range struct {
	Start Address
	End   Address
}

// ParseRange parses and checks a range: both ends unicast and start <= end.
// Only the ends are checked for the group bit; a range that spans a first
// octet boundary contains multicast addresses, which the allocator skips.
func ParseRange(start, end string) (Range, error) {
	first, err := ParseUnicast(start)
	if err != nil {
		return Range{}, fmt.Errorf("range start: %w", err)
	}
	last, err := ParseUnicast(end)
	if err != nil {
		return Range{}, fmt.Errorf("range end: %w", err)
	}
	if first > last {
		return Range{}, fmt.Errorf("range start %s is after range end %s", first, last)
	}
	return Range{Start: first, End: last}, nil
}

// Size is the number of addresses in the range, up to 2^48.
func (r Range) Size() uint64 { return uint64(r.End-r.Start) + 1 }

// Contains reports whether a lies in the range.
func (r Range) Contains(a Address) bool { return a >= r.Start && a <= r.End }

// Overlaps reports whether the two ranges share at least one address.
func (r Range) Overlaps(other Range) bool {
	return r.Start <= other.End && other.Start <= r.End
}

// Offset returns the address n places after the start, wrapping inside the
// range, so a cursor can move forward without leaving it.
func (r Range) Offset(n uint64) Address {
	return r.Start + Address(n%r.Size())
}

func (r Range) String() string { return r.Start.String() + "-" + r.End.String() }
