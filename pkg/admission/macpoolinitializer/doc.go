// Package macpoolinitializer hands the admission plugins of
// kubemacpool-apiserver what k8s.io/apiserver's generic initializer does
// not: informers on this server's own objects, and the quota configuration
// the ResourceQuota plugin needs to count MacLeases.
package macpoolinitializer
