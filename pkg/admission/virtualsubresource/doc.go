// Package virtualsubresource grants, through RBAC, a right narrower than a
// resource's own: a verb on a subresource that no endpoint serves, as
// kube-apiserver asks for <resource>/finalizers before an owner reference
// may block its owner's deletion. The server's admission plugins ask it
// whether the caller of a request holds such a right (macleases/finalizers
// to remove the protection finalizer, macleases/exclude to reserve an
// excluded address).
package virtualsubresource
