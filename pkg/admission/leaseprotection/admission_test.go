package leaseprotection

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/authorization/union"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

var (
	tenant = &user.DefaultInfo{Name: "alice", Groups: []string{user.AllAuthenticated}}
	// operator may update macleases/finalizers in namespace "tenant".
	operator = &user.DefaultInfo{Name: "carol", Groups: []string{user.AllAuthenticated}}
	server   = &user.DefaultInfo{Name: user.APIServerUser, Groups: []string{user.AllAuthenticated, user.SystemPrivilegedGroup}}
)

// roles stands for RBAC: it allows operator to update macleases/finalizers
// in namespace "tenant" and records every question it is asked.
type roles struct {
	asked []authorizer.Attributes
	err   error
}

func (r *roles) authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	r.asked = append(r.asked, a)
	if r.err != nil {
		return authorizer.DecisionNoOpinion, "", r.err
	}
	if a.GetUser().GetName() == operator.Name && a.GetVerb() == "update" && a.GetNamespace() == "tenant" &&
		a.GetAPIGroup() == macpool.GroupName && a.GetResource() == "macleases" && a.GetSubresource() == Subresource {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no RBAC policy matched", nil
}

func (r *roles) authorizer() authorizer.Authorizer { return authorizer.AuthorizerFunc(r.authorize) }

func lease(finalizers ...string) *macpool.MacLease {
	return &macpool.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: "02-00-00-00-00-0a", Namespace: "tenant", Finalizers: finalizers},
		Spec:       macpool.MacLeaseSpec{MACAddress: "02:00:00:00:00:0a"},
	}
}

// held is l with node holds of value.
func held(l *macpool.MacLease, value string) *macpool.MacLease {
	l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: value}
	return l
}

func attributes(old, updated *macpool.MacLease, who user.Info, operation admission.Operation, subresource string) admission.Attributes {
	return admission.NewAttributesRecord(updated, old, macpool.SchemeGroupVersion.WithKind("MacLease"), "tenant", updated.Name,
		v1alpha1.SchemeGroupVersion.WithResource("macleases"), subresource, operation, &metav1.UpdateOptions{}, false, who)
}

func TestValidate(t *testing.T) {
	const protection = macpool.MACProtectionFinalizer
	const holds, otherHolds = `[{"node":"n1","pod":"p","stoppedBy":"2026-12-01T18:00:00Z"}]`, `[{"node":"n2","pod":"p","stoppedBy":"2026-12-01T18:00:00Z"}]`
	for _, tc := range []struct {
		name        string
		old, update *macpool.MacLease
		who         user.Info
		subresource string
		// operation is Update unless set.
		operation admission.Operation
		authErr   error
		// code is the refusal's HTTP status; 0 admits.
		code int
		// says is what a 403 says; the protection finalizer's removal
		// unless set.
		says string
		// asks tells whether the authorizer must be asked.
		asks bool
	}{
		{name: "a tenant removes it", old: lease(protection), update: lease(), who: tenant, code: http.StatusForbidden, asks: true},
		{name: "a tenant removes it with another finalizer left", old: lease("example.com/keep", protection), update: lease("example.com/keep"), who: tenant, code: http.StatusForbidden, asks: true},
		{name: "a tenant removes it through the status subresource", old: lease(protection), update: lease(), who: tenant, subresource: "status", code: http.StatusForbidden, asks: true},
		{name: "a tenant keeps it", old: lease(protection), update: lease(protection), who: tenant},
		{name: "a tenant keeps it and removes another", old: lease("example.com/keep", protection), update: lease(protection), who: tenant},
		{name: "a tenant adds it", old: lease(), update: lease(protection), who: tenant},
		{name: "a lease without it", old: lease("example.com/keep"), update: lease(), who: tenant},
		{name: "a caller allowed macleases/finalizers removes it", old: lease(protection), update: lease(), who: operator, asks: true},
		{name: "the server's loopback user removes it", old: lease(protection), update: lease(), who: server, asks: true},
		{name: "the authorizer fails", old: lease(protection), update: lease(), who: tenant, authErr: errors.New("SubjectAccessReview timed out"), code: http.StatusServiceUnavailable, asks: true},
		// Node holds keep a deleted lease for nodes that may still run a
		// removed Pod: removing or changing them lets the MAC go early,
		// setting them keeps it for nodes that never ran its owner.
		{name: "a tenant removes node holds", old: held(lease(protection), holds), update: lease(protection), who: tenant, code: http.StatusForbidden, says: macpool.NodeHoldsAnnotation, asks: true},
		{name: "a tenant changes node holds", old: held(lease(protection), holds), update: held(lease(protection), otherHolds), who: tenant, code: http.StatusForbidden, says: macpool.NodeHoldsAnnotation, asks: true},
		{name: "a tenant sets node holds", old: lease(protection), update: held(lease(protection), holds), who: tenant, code: http.StatusForbidden, says: macpool.NodeHoldsAnnotation, asks: true},
		{name: "a tenant sets node holds through the status subresource", old: lease(protection), update: held(lease(protection), holds), who: tenant, subresource: "status", code: http.StatusForbidden, says: macpool.NodeHoldsAnnotation, asks: true},
		{name: "a tenant creates a lease with node holds", update: held(lease(protection), holds), who: tenant, operation: admission.Create, code: http.StatusForbidden, says: macpool.NodeHoldsAnnotation, asks: true},
		{name: "a tenant creates a lease without them", update: lease(protection), who: tenant, operation: admission.Create},
		{name: "a tenant keeps node holds", old: held(lease(protection), holds), update: held(lease(protection), holds), who: tenant},
		{name: "a caller allowed macleases/finalizers removes node holds", old: held(lease(protection), holds), update: lease(protection), who: operator, asks: true},
		{name: "the server's loopback user sets node holds", old: lease(protection), update: held(lease(protection), holds), who: server, asks: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rbac := &roles{err: tc.authErr}
			plugin := New()
			// As the generic API server's delegating authorizer: system:masters
			// first, then kube-apiserver's RBAC.
			chain, err := union.New(
				union.NamedAuthorizer{AuthorizerName: "privileged groups", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)},
				union.NamedAuthorizer{AuthorizerName: "rbac", Authorizer: rbac.authorizer()})
			if err != nil {
				t.Fatal(err)
			}
			plugin.SetAuthorizer(chain)
			if err := plugin.ValidateInitialization(); err != nil {
				t.Fatal(err)
			}
			operation := tc.operation
			if operation == "" {
				operation = admission.Update
			}
			err = plugin.Validate(context.Background(), attributes(tc.old, tc.update, tc.who, operation, tc.subresource), nil)
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.code != 0 && err == nil:
				t.Fatalf("admitted, want a %d", tc.code)
			case tc.code != 0:
				var status apierrors.APIStatus
				if !errors.As(err, &status) || int(status.Status().Code) != tc.code {
					t.Fatalf("got %v, want a %d", err, tc.code)
				}
				want := "removing " + protection
				switch {
				case tc.says != "":
					want = tc.says
				case tc.code == http.StatusServiceUnavailable:
					want = "try again"
				}
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if tc.who == server {
				// The privileged group decides before RBAC is asked.
				if len(rbac.asked) != 0 {
					t.Errorf("RBAC asked %d times for the server's own user", len(rbac.asked))
				}
				return
			}
			if asked := len(rbac.asked) > 0; asked != tc.asks {
				t.Fatalf("authorizer asked: %v, want %v", asked, tc.asks)
			}
		})
	}
}

func TestRefusalNamesTheField(t *testing.T) {
	plugin := New()
	plugin.SetAuthorizer((&roles{}).authorizer())
	err := plugin.Validate(context.Background(), attributes(lease(macpool.MACProtectionFinalizer), lease(), tenant, admission.Update, ""), nil)
	for _, want := range []string{"metadata.finalizers", "macleases/finalizers", `namespace "tenant"`, "no RBAC policy matched"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

// Creates (node holds) and updates (those and the finalizer); a delete
// leaves both as they are.
func TestHandlesCreatesAndUpdates(t *testing.T) {
	plugin := New()
	for _, operation := range []admission.Operation{admission.Delete, admission.Connect} {
		if plugin.Handles(operation) {
			t.Errorf("handles %s", operation)
		}
	}
	for _, operation := range []admission.Operation{admission.Create, admission.Update} {
		if !plugin.Handles(operation) {
			t.Errorf("does not handle %s", operation)
		}
	}
}

func TestOtherResourcesPass(t *testing.T) {
	plugin := New()
	rbac := &roles{}
	plugin.SetAuthorizer(rbac.authorizer())
	a := admission.NewAttributesRecord(lease(), lease(macpool.MACProtectionFinalizer), macpool.SchemeGroupVersion.WithKind("MacPool"), "", "default",
		v1alpha1.SchemeGroupVersion.WithResource("macpools"), "", admission.Update, &metav1.UpdateOptions{}, false, tenant)
	if err := plugin.Validate(context.Background(), a, nil); err != nil || len(rbac.asked) != 0 {
		t.Errorf("a MacPool update: %v, %d questions", err, len(rbac.asked))
	}
}

func TestInitializationNeedsTheAuthorizer(t *testing.T) {
	if err := New().ValidateInitialization(); err == nil || !strings.Contains(err.Error(), "authorizer") {
		t.Errorf("got %v", err)
	}
}
