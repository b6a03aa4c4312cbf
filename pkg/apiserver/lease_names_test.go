package apiserver

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"k8s.io/apimachinery/pkg/util/sets"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
)

func TestCanonicalLeaseNames(t *testing.T) {
	const leases = "/apis/macpool.kubemacpool.io/v1alpha1/namespaces/lab/macleases/"
	for _, tc := range []struct {
		name     string
		method   string
		url      string
		wantPath string // "" means unchanged
		wantName string
		// wantQuery is the query after the rewrite; "" means unchanged.
		wantQuery string
	}{
		{name: "get, colon form", method: http.MethodGet, url: leases + "02:00:00:00:00:0a", wantPath: leases + "02-00-00-00-00-0a", wantName: "02-00-00-00-00-0a"},
		{name: "delete, colon form in upper case", method: http.MethodDelete, url: leases + "02:00:00:00:00:0A", wantPath: leases + "02-00-00-00-00-0a", wantName: "02-00-00-00-00-0a"},
		{name: "patch, dash form in upper case", method: http.MethodPatch, url: leases + "02-00-00-00-00-0A", wantPath: leases + "02-00-00-00-00-0a", wantName: "02-00-00-00-00-0a"},
		{name: "update of the status", method: http.MethodPut, url: leases + "0A:0B:0C:0D:0E:0F/status", wantPath: leases + "0a-0b-0c-0d-0e-0f/status", wantName: "0a-0b-0c-0d-0e-0f"},
		{name: "query kept", method: http.MethodGet, url: leases + "02:00:00:00:00:0a?resourceVersion=0", wantPath: leases + "02-00-00-00-00-0a", wantName: "02-00-00-00-00-0a"},
		{name: "the lease's own name", method: http.MethodGet, url: leases + "02-00-00-00-00-0a", wantName: "02-00-00-00-00-0a"},
		{name: "not a MAC", method: http.MethodGet, url: leases + "02:00:00:00:00", wantName: "02:00:00:00:00"},
		{name: "mixed separators", method: http.MethodGet, url: leases + "02:00-00:00:00:0a", wantName: "02:00-00:00:00:0a"},
		{name: "a list by field selector", method: http.MethodGet, url: leases[:len(leases)-1] + "?fieldSelector=metadata.name%3D02:00:00:00:00:0A&limit=500",
			wantQuery: "fieldSelector=metadata.name%3D02-00-00-00-00-0a&limit=500", wantName: "02-00-00-00-00-0a"},
		{name: "a watch by field selector, with another field", method: http.MethodGet,
			url:       leases[:len(leases)-1] + "?watch=true&fieldSelector=spec.pool%3Ddefault,metadata.name%3D02:00:00:00:00:0a",
			wantQuery: "fieldSelector=metadata.name%3D02-00-00-00-00-0a%2Cspec.pool%3Ddefault&watch=true", wantName: "02-00-00-00-00-0a"},
		{name: "a list of every lease", method: http.MethodGet, url: leases[:len(leases)-1] + "?fieldSelector=spec.pool%3Ddefault", wantName: ""},
		{name: "a pool", method: http.MethodGet, url: "/apis/macpool.kubemacpool.io/v1alpha1/macpools/02:00:00:00:00:0a", wantName: "02:00:00:00:00:0a"},
		{name: "another group", method: http.MethodGet, url: "/api/v1/namespaces/lab/configmaps/02:00:00:00:00:0a", wantName: "02:00:00:00:00:0a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resolver := &genericapirequest.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")}
			req := httptest.NewRequest(tc.method, tc.url, nil)
			info, err := resolver.NewRequestInfo(req)
			if err != nil {
				t.Fatal(err)
			}
			req = req.WithContext(genericapirequest.WithRequestInfo(req.Context(), info))
			originalPath, originalQuery := req.URL.Path, req.URL.RawQuery
			var got *http.Request
			canonicalLeaseNames(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r })).ServeHTTP(httptest.NewRecorder(), req)

			wantPath := tc.wantPath
			if wantPath == "" {
				wantPath = originalPath
			}
			if got.URL.Path != wantPath {
				t.Errorf("path = %q, want %q", got.URL.Path, wantPath)
			}
			wantQuery := tc.wantQuery
			if wantQuery == "" {
				wantQuery = originalQuery
			}
			if got.URL.RawQuery != wantQuery {
				t.Errorf("query = %q, want %q", got.URL.RawQuery, wantQuery)
			}
			gotInfo, _ := genericapirequest.RequestInfoFrom(got.Context())
			if gotInfo.Name != tc.wantName {
				t.Errorf("request info name = %q, want %q", gotInfo.Name, tc.wantName)
			}
			if tc.wantPath != "" || tc.wantQuery != "" {
				if gotInfo.Path != wantPath {
					t.Errorf("request info path = %q, want %q", gotInfo.Path, wantPath)
				}
				// What authorization saw stays as the client sent it.
				if info.Name == gotInfo.Name {
					t.Errorf("the original request info was changed in place")
				}
			}
		})
	}
}
