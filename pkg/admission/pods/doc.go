// Package pods is the mutating webhook for Pods: every multus network of a
// Pod that has no MAC gets one from the namespace's MAC pool, recorded as a
// MacLease, and only the networks annotation is patched.
package pods
