package apiserver

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	"k8s.io/apiserver/pkg/authentication/user"
	testingclock "k8s.io/utils/clock/testing"
)

// countingAuthenticator names the user from the X-Remote-User header, or
// "cert" without one; it fails for a user named "nobody".
type countingAuthenticator struct{ calls int }

func (a *countingAuthenticator) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	a.calls++
	name := req.Header.Get("X-Remote-User")
	if name == "" {
		name = "cert"
	}
	if name == "nobody" {
		return nil, false, nil
	}
	return &authenticator.Response{User: &user.DefaultInfo{Name: name}}, true, nil
}

// The answer for a certificate on a connection is reused only for the same
// connection and the same identity headers, within the TTL and the
// certificate's validity, and only when it was a success.
func TestConnectionAuthentication(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	headers := &authenticatorfactory.RequestHeaderConfig{
		UsernameHeaders:     headerrequest.StaticStringSlice{"X-Remote-User"},
		GroupHeaders:        headerrequest.StaticStringSlice{"X-Remote-Group"},
		ExtraHeaderPrefixes: headerrequest.StaticStringSlice{"X-Remote-Extra-"},
	}
	connection := func(notAfter time.Time) *tls.ConnectionState {
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{NotAfter: notAfter}}}
	}
	request := func(state *tls.ConnectionState, header map[string]string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/mutate-pods", nil)
		req.TLS = state
		for name, value := range header {
			req.Header.Set(name, value)
		}
		return req
	}
	first, second := connection(start.Add(time.Hour)), connection(start.Add(time.Hour))
	expiring := connection(start.Add(3 * time.Second))

	steps := []struct {
		name      string
		advance   time.Duration
		req       *http.Request
		wantUser  string
		wantCalls int // of the inner authenticator, in all, after this step
	}{
		{name: "first request on a connection", req: request(first, nil), wantUser: "cert", wantCalls: 1},
		{name: "the same connection again", req: request(first, nil), wantUser: "cert", wantCalls: 1},
		{name: "another connection with an equal certificate", req: request(second, nil), wantUser: "cert", wantCalls: 2},
		{name: "a front-proxy user on the first connection", req: request(first, map[string]string{"X-Remote-User": "alice"}), wantUser: "alice", wantCalls: 3},
		{name: "another front-proxy user", req: request(first, map[string]string{"X-Remote-User": "bob"}), wantUser: "bob", wantCalls: 4},
		{name: "alice again", req: request(first, map[string]string{"X-Remote-User": "alice"}), wantUser: "alice", wantCalls: 4},
		{name: "alice with a group", req: request(first, map[string]string{"X-Remote-User": "alice", "X-Remote-Group": "admins"}), wantUser: "alice", wantCalls: 5},
		{name: "alice with an extra", req: request(first, map[string]string{"X-Remote-User": "alice", "X-Remote-Extra-Scopes": "x"}), wantUser: "alice", wantCalls: 6},
		{name: "a token is never cached here", req: request(first, map[string]string{"Authorization": "Bearer t"}), wantUser: "cert", wantCalls: 7},
		{name: "nor a token twice", req: request(first, map[string]string{"Authorization": "Bearer t"}), wantUser: "cert", wantCalls: 8},
		{name: "nor a request without a certificate", req: request(nil, nil), wantUser: "cert", wantCalls: 9},
		{name: "a failure", req: request(first, map[string]string{"X-Remote-User": "nobody"}), wantCalls: 10},
		{name: "is not cached", req: request(first, map[string]string{"X-Remote-User": "nobody"}), wantCalls: 11},
		{name: "a certificate close to expiry", req: request(expiring, nil), wantUser: "cert", wantCalls: 12},
		{name: "within its validity", advance: 2 * time.Second, req: request(expiring, nil), wantUser: "cert", wantCalls: 12},
		{name: "past its NotAfter, asked again", advance: 2 * time.Second, req: request(expiring, nil), wantUser: "cert", wantCalls: 13},
		{name: "within the TTL", advance: 5 * time.Second, req: request(first, nil), wantUser: "cert", wantCalls: 13},
		{name: "past the TTL, asked again", advance: 2 * time.Second, req: request(first, nil), wantUser: "cert", wantCalls: 14},
	}
	inner := &countingAuthenticator{}
	clock := testingclock.NewFakePassiveClock(start)
	cached := newConnectionAuthentication(inner, headers, clock)
	for _, step := range steps {
		clock.SetTime(clock.Now().Add(step.advance))
		response, ok, err := cached.AuthenticateRequest(step.req)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		gotUser := ""
		if ok {
			gotUser = response.User.GetName()
		}
		if gotUser != step.wantUser {
			t.Errorf("%s: user %q, want %q", step.name, gotUser, step.wantUser)
		}
		if inner.calls != step.wantCalls {
			t.Errorf("%s: the authenticator was asked %d times in all, want %d", step.name, inner.calls, step.wantCalls)
		}
	}
}
