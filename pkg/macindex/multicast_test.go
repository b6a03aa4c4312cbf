package macindex

import (
	"testing"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

func TestUnicastIn(t *testing.T) {
	tests := []struct {
		name        string
		first, last string
		want        uint64
	}{
		{"single unicast", "02:00:00:00:00:01", "02:00:00:00:00:01", 1},
		{"single multicast", "01:00:5e:00:00:01", "01:00:5e:00:00:01", 0},
		{"whole multicast block", "03:00:00:00:00:00", "03:ff:ff:ff:ff:ff", 0},
		{"around one block", "02:ff:ff:ff:ff:00", "04:00:00:00:00:ff", 512},
		{"from inside a block", "03:80:00:00:00:00", "04:00:00:00:00:00", 1},
		{"whole locally administered block", "02:00:00:00:00:00", "02:ff:ff:ff:ff:ff", 1 << 40},
		{"whole address space", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", 1 << 47},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if got := unicastIn(m(test.first), m(test.last)); got != test.want {
				t.Fatalf("unicastIn(%s, %s) = %d, want %d", test.first, test.last, got, test.want)
			}
		})
	}
}

func TestPastMulticast(t *testing.T) {
	tests := []struct {
		from string
		want mac.Address
	}{
		{"01:00:00:00:00:00", m("02:00:00:00:00:00")},
		{"03:12:34:56:78:9a", m("04:00:00:00:00:00")},
		{"03:ff:ff:ff:ff:ff", m("04:00:00:00:00:00")},
		{"ff:00:00:00:00:00", mac.MaxAddress + 1}, // past every MAC: callers stop at their range end
	}
	for _, test := range tests {
		if got := pastMulticast(m(test.from)); got != test.want {
			t.Errorf("pastMulticast(%s) = %#x, want %#x", test.from, uint64(got), uint64(test.want))
		}
	}
}
