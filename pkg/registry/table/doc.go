// Package table builds the metav1.Table answers that `kubectl get` prints,
// for resources whose rows are computed by a function of one object.
package table
