// Package tools pins the real control-plane binaries that the end-to-end suite and
// `make local-up` run. It is its own module so that the product's go.mod never
// pulls in k8s.io/kubernetes.
package tools
