package macindex

import "kubemacpool.io/kubemacpool/pkg/mac"

// The multicast bit is the lowest bit of the first octet, bit 40 of a 48-bit
// address. Multicast addresses therefore come in blocks of 2^40 consecutive
// values (every odd first octet), one block in every 2^41. Working with the
// block arithmetic lets a range that spans such a block be skipped or counted
// in O(1) instead of address by address.
const (
	multicastBit   = uint64(1) << 40
	multicastCycle = uint64(1) << 41
)

// pastMulticast returns the first address after the multicast block holding a:
// the next even first octet with the lower 40 bits zero.
func pastMulticast(a mac.Address) mac.Address {
	return (a | mac.Address(multicastBit-1)) + 1
}

// multicastBelow counts the multicast addresses in [0, n).
func multicastBelow(n uint64) uint64 {
	cycles, rest := n/multicastCycle, n%multicastCycle
	count := cycles * multicastBit
	if rest > multicastBit {
		count += rest - multicastBit
	}
	return count
}

// unicastIn counts the addresses in [first, last] that can be assigned to an
// interface. Callers keep last <= mac.MaxAddress, so last+1 cannot overflow.
func unicastIn(first, last mac.Address) uint64 {
	size := uint64(last-first) + 1
	return size - (multicastBelow(uint64(last)+1) - multicastBelow(uint64(first)))
}
