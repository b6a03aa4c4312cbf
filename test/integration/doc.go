// Package integration runs kubemacpool-apiserver in process, on a test etcd
// and without kube-apiserver, and talks to it through the generated
// clientset: the tier between the registry's unit tests and the e2e suite,
// fast enough for make test-unit.
package integration
