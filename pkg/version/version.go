package version

import (
	"fmt"
	"runtime"

	apimachineryversion "k8s.io/apimachinery/pkg/version"
)

// Set with -ldflags -X by the build; the values here are what a plain
// `go build` or `go test` leaves, and say so.
var (
	// gitVersion is `git describe --tags --always --dirty`.
	gitVersion = "v0.0.0-unknown"
	// gitCommit is `git rev-parse HEAD`.
	gitCommit = ""
	// buildDate is in RFC 3339, UTC. The build uses the commit's date
	// rather than the clock, so that building a commit twice gives the
	// same binary and the same image.
	buildDate = "1970-01-01T00:00:00Z"
)

// Get returns what the binary was built from, in the type Kubernetes
// servers answer /version with.
func Get() apimachineryversion.Info {
	return apimachineryversion.Info{
		GitVersion: gitVersion,
		GitCommit:  gitCommit,
		BuildDate:  buildDate,
		GoVersion:  runtime.Version(),
		Compiler:   runtime.Compiler,
		Platform:   fmt.Sprintf("%s/%s", runtime.GOOS, runtime.GOARCH),
	}
}

// String is the one line `kubemacpool-apiserver --version` prints.
func String() string {
	info := Get()
	commit := info.GitCommit
	if commit == "" {
		commit = "unknown"
	}
	return fmt.Sprintf("kubemacpool-apiserver %s (commit %s, built %s, %s %s)",
		info.GitVersion, commit, info.BuildDate, info.GoVersion, info.Platform)
}
