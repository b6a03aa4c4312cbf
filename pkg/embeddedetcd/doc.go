// Package embeddedetcd runs a single-member etcd inside the server process,
// so that one kubemacpool-apiserver binary is a complete install. Scale-out
// installs point --etcd-servers at an external cluster instead. The API
// server's storage reaches the member through in-process calls, not over
// its client URL (storage.go).
package embeddedetcd
