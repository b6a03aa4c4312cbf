// Package version tells which source a kubemacpool-apiserver binary was
// built from: the version (git describe), the commit and the build date,
// stamped in by the build with
//
//	go build -ldflags "-X kubemacpool.io/kubemacpool/pkg/version.gitVersion=... \
//	  -X kubemacpool.io/kubemacpool/pkg/version.gitCommit=... \
//	  -X kubemacpool.io/kubemacpool/pkg/version.buildDate=..."
//
// as `make build` and `make image` do. `--version` prints it, the
// kmp_build_info metric labels it and the server's /version endpoint
// reports it.
//
// The variables are our own rather than k8s.io/component-base/version's:
// component-base treats its gitVersion as the Kubernetes version, parses it
// as a semantic version when metrics are registered (a bare commit such as
// `git describe --always` prints before the first tag makes that panic) and
// hides deprecated Kubernetes metrics by it. Kubemacpool's release numbers
// must not steer either.
package version
