package macpool

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseNodeHolds(t *testing.T) {
	tests := []struct {
		name  string
		value string
		// fails names what the error says; "" parses.
		fails string
		nodes int
	}{
		{name: "one", value: `[{"node":"n1","pod":"web-0","stoppedBy":"2026-12-01T18:00:00Z"}]`, nodes: 1},
		{name: "two nodes", value: `[{"node":"n1","pod":"a","stoppedBy":"2026-12-01T18:00:00Z"},{"node":"n2.example.com","pod":"b","stoppedBy":"2026-12-01T18:00:05Z"}]`, nodes: 2},
		{name: "not JSON", value: `n1`, fails: "JSON list"},
		{name: "an object, not a list", value: `{"node":"n1"}`, fails: "JSON list"},
		{name: "unknown field", value: `[{"node":"n1","pod":"a","stoppedBy":"2026-12-01T18:00:00Z","forever":true}]`, fails: "forever"},
		{name: "something after the list", value: `[{"node":"n1","pod":"a","stoppedBy":"2026-12-01T18:00:00Z"}]]`, fails: "nothing after"},
		{name: "empty list", value: `[]`, fails: "at least one"},
		{name: "null", value: `null`, fails: "at least one"},
		{name: "node missing", value: `[{"pod":"a","stoppedBy":"2026-12-01T18:00:00Z"}]`, fails: "[0].node"},
		{name: "node not a name", value: `[{"node":"N 1","pod":"a","stoppedBy":"2026-12-01T18:00:00Z"}]`, fails: "[0].node"},
		{name: "pod missing", value: `[{"node":"n1","stoppedBy":"2026-12-01T18:00:00Z"}]`, fails: "[0].pod"},
		{name: "time missing", value: `[{"node":"n1","pod":"a"}]`, fails: "[0].stoppedBy"},
		{name: "time malformed", value: `[{"node":"n1","pod":"a","stoppedBy":"tomorrow"}]`, fails: "JSON list"},
		{name: "a node twice", value: `[{"node":"n1","pod":"a","stoppedBy":"2026-12-01T18:00:00Z"},{"node":"n1","pod":"b","stoppedBy":"2026-12-01T18:00:00Z"}]`, fails: "[1].node"},
		{name: "too many nodes", value: manyHolds(MaxNodeHolds + 1), fails: "at most"},
		{name: "as many nodes as allowed", value: manyHolds(MaxNodeHolds), nodes: MaxNodeHolds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			holds, err := ParseNodeHolds(tt.value)
			switch {
			case tt.fails == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.fails != "" && err == nil:
				t.Fatalf("parsed %v, want an error saying %q", holds, tt.fails)
			case tt.fails != "" && !strings.Contains(err.Error(), tt.fails):
				t.Fatalf("error %q does not say %q", err, tt.fails)
			case len(holds) != tt.nodes:
				t.Fatalf("%d holds, want %d", len(holds), tt.nodes)
			}
		})
	}
}

func manyHolds(n int) string {
	holds := make([]NodeHold, n)
	for i := range holds {
		holds[i] = NodeHold{Node: "n" + strings.Repeat("x", i), Pod: "p", StoppedBy: metav1.NewTime(time.Unix(1_800_000_000, 0))}
	}
	return FormatNodeHolds(holds)
}

// Merging keeps one hold per node, the one that ends last, never shortens a
// hold by the annotation's second precision, and keeps the holds that end
// last past MaxNodeHolds.
func TestMergeNodeHolds(t *testing.T) {
	at := func(seconds int64, nanos int64) metav1.Time { return metav1.NewTime(time.Unix(seconds, nanos)) }
	recorded := []NodeHold{{Node: "n1", Pod: "a", StoppedBy: at(100, 0)}, {Node: "n2", Pod: "b", StoppedBy: at(200, 0)}}
	merged := MergeNodeHolds(recorded, []NodeHold{
		{Node: "n1", Pod: "c", StoppedBy: at(150, 1)}, // later: replaces, rounded up
		{Node: "n2", Pod: "d", StoppedBy: at(150, 0)}, // earlier: ignored
		{Node: "n3", Pod: "e", StoppedBy: at(50, 0)},
	})
	want := `[{"node":"n1","pod":"c","stoppedBy":"` + at(151, 0).UTC().Format(time.RFC3339) + `"},` +
		`{"node":"n2","pod":"b","stoppedBy":"` + at(200, 0).UTC().Format(time.RFC3339) + `"},` +
		`{"node":"n3","pod":"e","stoppedBy":"` + at(50, 0).UTC().Format(time.RFC3339) + `"}]`
	if got := FormatNodeHolds(merged); got != want {
		t.Errorf("merged\n  %s\nwant\n  %s", got, want)
	}
	if recorded[0].Pod != "a" {
		t.Error("merging changed the recorded holds")
	}

	var many []NodeHold
	for i := range MaxNodeHolds + 2 {
		many = append(many, NodeHold{Node: "n" + strings.Repeat("x", i), Pod: "p", StoppedBy: at(int64(1000+i), 0)})
	}
	kept := MergeNodeHolds(nil, many)
	if len(kept) != MaxNodeHolds {
		t.Fatalf("%d holds kept, want %d", len(kept), MaxNodeHolds)
	}
	for _, hold := range kept {
		if hold.StoppedBy.Unix() < 1002 {
			t.Errorf("kept the hold of %s, which ends first", hold.Node)
		}
	}
}

// What parses formats to a value that parses to the same holds, and what
// FormatNodeHolds writes of merged holds always parses.
func FuzzParseNodeHolds(f *testing.F) {
	f.Add(`[{"node":"n1","pod":"web-0","stoppedBy":"2026-12-01T18:00:00Z"}]`)
	f.Add(`[{"node":"n1","pod":"a","stoppedBy":"2026-12-01T18:00:00Z"},{"node":"n2","pod":"b","stoppedBy":"2026-12-01T18:00:05+02:00"}]`)
	f.Add(`[{"node":"n1","pod":"a","stoppedBy":"2026-12-01T18:00:00Z"}]]`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, value string) {
		holds, err := ParseNodeHolds(value)
		if err != nil {
			return
		}
		formatted := FormatNodeHolds(holds)
		again, err := ParseNodeHolds(formatted)
		if err != nil {
			t.Fatalf("%q parsed, its format %q does not: %v", value, formatted, err)
		}
		if FormatNodeHolds(again) != formatted {
			t.Fatalf("%q: formats %q, then %q", value, formatted, FormatNodeHolds(again))
		}
		merged := MergeNodeHolds(nil, holds)
		if _, err := ParseNodeHolds(FormatNodeHolds(merged)); err != nil {
			t.Fatalf("%q: the merge of what parsed does not parse: %v", value, err)
		}
		for _, hold := range holds {
			i := indexOfNode(merged, hold.Node)
			if i < 0 || merged[i].StoppedBy.Before(&hold.StoppedBy) {
				t.Fatalf("%q: the merge shortened or dropped the hold of %s", value, hold.Node)
			}
		}
	})
}

func indexOfNode(holds []NodeHold, node string) int {
	for i, hold := range holds {
		if hold.Node == node {
			return i
		}
	}
	return -1
}
