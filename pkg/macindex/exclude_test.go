package macindex

import (
	"bytes"
	"errors"
	"testing"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

func rangeOf(start, end string) mac.Range {
	return mac.Range{Start: mac.MustParse(start), End: mac.MustParse(end)}
}

func TestWithoutExcluded(t *testing.T) {
	pool := []mac.Range{rangeOf("02:00:00:00:00:00", "02:00:00:00:00:0f"), rangeOf("02:00:00:00:01:00", "02:00:00:00:01:0f")}
	tests := []struct {
		name    string
		exclude []mac.Range
		want    []mac.Range
	}{
		{name: "nothing excluded", want: pool},
		{name: "outside every range", exclude: []mac.Range{rangeOf("0e:00:00:00:00:00", "0e:00:00:00:00:ff")}, want: pool},
		{name: "head, middle and tail", exclude: []mac.Range{
			rangeOf("02:00:00:00:00:0e", "02:00:00:00:01:01"),
			rangeOf("02:00:00:00:00:00", "02:00:00:00:00:00"),
			rangeOf("02:00:00:00:00:04", "02:00:00:00:00:05"),
		}, want: []mac.Range{
			rangeOf("02:00:00:00:00:01", "02:00:00:00:00:03"),
			rangeOf("02:00:00:00:00:06", "02:00:00:00:00:0d"),
			rangeOf("02:00:00:00:01:02", "02:00:00:00:01:0f"),
		}},
		{name: "overlapping excludes", exclude: []mac.Range{
			rangeOf("02:00:00:00:00:02", "02:00:00:00:00:08"),
			rangeOf("02:00:00:00:00:04", "02:00:00:00:00:05"),
			rangeOf("02:00:00:00:00:07", "02:00:00:00:00:0a"),
		}, want: []mac.Range{
			rangeOf("02:00:00:00:00:00", "02:00:00:00:00:01"),
			rangeOf("02:00:00:00:00:0b", "02:00:00:00:00:0f"),
			pool[1],
		}},
		{name: "a whole range", exclude: []mac.Range{rangeOf("02:00:00:00:00:00", "02:00:00:00:00:ff")}, want: pool[1:]},
		{name: "everything", exclude: []mac.Range{rangeOf("02:00:00:00:00:00", "02:00:00:00:ff:ff")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := WithoutExcluded(pool, tc.exclude)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
			for _, r := range got {
				for a := r.Start; a <= r.End; a++ {
					if Excluded(a, tc.exclude) {
						t.Errorf("%s is excluded but left in %v", a, got)
					}
				}
			}
		})
	}
}

// A pool over a tiny range with most of it excluded hands out only the
// addresses left, counts only them and is then exhausted.
func TestPoolNeverOffersExcluded(t *testing.T) {
	ranges := []mac.Range{rangeOf("02:00:00:00:00:00", "02:00:00:00:00:07")}
	exclude := []mac.Range{rangeOf("02:00:00:00:00:00", "02:00:00:00:00:02"), rangeOf("02:00:00:00:00:04", "02:00:00:00:00:06")}
	pool, err := NewPool("tiny", WithoutExcluded(ranges, exclude), NewTakenSet(), bytes.NewReader(make([]byte, 64)))
	if err != nil {
		t.Fatal(err)
	}
	if capacity, _, free := pool.Stats(); capacity != 2 || free != 2 {
		t.Errorf("capacity %d, free %d; want 2 and 2", capacity, free)
	}
	got := map[string]bool{}
	for range 2 {
		a, err := pool.Candidate()
		if err != nil {
			t.Fatal(err)
		}
		got[a.String()] = true
	}
	if !got["02:00:00:00:00:03"] || !got["02:00:00:00:00:07"] {
		t.Errorf("handed out %v, want 02:00:00:00:00:03 and 02:00:00:00:00:07", got)
	}
	var exhausted *ExhaustedError
	if _, err := pool.Candidate(); !errors.As(err, &exhausted) || exhausted.Capacity != 2 {
		t.Errorf("third candidate: %v, want exhausted with capacity 2", err)
	}
}
