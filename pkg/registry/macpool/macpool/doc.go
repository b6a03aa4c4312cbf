// Package macpool is the REST storage of MacPools, which are cluster-scoped.
package macpool
