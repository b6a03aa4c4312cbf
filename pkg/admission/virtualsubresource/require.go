package virtualsubresource

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Require returns nil when the caller of a may verb the subresource of a's
// resource in a's namespace. The object's name is asked too, so that a Role
// can grant the right for some objects only (resourceNames). Otherwise it is
// a 403 for a's object with refusal and the reason the authorizer gave, or,
// when the authorizer fails, a 503 "try again" saying what was checked
// (checking, e.g. "whether the caller may remove the finalizer x").
func Require(ctx context.Context, authz authorizer.Authorizer, a admission.Attributes, verb, subresource, checking string, refusal error) error {
	decision, reason, err := authz.Authorize(ctx, authorizer.AttributesRecord{
		User:            a.GetUserInfo(),
		Verb:            verb,
		Namespace:       a.GetNamespace(),
		APIGroup:        a.GetResource().Group,
		APIVersion:      a.GetResource().Version,
		Resource:        a.GetResource().Resource,
		Subresource:     subresource,
		Name:            a.GetName(),
		ResourceRequest: true,
	})
	switch {
	case decision == authorizer.DecisionAllow:
		return nil
	case err != nil:
		return apierrors.NewServiceUnavailable(fmt.Sprintf("checking %s: %v; try again", checking, err))
	}
	if reason != "" {
		refusal = fmt.Errorf("%w (%s)", refusal, reason)
	}
	return admission.NewForbidden(a, refusal)
}
