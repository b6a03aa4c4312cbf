package plugin

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Resource names as RBAC rules and `kubectl auth can-i` spell them.
const (
	leasesResource = "macleases.macpool.kubemacpool.io"
	poolsResource  = "macpools.macpool.kubemacpool.io"
)

// scope is where a request went: one namespace, every namespace (a
// cluster-wide list of a namespaced resource), or neither (a cluster-scoped
// resource).
type scope struct {
	namespace     string
	allNamespaces bool
}

func (s scope) String() string {
	switch {
	case s.allNamespaces:
		return " in every namespace"
	case s.namespace != "":
		return " in namespace " + s.namespace
	}
	return ""
}

// canIFlags are the `kubectl auth can-i` flags of the scope.
func (s scope) canIFlags() string {
	switch {
	case s.allNamespaces:
		return " -A"
	case s.namespace != "":
		return " -n " + s.namespace
	}
	return ""
}

// apiError wraps err from verb on resource. A 403 names the right that is
// missing, and how to check it, so that it can be asked for.
func apiError(err error, verb, resource string, where scope) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("you may not %s %s%s: ask for that RBAC right (check it with `kubectl auth can-i %s %s%s`): %w",
			verb, resource, where, verb, resource, where.canIFlags(), err)
	}
	return fmt.Errorf("cannot %s %s%s: %w", verb, resource, where, err)
}
