package apiserver

import (
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/fields"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// withCanonicalLeaseNames puts canonicalLeaseNames innermost in the handler
// chain built by build: after authentication and authorization, which thus
// judge the name the client sent (as kube-apiserver already did), and
// before the API handlers, which then see the lease's own name.
func withCanonicalLeaseNames(build func(http.Handler, *genericapiserver.Config) http.Handler) func(http.Handler, *genericapiserver.Config) http.Handler {
	if build == nil {
		build = genericapiserver.DefaultBuildHandlerChain
	}
	return func(apiHandler http.Handler, config *genericapiserver.Config) http.Handler {
		return build(canonicalLeaseNames(apiHandler), config)
	}
}

// canonicalLeaseNames lets a MacLease be named by its MAC as people type
// it: `kubectl get ml 02:00:00:00:00:0A` acts on lease 02-00-00-00-00-0a.
// The table shows the colon form, and the name of a lease is the dash form
// in lower case, which is also its storage key. A request that names a
// lease in its path by another spelling of a MAC (colons, upper case) is
// handed on with that path segment (or, for a list or watch, the
// metadata.name of its field selector) and the request info rewritten to
// the dash form, for every verb and subresource alike, so that the
// name-versus-URL checks of update and patch compare like with like.
// Anything that does not parse as a MAC is left as it is and fails as before.
func canonicalLeaseNames(handler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if canonical := canonicalLeaseRequest(req); canonical != nil {
			req = canonical
		}
		handler.ServeHTTP(w, req)
	})
}

// canonicalLeaseRequest returns req with the lease name rewritten, or nil
// when there is nothing to rewrite.
func canonicalLeaseRequest(req *http.Request) *http.Request {
	info, ok := genericapirequest.RequestInfoFrom(req.Context())
	if !ok || !info.IsResourceRequest || info.APIGroup != macpool.GroupName || info.Resource != "macleases" || info.Name == "" {
		return nil
	}
	address, err := mac.Parse(info.Name)
	if err != nil || address.Name() == info.Name {
		return nil
	}
	canonicalInfo := *info
	canonicalInfo.Name = address.Name()
	url := *req.URL
	if info.Verb == "list" || info.Verb == "watch" {
		// The name came from metadata.name in the field selector, as in
		// `kubectl get ml <mac> -w` and the wait of `kubectl delete`.
		query := url.Query()
		selector, err := fields.ParseSelector(query.Get("fieldSelector"))
		if err != nil {
			return nil
		}
		selector, err = selector.Transform(func(field, value string) (string, string, error) {
			if field == "metadata.name" && value == info.Name {
				value = address.Name()
			}
			return field, value, nil
		})
		if err != nil {
			return nil
		}
		query.Set("fieldSelector", selector.String())
		url.RawQuery = query.Encode()
	} else {
		// .../namespaces/<ns>/macleases/<name>[/<subresource>]
		segments := strings.Split(url.Path, "/")
		found := -1
		for i := 1; i < len(segments); i++ {
			if segments[i-1] == "macleases" && segments[i] == info.Name {
				found = i
				break
			}
		}
		if found < 0 {
			return nil
		}
		segments[found] = address.Name()
		url.Path = strings.Join(segments, "/")
		url.RawPath = ""
		canonicalInfo.Path = url.Path
		canonicalInfo.Parts = append([]string(nil), info.Parts...)
		for i := range canonicalInfo.Parts {
			if canonicalInfo.Parts[i] == info.Name {
				canonicalInfo.Parts[i] = address.Name()
			}
		}
	}
	canonical := req.WithContext(genericapirequest.WithRequestInfo(req.Context(), &canonicalInfo))
	canonical.URL = &url
	canonical.RequestURI = url.RequestURI()
	return canonical
}
