// Package e2e drives a real local control plane (etcd, kube-apiserver,
// kube-controller-manager and kubemacpool-apiserver, started by
// test/localcluster) with client-go and with the real kubectl, as a user
// would. Nothing in it is mocked.
package e2e
