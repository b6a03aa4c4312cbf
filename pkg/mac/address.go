package mac

import (
	"fmt"
	"strings"
)

// Address is a 48-bit MAC address in the low bits of a uint64, first octet
// most significant, so that numeric order is the order of the octets.
type Address uint64

// MaxAddress is ff:ff:ff:ff:ff:ff.
const MaxAddress Address = 1<<48 - 1

// multicastBit is the least significant bit of the first octet (IEEE 802).
const multicastBit Address = 1 << 40

// localBit is the locally-administered bit of the first octet.
const localBit Address = 1 << 41

// Parse reads a MAC address of six octets, two hex digits each, separated
// all by ':' or all by '-', in any case. Other notations that net.ParseMAC
// accepts (dotted, 8- and 20-octet forms) are refused on purpose: the API
// stores exactly one canonical form and users should not guess which
// spellings are equivalent.
func Parse(text string) (Address, error) {
	if len(text) != 17 {
		return 0, fmt.Errorf("invalid MAC address %q: want six two-digit hex octets separated by ':' or '-'", text)
	}
	separator := text[2]
	if separator != ':' && separator != '-' {
		return 0, fmt.Errorf("invalid MAC address %q: octets must be separated by ':' or '-'", text)
	}
	var value Address
	for octet := 0; octet < 6; octet++ {
		offset := octet * 3
		if octet > 0 && text[offset-1] != separator {
			return 0, fmt.Errorf("invalid MAC address %q: mixed or missing separators", text)
		}
		high, okHigh := hexDigit(text[offset])
		low, okLow := hexDigit(text[offset+1])
		if !okHigh || !okLow {
			return 0, fmt.Errorf("invalid MAC address %q: octet %d is not two hex digits", text, octet+1)
		}
		value = value<<8 | Address(high<<4|low)
	}
	return value, nil
}

// MustParse is Parse for constants in code and tests; it panics on error.
func MustParse(text string) Address {
	address, err := Parse(text)
	if err != nil {
		panic(err)
	}
	return address
}

// ParseUnicast is Parse plus a check that the address can be given to an
// interface: a multicast (group) address as a source MAC breaks L2 networks.
func ParseUnicast(text string) (Address, error) {
	address, err := Parse(text)
	if err != nil {
		return 0, err
	}
	if address.IsMulticast() {
		return 0, fmt.Errorf("invalid MAC address %q: multicast addresses (first octet %#02x has its lowest bit set) cannot be assigned to an interface; use a unicast address", text, address.Octet(0))
	}
	return address, nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Octet returns octet i (0 is the first, most significant).
func (a Address) Octet(i int) byte {
	return byte(a >> (8 * (5 - i)))
}

// IsMulticast reports whether the group bit of the first octet is set.
func (a Address) IsMulticast() bool { return a&multicastBit != 0 }

// IsLocallyAdministered reports whether the U/L bit of the first octet is set.
func (a Address) IsLocallyAdministered() bool { return a&localBit != 0 }

// String is the canonical colon form, lower-case: 02:00:00:00:00:0a.
func (a Address) String() string { return a.format(':') }

// Name is the dash form used as a MacLease name: 02-00-00-00-00-0a.
func (a Address) Name() string { return a.format('-') }

func (a Address) format(separator byte) string {
	const digits = "0123456789abcdef"
	var text strings.Builder
	text.Grow(17)
	for i := 0; i < 6; i++ {
		if i > 0 {
			text.WriteByte(separator)
		}
		octet := a.Octet(i)
		text.WriteByte(digits[octet>>4])
		text.WriteByte(digits[octet&0xf])
	}
	return text.String()
}

// Canonical returns the colon form of text if it parses, so callers can
// normalise user input without deciding what to do with errors twice.
func Canonical(text string) (string, error) {
	address, err := Parse(text)
	if err != nil {
		return "", err
	}
	return address.String(), nil
}
