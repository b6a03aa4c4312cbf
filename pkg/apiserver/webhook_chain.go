package apiserver

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	genericapifilters "k8s.io/apiserver/pkg/endpoints/filters"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericfilters "k8s.io/apiserver/pkg/server/filters"
)

// withWebhookChain serves the webhook paths through webhookChain and
// everything else through the chain build makes.
func withWebhookChain(build func(http.Handler, *genericapiserver.Config) http.Handler) func(http.Handler, *genericapiserver.Config) http.Handler {
	if build == nil {
		build = genericapiserver.DefaultBuildHandlerChain
	}
	return func(apiHandler http.Handler, config *genericapiserver.Config) http.Handler {
		full := build(apiHandler, config)
		webhooks := webhookChain(apiHandler, config)
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if isWebhookPath(req.URL.Path) {
				webhooks.ServeHTTP(w, req)
				return
			}
			full.ServeHTTP(w, req)
		})
	}
}

// isWebhookPath matches the webhook paths exactly: any other spelling takes
// the full chain and finds no webhook there.
func isWebhookPath(path string) bool { return slices.Contains(WebhookPaths, path) }

// webhookChain is the handler chain of an AdmissionReview: the filters of
// the generic chain that decide who may call and what is recorded, in the
// same order, and none of those that serve API clients. kube-apiserver is
// the only legitimate caller, and a webhook call is a Pod's or a VM's create
// waiting: the generic chain cost more CPU than the mutation itself
// (docs/benchmarks.md).
//
// Kept: panic recovery, request info, the request deadline
// (--request-timeout), the graceful-shutdown wait group, authentication
// (with the audit of failures), audit (the lease-created and lease-deleted
// annotations), authorization (SubjectAccessReview of "post" on the path,
// or --webhook-authorization=Disabled). Left out: priority and fairness
// (kube-apiserver's own limits already bound its calls, and a webhook call
// queued behind API clients would time out the Pod's create), impersonation
// (refused outright: nobody acts as someone else on these paths), tracing,
// CORS, HSTS, warnings, the goroutine per request of the timeout filter,
// and the filter latency metrics.
func webhookChain(apiHandler http.Handler, c *genericapiserver.Config) http.Handler {
	handler := apiHandler
	handler = genericapifilters.WithAuthorization(handler, c.Authorization.Authorizer, c.Serializer)
	handler = withoutImpersonation(handler, c)
	handler = genericapifilters.WithAudit(handler, c.AuditBackend, c.AuditPolicyRuleEvaluator, c.LongRunningFunc)
	failed := genericapifilters.Unauthorized(c.Serializer)
	failed = genericapifilters.WithFailedAuthenticationAudit(failed, c.AuditBackend, c.AuditPolicyRuleEvaluator)
	handler = genericapifilters.WithAuthentication(handler, c.Authentication.Authenticator, failed, c.Authentication.APIAudiences, c.Authentication.RequestHeaderConfig)
	handler = genericapifilters.WithRequestDeadline(handler, c.AuditBackend, c.AuditPolicyRuleEvaluator, c.LongRunningFunc, c.Serializer, c.RequestTimeout)
	handler = genericfilters.WithWaitGroup(handler, c.LongRunningFunc, c.NonLongRunningRequestWaitGroup)
	handler = genericapifilters.WithRequestInfo(handler, c.RequestInfoResolver)
	handler = genericapifilters.WithRequestReceivedTimestamp(handler)
	handler = genericfilters.WithPanicRecovery(handler, c.RequestInfoResolver)
	handler = genericapifilters.WithAuditInit(handler)
	return handler
}

// impersonationHeaders are the headers of user impersonation
// (authenticationv1.ImpersonateUserHeader and the rest).
var impersonationHeaders = sets.New(
	strings.ToLower(authenticationv1.ImpersonateUserHeader),
	strings.ToLower(authenticationv1.ImpersonateUIDHeader),
	strings.ToLower(authenticationv1.ImpersonateGroupHeader),
)

// withoutImpersonation refuses a request that asks to act as someone else.
// The webhook chain has no impersonation filter, so such a header would be
// ignored and the request judged as its sender; refusing it says so instead
// of answering as if it had been honoured.
func withoutImpersonation(handler http.Handler, c *genericapiserver.Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		for name := range req.Header {
			lower := strings.ToLower(name)
			if impersonationHeaders.Has(lower) || strings.HasPrefix(lower, strings.ToLower(authenticationv1.ImpersonateUserExtraHeaderPrefix)) {
				responsewriters.ErrorNegotiated(
					apierrors.NewForbidden(schema.GroupResource{}, req.URL.Path, errors.New("impersonation is not served on the admission webhook paths")),
					c.Serializer, schema.GroupVersion{}, w, req)
				return
			}
		}
		handler.ServeHTTP(w, req)
	})
}
