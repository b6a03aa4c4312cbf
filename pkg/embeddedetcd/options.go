package embeddedetcd

import (
	"fmt"
	"net"
	"net/url"

	"github.com/spf13/pflag"
)

// Options configure the embedded etcd.
type Options struct {
	// DataDir holds the member's data; it survives restarts.
	DataDir string
	// ClientURL is where the server's own storage client reaches etcd. It
	// must be on loopback: the embedded member has no authentication.
	ClientURL string
	// PeerURL is required by etcd even for a single member; also loopback.
	PeerURL string
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		DataDir:   "/var/lib/kubemacpool/etcd",
		ClientURL: "http://127.0.0.1:2479",
		PeerURL:   "http://127.0.0.1:2480",
	}
}

// AddFlags registers the flags of the embedded etcd.
func (o *Options) AddFlags(flags *pflag.FlagSet) {
	flags.StringVar(&o.DataDir, "embedded-etcd-data-dir", o.DataDir,
		"Directory of the embedded etcd, used when --etcd-servers is empty. Keep it on persistent storage.")
	flags.StringVar(&o.ClientURL, "embedded-etcd-client-url", o.ClientURL,
		"Loopback URL the embedded etcd serves its clients on.")
	flags.StringVar(&o.PeerURL, "embedded-etcd-peer-url", o.PeerURL,
		"Loopback URL of the embedded etcd's peer listener (a single member has no peers, but etcd requires one).")
}

// Validate checks the options of an embedded etcd that is going to run.
func (o *Options) Validate() []error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, fmt.Errorf("--embedded-etcd-data-dir must be set when --etcd-servers is empty"))
	}
	for flag, value := range map[string]string{"--embedded-etcd-client-url": o.ClientURL, "--embedded-etcd-peer-url": o.PeerURL} {
		if err := validateLoopbackURL(value); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", flag, err))
		}
	}
	return errs
}

func validateLoopbackURL(value string) error {
	parsed, err := url.Parse(value)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %w", value, err)
	}
	if parsed.Scheme != "http" {
		return fmt.Errorf("%q: want an http:// URL on loopback", value)
	}
	host, _, err := net.SplitHostPort(parsed.Host)
	if err != nil {
		return fmt.Errorf("%q: want host:port: %w", value, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q: the embedded etcd has no authentication and may listen on a loopback address only", value)
	}
	return nil
}
