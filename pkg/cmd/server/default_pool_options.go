package server

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// DefaultPoolOptions is the range of the pool named "default", created at
// start when it does not exist.
type DefaultPoolOptions struct {
	RangeStart string
	RangeEnd   string
}

// NewDefaultPoolOptions returns the original Kubemacpool's range, or the
// RANGE_START/RANGE_END environment of an install that used it.
func NewDefaultPoolOptions() *DefaultPoolOptions {
	o := &DefaultPoolOptions{RangeStart: "02:00:00:00:00:00", RangeEnd: "02:ff:ff:ff:ff:ff"}
	if start := os.Getenv("RANGE_START"); start != "" {
		o.RangeStart = start
	}
	if end := os.Getenv("RANGE_END"); end != "" {
		o.RangeEnd = end
	}
	return o
}

// AddFlags registers the range flags.
func (o *DefaultPoolOptions) AddFlags(flags *pflag.FlagSet) {
	flags.StringVar(&o.RangeStart, "range-start", o.RangeStart,
		"First address of the default MacPool when the server creates it (env RANGE_START). An existing pool is left as it is.")
	flags.StringVar(&o.RangeEnd, "range-end", o.RangeEnd,
		"Last address of the default MacPool when the server creates it (env RANGE_END).")
}

// Validate checks that the range is a valid unicast range.
func (o *DefaultPoolOptions) Validate() []error {
	if _, err := mac.ParseRange(o.RangeStart, o.RangeEnd); err != nil {
		return []error{fmt.Errorf("--range-start/--range-end: %w", err)}
	}
	return nil
}

// Spec is the spec of the default pool.
func (o *DefaultPoolOptions) Spec() macpool.MacPoolSpec {
	return macpool.MacPoolSpec{
		Ranges:         []macpool.MACRange{{Start: o.RangeStart, End: o.RangeEnd}},
		ConflictPolicy: macpool.ConflictPolicyWarn,
	}
}
