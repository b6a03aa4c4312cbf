package server

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// The original Kubemacpool's manager was started with --metrics-addr,
// --wait-time (whole seconds) and --v=production|debug (zap levels).
// Deployments and runbooks that still pass them must start this server, not
// crash it: each is accepted, mapped onto its counterpart here and reported
// as deprecated when it is used.

// legacyVerbosity maps the original's zap level names onto klog verbosity:
// production logged at info level, debug logged everything.
var legacyVerbosity = map[string]int{"production": 0, "debug": 4}

// CompatOptions accept the flags of the original Kubemacpool.
type CompatOptions struct {
	waitTime waitTimeValue
	// flags tells Validate whether --reservation-ttl was given as well:
	// the two set one value in different units, and guessing which one
	// the operator meant would be worse than saying so.
	flags *pflag.FlagSet
}

// NewCompatOptions returns options that change nothing until a flag is given.
func NewCompatOptions() *CompatOptions { return &CompatOptions{} }

// AddFlags registers the original's flags, hidden and deprecated. A
// --metrics-addr sets the same value as --metric-addr: of the two, the last
// one on the command line wins, as for a repeated flag.
func (o *CompatOptions) AddFlags(flags *pflag.FlagSet, metricAddr *string) {
	o.flags = flags
	flags.StringVar(metricAddr, "metrics-addr", *metricAddr, "The original's name of --metric-addr.")
	flags.Var(&o.waitTime, "wait-time", "The original's reservation TTL in whole seconds; --reservation-ttl takes a duration.")
	// Both flags were registered just above: these cannot fail.
	_ = flags.MarkDeprecated("metrics-addr", "use --metric-addr instead")
	_ = flags.MarkDeprecated("wait-time", "use --reservation-ttl instead (a duration, e.g. --reservation-ttl=5m)")
}

// ApplyTo gives --wait-time to the reservation TTL; Complete calls it.
func (o *CompatOptions) ApplyTo(reservationTTL *time.Duration) {
	if o.waitTime.set && !o.reservationTTLGiven() {
		*reservationTTL = time.Duration(o.waitTime.seconds) * time.Second
	}
}

// Validate refuses --wait-time together with --reservation-ttl.
func (o *CompatOptions) Validate() []error {
	if o.waitTime.set && o.reservationTTLGiven() {
		return []error{fmt.Errorf("--wait-time (deprecated, seconds) and --reservation-ttl both set the reservation TTL: pass --reservation-ttl alone")}
	}
	return nil
}

func (o *CompatOptions) reservationTTLGiven() bool {
	return o.flags != nil && o.flags.Changed("reservation-ttl")
}

// waitTimeValue is --wait-time: a positive number of whole seconds.
type waitTimeValue struct {
	seconds int64
	set     bool
}

var _ pflag.Value = &waitTimeValue{}

func (v *waitTimeValue) String() string {
	if !v.set {
		return ""
	}
	return strconv.FormatInt(v.seconds, 10)
}

func (v *waitTimeValue) Set(value string) error {
	seconds, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return fmt.Errorf("want whole seconds such as 300, as the original took them (or use --reservation-ttl=5m)")
	}
	if seconds <= 0 || seconds > math.MaxInt64/int64(time.Second) {
		return fmt.Errorf("want a positive number of seconds no larger than %d, got %d", math.MaxInt64/int64(time.Second), seconds)
	}
	v.seconds, v.set = seconds, true
	return nil
}

func (v *waitTimeValue) Type() string { return "int" }

// addVerbosityFlag adds the logging options' -v/--v to flags, extended to
// take the original's level names production and debug as well as integers.
// A name prints a deprecation warning to warnings.
func addVerbosityFlag(flags *pflag.FlagSet, v *pflag.Flag, warnings io.Writer) {
	flags.AddFlag(&pflag.Flag{
		Name:      v.Name,
		Shorthand: v.Shorthand,
		Usage:     v.Usage + "; the original's production (0) and debug (4) are accepted but deprecated",
		Value:     &verbosityValue{klog: v.Value, warnings: warnings},
		DefValue:  v.DefValue,
	})
}

// verbosityValue hands the logging options an integer level, translating a level name of
// the original first.
type verbosityValue struct {
	klog     pflag.Value
	warnings io.Writer
}

var _ pflag.Value = &verbosityValue{}

func (v *verbosityValue) String() string { return v.klog.String() }

func (v *verbosityValue) Set(value string) error {
	if level, legacy := legacyVerbosity[strings.ToLower(strings.TrimSpace(value))]; legacy {
		fmt.Fprintf(v.warnings, "Flag --v=%s has been deprecated, use --v=%d instead\n", value, level)
		value = strconv.Itoa(level)
	}
	if err := v.klog.Set(value); err != nil {
		return fmt.Errorf("want an integer verbosity such as 2, or production or debug as the original took them: %w", err)
	}
	return nil
}

func (v *verbosityValue) Type() string { return v.klog.Type() }
