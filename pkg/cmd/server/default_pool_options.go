package server

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// DefaultPoolOptions is the range of the pool named "default", created at
// start when it does not exist. Left empty, the pool takes a range of the
// cluster's own, derived from its identity (apiserver.ClusterRange).
type DefaultPoolOptions struct {
	RangeStart string
	RangeEnd   string
}

// NewDefaultPoolOptions returns no range (the cluster's own), or the
// RANGE_START/RANGE_END environment of an install of the original.
func NewDefaultPoolOptions() *DefaultPoolOptions {
	return &DefaultPoolOptions{RangeStart: os.Getenv("RANGE_START"), RangeEnd: os.Getenv("RANGE_END")}
}

// AddFlags registers the range flags.
func (o *DefaultPoolOptions) AddFlags(flags *pflag.FlagSet) {
	flags.StringVar(&o.RangeStart, "range-start", o.RangeStart,
		"First address of the default MacPool when the server creates it (env RANGE_START). An existing pool is left as it is. "+
			"Without --range-start and --range-end the pool gets a range of the cluster's own: 02:XX:YY:00:00:00-02:XX:YY:ff:ff:ff, "+
			"XX:YY from a hash of the kube-system namespace's UID.")
	flags.StringVar(&o.RangeEnd, "range-end", o.RangeEnd,
		"Last address of the default MacPool when the server creates it (env RANGE_END).")
}

// Validate checks that the range is a valid unicast range, or absent.
func (o *DefaultPoolOptions) Validate() []error {
	switch {
	case o.RangeStart == "" && o.RangeEnd == "":
		return nil
	case o.RangeStart == "" || o.RangeEnd == "":
		return []error{fmt.Errorf("--range-start/--range-end (env RANGE_START/RANGE_END): give both, or neither for the cluster's own range")}
	}
	if _, err := mac.ParseRange(o.RangeStart, o.RangeEnd); err != nil {
		return []error{fmt.Errorf("--range-start/--range-end: %w", err)}
	}
	return nil
}

// Spec is the spec of the default pool; without ranges when none is
// configured.
func (o *DefaultPoolOptions) Spec() macpool.MacPoolSpec {
	spec := macpool.MacPoolSpec{ConflictPolicy: macpool.ConflictPolicyWarn}
	if o.RangeStart != "" || o.RangeEnd != "" {
		spec.Ranges = []macpool.MACRange{{Start: o.RangeStart, End: o.RangeEnd}}
	}
	return spec
}
