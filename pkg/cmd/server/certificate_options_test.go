package server

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestCertificateOptionsFromEnvironmentAndFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		flags   []string
		wantCA  time.Duration
		wantErr string
	}{
		{name: "defaults are the original's manifest", wantCA: 8760 * time.Hour},
		{name: "environment", env: map[string]string{"CA_ROTATE_INTERVAL": "9000h"}, wantCA: 9000 * time.Hour},
		{name: "a flag wins over the environment", env: map[string]string{"CA_ROTATE_INTERVAL": "9000h"}, flags: []string{"--ca-rotate-interval=9500h"}, wantCA: 9500 * time.Hour},
		{name: "unparsable environment", env: map[string]string{"CERT_OVERLAP_INTERVAL": "a day"}, wantErr: `CERT_OVERLAP_INTERVAL="a day"`},
		{name: "overlap as long as the rotation", env: map[string]string{"CA_OVERLAP_INTERVAL": "8760h"}, wantErr: "CA overlap interval"},
		{name: "certificate outlives its CA", flags: []string{"--cert-rotate-interval=9000h"}, wantErr: "must not exceed the CA rotate interval"},
		{name: "no Secret name", flags: []string{"--certificate-secret-name="}, wantErr: "--certificate-secret-name must not be empty"},
		{name: "not managed: nothing to check", env: map[string]string{"CA_ROTATE_INTERVAL": "soon"}, flags: []string{"--manage-certificates=false"}, wantCA: 8760 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, name := range []string{"CA_ROTATE_INTERVAL", "CA_OVERLAP_INTERVAL", "CERT_ROTATE_INTERVAL", "CERT_OVERLAP_INTERVAL"} {
				// t.Setenv restores the variable after the test, also when
				// it is then unset here.
				t.Setenv(name, tc.env[name])
				if _, set := tc.env[name]; !set {
					os.Unsetenv(name)
				}
			}
			o := NewCertificateOptions()
			flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
			o.AddFlags(flags)
			if err := flags.Parse(tc.flags); err != nil {
				t.Fatal(err)
			}
			err := errors.Join(o.Validate()...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Validate() = %v, want an error about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			if o.Policy.CARotateInterval != tc.wantCA {
				t.Errorf("CA rotate interval = %s, want %s", o.Policy.CARotateInterval, tc.wantCA)
			}
		})
	}
}
