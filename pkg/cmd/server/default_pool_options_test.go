package server

import (
	"strings"
	"testing"
)

// No range is the cluster's own; the original's flags and environment
// still configure one, and half a range is refused.
func TestDefaultPoolOptions(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		start, end string
		wantRanges int
		wantErr    string
	}{
		{name: "nothing configured: the cluster's own range"},
		{name: "flags", start: "0a:00:00:00:00:00", end: "0a:00:00:00:ff:ff", wantRanges: 1},
		{name: "the original's environment", env: map[string]string{"RANGE_START": "02:00:00:00:00:00", "RANGE_END": "02:FF:FF:FF:FF:FF"}, wantRanges: 1},
		{name: "only a start", start: "0a:00:00:00:00:00", wantErr: "give both"},
		{name: "multicast", start: "03:00:00:00:00:00", end: "03:00:00:00:00:ff", wantErr: "--range-start/--range-end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("RANGE_START", tc.env["RANGE_START"])
			t.Setenv("RANGE_END", tc.env["RANGE_END"])
			o := NewDefaultPoolOptions()
			if tc.start != "" {
				o.RangeStart = tc.start
			}
			if tc.end != "" {
				o.RangeEnd = tc.end
			}
			errs := o.Validate()
			if tc.wantErr != "" {
				if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.wantErr) {
					t.Fatalf("errors %v, want one with %q", errs, tc.wantErr)
				}
				return
			}
			if len(errs) != 0 {
				t.Fatalf("errors %v", errs)
			}
			if got := len(o.Spec().Ranges); got != tc.wantRanges {
				t.Errorf("%d ranges, want %d", got, tc.wantRanges)
			}
		})
	}
}
