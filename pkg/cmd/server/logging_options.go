package server

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	logsapi "k8s.io/component-base/logs/api/v1"
	// The json log format: --logging-format=json.
	_ "k8s.io/component-base/logs/json/register"
)

func init() {
	// The logging options check their Beta and Alpha features (the json
	// format is Beta) against the server's feature gate, which must know them.
	utilruntime.Must(logsapi.AddFeatureGates(utilfeature.DefaultMutableFeatureGate))
}

// AddLoggingFlags registers the flags of component-base's logging options
// (--logging-format, -v, --vmodule, ...) on flags. Its -v takes the original
// Kubemacpool's level names as well (see verbosityValue). It must run before
// k8s.io/component-base/cli adds klog's own flags, which then keeps these.
func AddLoggingFlags(flags *pflag.FlagSet, logs *logsapi.LoggingConfiguration, warnings io.Writer) {
	logsFlags := pflag.NewFlagSet("logs", pflag.ContinueOnError)
	logsapi.AddFlags(logs, logsFlags)
	logsFlags.VisitAll(func(f *pflag.Flag) {
		if f.Name == "v" {
			addVerbosityFlag(flags, f, warnings)
			return
		}
		flags.AddFlag(f)
	})
}

// validateLogging checks the logging options without applying them: applying
// changes process-wide state, which only the command does.
func validateLogging(logs *logsapi.LoggingConfiguration) []error {
	var errs []error
	for _, err := range logsapi.Validate(logs, utilfeature.DefaultFeatureGate, nil) {
		errs = append(errs, fmt.Errorf("logging options: %w", err))
	}
	return errs
}

// applyLogging validates the logging options and switches the process's
// logger to them, first thing, so that every later message has the format
// asked for.
func applyLogging(logs *logsapi.LoggingConfiguration) error {
	if err := logsapi.ValidateAndApply(logs, utilfeature.DefaultFeatureGate); err != nil {
		return fmt.Errorf("applying the logging options: %w", err)
	}
	return nil
}
