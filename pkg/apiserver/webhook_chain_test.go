package apiserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	utilwaitgroup "k8s.io/apimachinery/pkg/util/waitgroup"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericapiserver "k8s.io/apiserver/pkg/server"
)

// tokenAuthenticator knows one token per user name.
type tokenAuthenticator map[string]string

func (a tokenAuthenticator) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	token := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	if name, ok := a[token]; ok {
		return &authenticator.Response{User: &user.DefaultInfo{Name: name}}, true, nil
	}
	return nil, false, nil
}

// postAllowed allows "post" on the paths of the users it names, as the
// kubemacpool-webhook-caller ClusterRole does for kube-apiserver.
type postAllowed map[string]sets.Set[string]

func (a postAllowed) authorizer() authorizer.Authorizer {
	return authorizer.AuthorizerFunc(func(_ context.Context, attributes authorizer.Attributes) (authorizer.Decision, string, error) {
		if !attributes.IsResourceRequest() && attributes.GetVerb() == "post" && a[attributes.GetUser().GetName()].Has(attributes.GetPath()) {
			return authorizer.DecisionAllow, "", nil
		}
		return authorizer.DecisionNoOpinion, "not allowed", nil
	})
}

func webhookChainConfig() *genericapiserver.Config {
	config := genericapiserver.NewConfig(Codecs)
	config.Authentication.Authenticator = tokenAuthenticator{"kas-token": "kube-apiserver", "tenant-token": "mallory"}
	config.Authorization.Authorizer = postAllowed{"kube-apiserver": sets.New(WebhookPaths...)}.authorizer()
	config.RequestInfoResolver = genericapiserver.NewRequestInfoResolver(config)
	config.RequestTimeout = time.Minute
	config.NonLongRunningRequestWaitGroup = new(utilwaitgroup.SafeWaitGroup)
	return config
}

// The webhook paths take their own chain, and it still decides who may
// call: authentication, authorization, and no impersonation. Every other
// path takes the full chain.
func TestWebhookChain(t *testing.T) {
	tests := []struct {
		name        string
		path        string
		token       string
		header      map[string]string
		wantStatus  int
		wantHandler string // "" when the request must not reach a handler
		wantUser    string
	}{
		{name: "kube-apiserver on the Pod webhook", path: WebhookPaths[0], token: "kas-token", wantStatus: http.StatusOK, wantHandler: "api", wantUser: "kube-apiserver"},
		{name: "kube-apiserver on the VM webhook", path: WebhookPaths[1], token: "kas-token", wantStatus: http.StatusOK, wantHandler: "api", wantUser: "kube-apiserver"},
		{name: "no credentials", path: WebhookPaths[0], wantStatus: http.StatusUnauthorized},
		{name: "a tenant", path: WebhookPaths[0], token: "tenant-token", wantStatus: http.StatusForbidden},
		{name: "a tenant impersonating kube-apiserver", path: WebhookPaths[0], token: "tenant-token",
			header: map[string]string{"Impersonate-User": "kube-apiserver"}, wantStatus: http.StatusForbidden},
		{name: "kube-apiserver impersonating someone", path: WebhookPaths[0], token: "kas-token",
			header: map[string]string{"Impersonate-Group": "system:masters"}, wantStatus: http.StatusForbidden},
		{name: "an impersonated extra", path: WebhookPaths[0], token: "kas-token",
			header: map[string]string{"Impersonate-Extra-Scopes": "all"}, wantStatus: http.StatusForbidden},
		{name: "a path below a webhook path takes the full chain", path: WebhookPaths[0] + "/x", token: "kas-token", wantStatus: http.StatusOK, wantHandler: "full"},
		{name: "an API path takes the full chain", path: "/apis/macpool.kubemacpool.io/v1alpha1/macleases", wantStatus: http.StatusOK, wantHandler: "full"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			var reached, gotUser string
			api := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				reached = "api"
				if u, ok := genericapirequest.UserFrom(req.Context()); ok {
					gotUser = u.GetName()
				}
			})
			// The full chain is told apart by what it hands on.
			full := func(apiHandler http.Handler, _ *genericapiserver.Config) http.Handler {
				return http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = "full" })
			}
			handler := withWebhookChain(full)(api, webhookChainConfig())

			req := httptest.NewRequest(http.MethodPost, test.path, strings.NewReader("{}"))
			if test.token != "" {
				req.Header.Set("Authorization", "Bearer "+test.token)
			}
			for name, value := range test.header {
				req.Header.Set(name, value)
			}
			recorder := httptest.NewRecorder()
			handler.ServeHTTP(recorder, req)

			if recorder.Code != test.wantStatus {
				t.Errorf("status %d, want %d: %s", recorder.Code, test.wantStatus, recorder.Body)
			}
			if reached != test.wantHandler {
				t.Errorf("reached %q, want %q", reached, test.wantHandler)
			}
			if gotUser != test.wantUser {
				t.Errorf("the handler saw user %q, want %q", gotUser, test.wantUser)
			}
		})
	}
}
