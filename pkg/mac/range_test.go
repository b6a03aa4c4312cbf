package mac

import (
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		name     string
		start    string
		end      string
		wantSize uint64
		wantErr  string
	}{
		{name: "original default range", start: "02:00:00:00:00:00", end: "02:FF:FF:FF:FF:FF", wantSize: 1 << 40},
		{name: "single address", start: "02:00:00:00:00:01", end: "02:00:00:00:00:01", wantSize: 1},
		{name: "carry across octets", start: "02:00:00:00:00:ff", end: "02:00:00:00:01:00", wantSize: 2},
		{name: "carry across five octets", start: "02:ff:ff:ff:ff:ff", end: "04:00:00:00:00:00", wantSize: 1<<40 + 2},
		{name: "whole space", start: "00:00:00:00:00:00", end: "fe:ff:ff:ff:ff:ff", wantSize: 0xfeffffffffff + 1},
		{name: "start after end", start: "02:05:00:00:00:00", end: "02:01:ff:ff:ff:ff", wantErr: "is after range end"},
		{name: "multicast start", start: "03:00:00:00:00:00", end: "04:00:00:00:00:00", wantErr: "range start: invalid MAC address \"03:00:00:00:00:00\": multicast"},
		{name: "multicast end", start: "02:00:00:00:00:00", end: "05:00:00:00:00:00", wantErr: "range end"},
		{name: "bad syntax", start: "02:00:00:00:00", end: "02:00:00:00:00:01", wantErr: "range start: invalid MAC address"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := ParseRange(test.start, test.end)
			if test.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), test.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, test.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got.Size() != test.wantSize {
				t.Fatalf("Size() = %d, want %d", got.Size(), test.wantSize)
			}
		})
	}
}

func TestRangeOffsetAndContains(t *testing.T) {
	full := Range{Start: 0, End: MaxAddress}
	if full.Size() != 1<<48 {
		t.Fatalf("full range size = %d, want 2^48", full.Size())
	}
	if got := full.Offset(1 << 48); got != 0 {
		t.Fatalf("offset 2^48 in the full range = %s, want wrap to 00:00:00:00:00:00", got)
	}
	r := Range{Start: MustParse("02:00:00:00:00:fe"), End: MustParse("02:00:00:00:01:01")}
	tests := []struct {
		offset uint64
		want   string
	}{
		{0, "02:00:00:00:00:fe"},
		{1, "02:00:00:00:00:ff"},
		{2, "02:00:00:00:01:00"},
		{3, "02:00:00:00:01:01"},
		{4, "02:00:00:00:00:fe"},
		{1<<48 + 2, "02:00:00:00:01:00"},
	}
	for _, test := range tests {
		if got := r.Offset(test.offset).String(); got != test.want {
			t.Errorf("Offset(%d) = %s, want %s", test.offset, got, test.want)
		}
	}
	if !r.Contains(MustParse("02:00:00:00:01:00")) || r.Contains(MustParse("02:00:00:00:01:02")) || r.Contains(MustParse("02:00:00:00:00:fd")) {
		t.Fatal("Contains is wrong at the edges")
	}
}

func TestRangeOverlaps(t *testing.T) {
	a := Range{Start: 10, End: 20}
	tests := []struct {
		other Range
		want  bool
	}{
		{Range{Start: 0, End: 9}, false},
		{Range{Start: 0, End: 10}, true},
		{Range{Start: 20, End: 30}, true},
		{Range{Start: 21, End: 30}, false},
		{Range{Start: 12, End: 13}, true},
		{Range{Start: 0, End: 100}, true},
	}
	for _, test := range tests {
		if got := a.Overlaps(test.other); got != test.want {
			t.Errorf("%v overlaps %v = %v, want %v", a, test.other, got, test.want)
		}
		if got := test.other.Overlaps(a); got != test.want {
			t.Errorf("overlap is not symmetric for %v", test.other)
		}
	}
}
