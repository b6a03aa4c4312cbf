package embeddedetcd

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Options)
		// want lists a substring of each error, in any order; none for valid
		// options.
		want []string
	}{
		{name: "defaults", change: func(*Options) {}},
		{name: "IPv6 loopback", change: func(o *Options) { o.ClientURL = "http://[::1]:2479" }},
		{name: "no data directory", change: func(o *Options) { o.DataDir = "" }, want: []string{"--embedded-etcd-data-dir must be set"}},
		{name: "client on every address", change: func(o *Options) { o.ClientURL = "http://0.0.0.0:2479" },
			want: []string{"--embedded-etcd-client-url", "loopback address only"}},
		{name: "peer on a routable address", change: func(o *Options) { o.PeerURL = "http://10.0.0.1:2480" },
			want: []string{"--embedded-etcd-peer-url", "loopback address only"}},
		{name: "a host name is not proof of loopback", change: func(o *Options) { o.ClientURL = "http://localhost:2479" },
			want: []string{"--embedded-etcd-client-url", "loopback address only"}},
		{name: "https", change: func(o *Options) { o.ClientURL = "https://127.0.0.1:2479" },
			want: []string{"--embedded-etcd-client-url", "want an http:// URL"}},
		{name: "no port", change: func(o *Options) { o.PeerURL = "http://127.0.0.1" },
			want: []string{"--embedded-etcd-peer-url", "want host:port"}},
		{name: "not a URL", change: func(o *Options) { o.ClientURL = "http://127.0.0.1:%zz" },
			want: []string{"--embedded-etcd-client-url", "invalid URL"}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			options := NewOptions()
			test.change(options)
			errs := options.Validate()
			if len(test.want) == 0 {
				if len(errs) != 0 {
					t.Fatalf("Validate() = %v, want no error", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("Validate() = %v, want one error containing %q", errs, test.want)
			}
			for _, want := range test.want {
				if !strings.Contains(errs[0].Error(), want) {
					t.Errorf("Validate() = %q, want it to contain %q", errs[0], want)
				}
			}
		})
	}
}
