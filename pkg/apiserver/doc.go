// Package apiserver assembles the kubemacpool API server: the scheme of the
// macpool.kubemacpool.io group, its REST storage, and the hooks that run once
// the server serves.
package apiserver
