package macpool

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// NodeHoldsAnnotation records on a lease the nodes that may still run, with
// its MAC, a Pod removed from the API before they stopped it (deleted with
// --force, or by the garbage collector of Pods on a node that stopped
// answering). The lease controller writes it when it sees such a Pod go and
// keeps the lease, Terminating if deleted, until each node proves it stopped
// the Pod. It is on the lease, not in the leader's memory, so that a new
// leader (every rolling upgrade) keeps the hold too. Removing or changing
// it lets the MAC go early, as removing the protection finalizer would, and
// takes the same permission (MacLeaseProtection).
const NodeHoldsAnnotation = "macpool.kubemacpool.io/node-holds"

// MaxNodeHolds bounds the nodes one lease waits for, and so the
// annotation's size (about 100 bytes a node): a MAC is on one Pod of its
// namespace at a time, a few in a collision the webhook warned of.
const MaxNodeHolds = 64

// MaxNodeHoldAhead bounds how far past the present a node hold's stoppedBy
// may be: the lease controller writes the removal plus at most an hour of
// grace and a margin of seconds. A hold written by hand (a restored backup
// a tenant handed over) further ahead would keep the MAC that long, whatever
// its node proves, since the controller asks a node only once stoppedBy is
// past.
const MaxNodeHoldAhead = time.Hour + 5*time.Minute

// NodeHold is a node that may still run a Pod removed with a lease's MAC.
// It is the value of an annotation, not a field of any API object.
// +k8s:deepcopy-gen=false
type NodeHold struct {
	// Node is the Node the Pod was scheduled to.
	Node string `json:"node"`
	// Pod is the removed Pod's name, for the reader.
	Pod string `json:"pod"`
	// StoppedBy is when the node's kubelet, had it heard of the removal at
	// once, would have stopped the Pod: the removal plus its grace period
	// (bounded) and a margin. The node proves it stopped the Pod by
	// reporting Ready after that, or by being deleted.
	StoppedBy metav1.Time `json:"stoppedBy"`
}

// ParseNodeHolds reads the value of NodeHoldsAnnotation: a JSON list of
// holds, one per node, each naming a node, a Pod and a time.
func ParseNodeHolds(value string) ([]NodeHold, error) {
	var holds []NodeHold
	decoder := json.NewDecoder(strings.NewReader(value))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&holds); err != nil {
		return nil, fmt.Errorf("must be a JSON list of {\"node\", \"pod\", \"stoppedBy\"}: %w", err)
	}
	if err := decoder.Decode(&struct{}{}); err != io.EOF {
		return nil, fmt.Errorf("must be one JSON list, with nothing after it")
	}
	if len(holds) == 0 {
		return nil, fmt.Errorf("must name at least one node; remove the annotation instead")
	}
	if len(holds) > MaxNodeHolds {
		return nil, fmt.Errorf("names %d nodes, at most %d", len(holds), MaxNodeHolds)
	}
	for i, hold := range holds {
		if problems := validation.IsDNS1123Subdomain(hold.Node); len(problems) > 0 {
			return nil, fmt.Errorf("[%d].node %q: %s", i, hold.Node, strings.Join(problems, "; "))
		}
		if problems := validation.IsDNS1123Subdomain(hold.Pod); len(problems) > 0 {
			return nil, fmt.Errorf("[%d].pod %q: %s", i, hold.Pod, strings.Join(problems, "; "))
		}
		if hold.StoppedBy.IsZero() {
			return nil, fmt.Errorf("[%d].stoppedBy: required", i)
		}
		if slices.ContainsFunc(holds[:i], func(h NodeHold) bool { return h.Node == hold.Node }) {
			return nil, fmt.Errorf("[%d].node %q: named twice", i, hold.Node)
		}
	}
	return holds, nil
}

// FormatNodeHolds is the value of NodeHoldsAnnotation for holds, sorted by
// node so that the same holds always read the same.
func FormatNodeHolds(holds []NodeHold) string {
	sorted := slices.Clone(holds)
	slices.SortFunc(sorted, func(a, b NodeHold) int { return strings.Compare(a.Node, b.Node) })
	value, err := json.Marshal(sorted)
	if err != nil {
		// A list of strings and times always marshals.
		panic(fmt.Sprintf("formatting node holds: %v", err))
	}
	return string(value)
}

// MergeNodeHolds adds more to holds: one hold per node, the later
// StoppedBy of the two (the node must prove it stopped the last Pod it may
// run), at most MaxNodeHolds: past that the holds that ran out first are
// dropped, which takes a MAC on that many Pods of one namespace, each
// removed from a different node. StoppedBy is kept to the second, as the
// annotation stores it, rounded up so that no hold gets shorter.
func MergeNodeHolds(holds, more []NodeHold) []NodeHold {
	merged := slices.Clone(holds)
	for _, hold := range more {
		if rest := hold.StoppedBy.Time.Truncate(time.Second); rest.Before(hold.StoppedBy.Time) {
			hold.StoppedBy = metav1.NewTime(rest.Add(time.Second))
		}
		i := slices.IndexFunc(merged, func(h NodeHold) bool { return h.Node == hold.Node })
		switch {
		case i < 0:
			merged = append(merged, hold)
		case merged[i].StoppedBy.Before(&hold.StoppedBy):
			merged[i] = hold
		}
	}
	if len(merged) > MaxNodeHolds {
		slices.SortFunc(merged, func(a, b NodeHold) int { return b.StoppedBy.Compare(a.StoppedBy.Time) })
		merged = merged[:MaxNodeHolds]
	}
	return merged
}
