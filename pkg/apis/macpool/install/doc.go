// Package install registers every version of the macpool.kubemacpool.io API
// in a scheme, with v1alpha1 as the preferred one.
package install
