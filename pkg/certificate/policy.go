package certificate

import (
	"fmt"
	"time"
)

// trustPropagationDelay is how long a new CA sits in the caBundles before the
// serving certificate is signed by it. kube-apiserver reloads a webhook's or
// an APIService's caBundle from its informers within a second or two; the
// margin covers several kube-apiservers and a slow one.
const trustPropagationDelay = 10 * time.Second

// Policy says how long the CA and the serving certificate live and how long
// the old and the new overlap. The names and defaults are the original
// Kubemacpool's.
type Policy struct {
	// CARotateInterval is the validity of a CA.
	CARotateInterval time.Duration
	// CAOverlapInterval is how long before its expiry a CA is replaced; the
	// old CA stays trusted until it expires.
	CAOverlapInterval time.Duration
	// CertRotateInterval is the validity of a serving certificate (never
	// past its CA).
	CertRotateInterval time.Duration
	// CertOverlapInterval is how long before its expiry a serving
	// certificate is replaced.
	CertOverlapInterval time.Duration
}

// DefaultPolicy is the original's manifest: a CA for a year, a serving
// certificate for half a year, each replaced a day before it expires.
func DefaultPolicy() Policy {
	return Policy{
		CARotateInterval:    8760 * time.Hour,
		CAOverlapInterval:   24 * time.Hour,
		CertRotateInterval:  4380 * time.Hour,
		CertOverlapInterval: 24 * time.Hour,
	}
}

// Validate rejects a policy under which certificates would be replaced as
// soon as they are made, or would expire before they are replaced.
func (p Policy) Validate() []error {
	var errs []error
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"CA rotate interval", p.CARotateInterval},
		{"CA overlap interval", p.CAOverlapInterval},
		{"certificate rotate interval", p.CertRotateInterval},
		{"certificate overlap interval", p.CertOverlapInterval},
	} {
		if d.value <= 0 {
			errs = append(errs, fmt.Errorf("the %s must be positive, got %s", d.name, d.value))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if p.CAOverlapInterval >= p.CARotateInterval {
		errs = append(errs, fmt.Errorf("the CA overlap interval (%s) must be shorter than the CA rotate interval (%s)", p.CAOverlapInterval, p.CARotateInterval))
	}
	if p.CertOverlapInterval >= p.CertRotateInterval {
		errs = append(errs, fmt.Errorf("the certificate overlap interval (%s) must be shorter than the certificate rotate interval (%s)", p.CertOverlapInterval, p.CertRotateInterval))
	}
	if p.CertRotateInterval > p.CARotateInterval {
		errs = append(errs, fmt.Errorf("the certificate rotate interval (%s) must not exceed the CA rotate interval (%s)", p.CertRotateInterval, p.CARotateInterval))
	}
	if lead := p.caRenewalLead(); lead >= p.CARotateInterval {
		errs = append(errs, fmt.Errorf("the CA rotate interval (%s) must exceed the certificate overlap interval plus %s of propagation (%s)", p.CARotateInterval, 2*trustPropagationDelay, lead))
	}
	return errs
}

// caRenewalLead is how long before its expiry a CA is replaced. Besides the
// CA overlap, a serving certificate signed by the outgoing CA just before
// the new one takes over must still live longer than its own overlap, or it
// would be due for renewal the moment it is issued.
func (p Policy) caRenewalLead() time.Duration {
	return max(p.CAOverlapInterval, p.CertOverlapInterval+2*trustPropagationDelay)
}
