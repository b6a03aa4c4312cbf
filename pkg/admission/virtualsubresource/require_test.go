package virtualsubresource

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// The authorizer is asked for the verb on the subresource of the request's
// resource, namespace and object; its answer is nil, a 403 with the refusal
// and its reason, or a 503 that says what was checked.
func TestRequire(t *testing.T) {
	leases := schema.GroupVersionResource{Group: "macpool.kubemacpool.io", Version: "v1alpha1", Resource: "macleases"}
	a := admission.NewAttributesRecord(nil, nil, schema.GroupVersionKind{}, "tenant", "02-00-00-00-00-01", leases, "",
		admission.Create, nil, false, &user.DefaultInfo{Name: "alice"})
	for _, tc := range []struct {
		name     string
		decision authorizer.Decision
		reason   string
		err      error
		check    func(error) bool
		message  []string
	}{
		{"allowed", authorizer.DecisionAllow, "", nil, func(err error) bool { return err == nil }, nil},
		{"no opinion", authorizer.DecisionNoOpinion, "no RBAC policy matched", nil, apierrors.IsForbidden,
			[]string{"the refusal", "(no RBAC policy matched)", `"02-00-00-00-00-01"`}},
		{"denied without a reason", authorizer.DecisionDeny, "", nil, apierrors.IsForbidden, []string{"the refusal"}},
		{"the authorizer failing", authorizer.DecisionNoOpinion, "", errors.New("webhook down"), apierrors.IsServiceUnavailable,
			[]string{"checking whether alice may: webhook down; try again"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked authorizer.Attributes
			authz := authorizer.AuthorizerFunc(func(_ context.Context, attributes authorizer.Attributes) (authorizer.Decision, string, error) {
				asked = attributes
				return tc.decision, tc.reason, tc.err
			})
			err := Require(context.Background(), authz, a, "create", "exclude", "whether alice may", errors.New("the refusal"))
			if !tc.check(err) {
				t.Fatalf("got %v", err)
			}
			for _, part := range tc.message {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("%q does not say %q", err, part)
				}
			}
			if asked.GetVerb() != "create" || asked.GetSubresource() != "exclude" || asked.GetResource() != "macleases" ||
				asked.GetAPIGroup() != leases.Group || asked.GetNamespace() != "tenant" || asked.GetName() != "02-00-00-00-00-01" ||
				asked.GetUser().GetName() != "alice" || !asked.IsResourceRequest() {
				t.Errorf("asked %+v", asked)
			}
		})
	}
}
