package macindex

import (
	"slices"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// WithoutExcluded returns ranges with every address of exclude taken out,
// in the order of ranges, so that a pool built over the result never offers
// an excluded address and its capacity does not count one. exclude may
// overlap itself and lie partly or wholly outside ranges. The result of
// ranges that do not overlap each other does not overlap either.
func WithoutExcluded(ranges, exclude []mac.Range) []mac.Range {
	if len(exclude) == 0 {
		return slices.Clone(ranges)
	}
	sorted := slices.Clone(exclude)
	slices.SortFunc(sorted, func(a, b mac.Range) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	var out []mac.Range
	for _, r := range ranges {
		from := r.Start
		done := false
		for _, x := range sorted {
			if x.End < from || x.Start > r.End {
				continue
			}
			if x.Start > from {
				out = append(out, mac.Range{Start: from, End: x.Start - 1})
			}
			if x.End >= r.End {
				done = true
				break
			}
			from = x.End + 1
		}
		if !done {
			out = append(out, mac.Range{Start: from, End: r.End})
		}
	}
	return out
}

// Excluded reports whether a lies in one of exclude.
func Excluded(a mac.Address, exclude []mac.Range) bool {
	for _, x := range exclude {
		if x.Contains(a) {
			return true
		}
	}
	return false
}
