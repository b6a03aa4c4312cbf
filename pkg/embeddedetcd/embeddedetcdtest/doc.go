// Package embeddedetcdtest helps tests start an embedded etcd member. It
// imports nothing of the project, so that embeddedetcd's own tests can use
// it too.
package embeddedetcdtest
