package server

import (
	apimachineryversion "k8s.io/apimachinery/pkg/version"
	basecompatibility "k8s.io/component-base/compatibility"

	"kubemacpool.io/kubemacpool/pkg/version"
)

// buildEffectiveVersion keeps the Kubernetes version that k8s.io/apiserver
// gates features and API lifecycles by, and makes the server's /version
// endpoint report the Kubemacpool build instead of the library's
// placeholder: the same version, commit and build date as --version and
// kmp_build_info. major and minor (and the emulation fields) stay the
// Kubernetes version the server library implements.
type buildEffectiveVersion struct {
	basecompatibility.MutableEffectiveVersion
}

// Info is what /version serves.
func (v buildEffectiveVersion) Info() *apimachineryversion.Info {
	info := v.MutableEffectiveVersion.Info()
	if info == nil {
		return nil
	}
	build := version.Get()
	info.GitVersion = build.GitVersion
	info.GitCommit = build.GitCommit
	info.GitTreeState = build.GitTreeState
	info.BuildDate = build.BuildDate
	return info
}
