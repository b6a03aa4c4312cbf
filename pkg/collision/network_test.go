package collision

import (
	"reflect"
	"testing"
)

func on(key string, network string, macs ...string) func(*Index) (Change, []string) {
	return func(ix *Index) (Change, []string) {
		holdings := make([]Holding, len(macs))
		for i, address := range macs {
			holdings[i] = Holding{MAC: address, Network: network}
		}
		return ix.UpdateHoldings(key, "uid-"+key, holdings, nil)
	}
}

// Two holders of one MAC collide only when they can meet on one L2
// network: the same network, or one of unknown scope.
func TestCollisionsPerNetwork(t *testing.T) {
	const (
		red  = "infra/red"
		blue = "infra/blue"
	)
	tests := []struct {
		name  string
		steps []func(*Index) (Change, []string)
		want  map[string][]string
	}{
		{name: "same network collides",
			steps: []func(*Index) (Change, []string){on(pod, red, macA), on(pod2, red, macA)},
			want:  map[string][]string{macA: {pod, pod2}}},
		{name: "different networks do not collide",
			steps: []func(*Index) (Change, []string){on(pod, red, macA), on(pod2, blue, macA)},
			want:  map[string][]string{}},
		{name: "same name in another namespace is another network",
			steps: []func(*Index) (Change, []string){on(pod, "a/net", macA), on(pod2, "b/net", macA)},
			want:  map[string][]string{}},
		{name: "unknown scope meets every network",
			steps: []func(*Index) (Change, []string){on(pod, red, macA), on(vmi, UnknownNetwork, macA)},
			want:  map[string][]string{macA: {pod, vmi}}},
		{name: "Update without networks is unknown scope",
			steps: []func(*Index) (Change, []string){on(pod, red, macA), func(ix *Index) (Change, []string) {
				return ix.Update(vmi, "u", []string{macA}, nil)
			}},
			want: map[string][]string{macA: {pod, vmi}}},
		{name: "a third holder on one of the networks collides with that one only",
			steps: []func(*Index) (Change, []string){on(pod, red, macA), on(pod2, blue, macA), on(vmi, blue, macA)},
			want:  map[string][]string{macA: {pod2, vmi}}},
		{name: "an object on both networks meets each",
			steps: []func(*Index) (Change, []string){on(pod, red, macA), func(ix *Index) (Change, []string) {
				return ix.UpdateHoldings(pod2, "u", []Holding{{MAC: macA, Network: blue}, {MAC: "02-00-00-00-CC-01", Network: red}}, nil)
			}},
			want: map[string][]string{macA: {pod, pod2}}},
		{name: "moving to another network resolves the collision",
			steps: []func(*Index) (Change, []string){on(pod, red, macA), on(pod2, red, macA), on(pod2, blue, macA)},
			want:  map[string][]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ix := New()
			for _, step := range tc.steps {
				step(ix)
				checkInvariants(t, ix)
			}
			if got := ix.Collisions(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Collisions() = %v, want %v", got, tc.want)
			}
		})
	}
}

// The change of a holder's network alone is reported.
func TestNetworkChangeIsReported(t *testing.T) {
	ix := New()
	on(pod, "infra/red", macA)(ix)
	on(pod2, "infra/blue", macA)(ix)
	change, _ := on(pod2, "infra/red", macA)(ix)
	want := Change{Started: []Transition{{MAC: macA, Keys: []string{pod, pod2}}}}
	if !reflect.DeepEqual(change, want) {
		t.Errorf("change = %+v, want %+v", change, want)
	}
}

func TestMeet(t *testing.T) {
	tests := []struct {
		a, b []string
		want bool
	}{
		{a: []string{"x/a"}, b: []string{"x/a"}, want: true},
		{a: []string{"x/a"}, b: []string{"x/b"}},
		{a: []string{"x/a", "x/b"}, b: []string{"x/b", "x/c"}, want: true},
		{a: []string{UnknownNetwork}, b: []string{"x/b"}, want: true},
		{a: []string{"x/a"}, b: []string{UnknownNetwork, "x/c"}, want: true},
		{a: nil, b: []string{"x/a"}},
	}
	for _, tc := range tests {
		if got := Meet(tc.a, tc.b); got != tc.want {
			t.Errorf("Meet(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
