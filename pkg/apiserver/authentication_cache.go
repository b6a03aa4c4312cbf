package apiserver

import (
	"crypto/x509"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/utils/clock"
	"k8s.io/utils/lru"
)

const (
	// connectionAuthenticationTTL is how long a client certificate's
	// verification is reused on its connection: a CA removed from the
	// client CA or front-proxy CA bundle stops authenticating requests on
	// connections opened before at most this much later.
	connectionAuthenticationTTL = 10 * time.Second
	// connectionAuthenticationEntries bounds the cache; the callers that
	// matter (kube-apiserver's webhook client and front proxy) keep a few
	// connections each.
	connectionAuthenticationEntries = 4096
)

// connectionAuthentication reuses the answer of the authenticator for a
// request that presents the same client certificate on the same TLS
// connection, with the same identity headers, as one answered less than
// connectionAuthenticationTTL ago. The generic authenticators verify the
// certificate's chain against the CA bundles on every request, an ECDSA
// signature check that cost about 5 % of the CPU of an admitted Pod
// (docs/benchmarks.md): every webhook call from kube-apiserver and every
// request the aggregator proxies arrives that way, on long-lived
// connections.
//
// The key is the certificate as the TLS connection holds it (one pointer
// per connection, never shared between connections), plus every header the
// front-proxy authenticator reads. A request with an Authorization header is
// not cached here (tokens have their own cache), nor is a request without a
// client certificate, nor a failed authentication. An answer is never kept
// past the certificate's NotAfter.
type connectionAuthentication struct {
	authenticator authenticator.Request
	headers       *authenticatorfactory.RequestHeaderConfig
	clock         clock.PassiveClock

	mu      sync.Mutex
	answers *lru.Cache
}

type connectionAuthenticationKey struct {
	certificate *x509.Certificate
	headers     string
}

type connectionAuthenticationAnswer struct {
	response *authenticator.Response
	expires  time.Time
}

func newConnectionAuthentication(inner authenticator.Request, headers *authenticatorfactory.RequestHeaderConfig, clock clock.PassiveClock) *connectionAuthentication {
	return &connectionAuthentication{authenticator: inner, headers: headers, clock: clock, answers: lru.New(connectionAuthenticationEntries)}
}

func (c *connectionAuthentication) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 || req.Header.Get("Authorization") != "" {
		return c.authenticator.AuthenticateRequest(req)
	}
	key := connectionAuthenticationKey{certificate: req.TLS.PeerCertificates[0], headers: c.identityHeaders(req)}
	now := c.clock.Now()
	c.mu.Lock()
	if cached, ok := c.answers.Get(key); ok {
		answer := cached.(connectionAuthenticationAnswer)
		if now.Before(answer.expires) {
			c.mu.Unlock()
			// A copy: the caller may change the response it gets.
			response := *answer.response
			return &response, true, nil
		}
		c.answers.Remove(key)
	}
	c.mu.Unlock()

	response, ok, err := c.authenticator.AuthenticateRequest(req)
	if !ok || err != nil || response == nil {
		return response, ok, err
	}
	expires := now.Add(connectionAuthenticationTTL)
	if notAfter := key.certificate.NotAfter; notAfter.Before(expires) {
		expires = notAfter
	}
	kept := *response
	c.mu.Lock()
	c.answers.Add(key, connectionAuthenticationAnswer{response: &kept, expires: expires})
	c.mu.Unlock()
	return response, ok, err
}

// identityHeaders joins the values of every header the front-proxy
// authenticator reads, so that two requests differ in the key whenever
// they could differ in the identity.
func (c *connectionAuthentication) identityHeaders(req *http.Request) string {
	if c.headers == nil {
		return ""
	}
	var key strings.Builder
	add := func(name string, values []string) {
		key.WriteString(name)
		for _, value := range values {
			key.WriteByte(0)
			key.WriteString(value)
		}
		key.WriteByte(1)
	}
	for _, provider := range []interface{ Value() []string }{c.headers.UsernameHeaders, c.headers.UIDHeaders, c.headers.GroupHeaders} {
		if provider == nil {
			continue
		}
		for _, name := range provider.Value() {
			add(name, req.Header.Values(name))
		}
	}
	if c.headers.ExtraHeaderPrefixes != nil {
		prefixes := c.headers.ExtraHeaderPrefixes.Value()
		var extra []string
		for name := range req.Header {
			for _, prefix := range prefixes {
				if strings.HasPrefix(strings.ToLower(name), strings.ToLower(prefix)) {
					extra = append(extra, name)
					break
				}
			}
		}
		// In a fixed order, so that equal requests make equal keys.
		slices.Sort(extra)
		for _, name := range extra {
			add(name, req.Header.Values(name))
		}
	}
	return key.String()
}
