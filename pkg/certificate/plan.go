package certificate

import (
	"crypto/x509"
	"fmt"
	"slices"
	"time"
)

// action is what the Secret needs.
type action int

const (
	// keep: the Secret is fine until decision.next.
	keep action = iota
	// regenerate: a new CA and serving certificate replace everything.
	regenerate
	// rotateCA: a new CA joins the bundle in front; the serving
	// certificate stays until the new CA has propagated.
	rotateCA
	// renewServing: a new serving certificate from the newest CA.
	renewServing
	// pruneCAs: expired CAs leave the bundle.
	pruneCAs
)

func (a action) String() string {
	return [...]string{"keep", "regenerate", "rotate-ca", "renew-serving", "prune-cas"}[a]
}

// decision is the outcome of plan.
type decision struct {
	action action
	// reason explains action in logs and events.
	reason string
	// next is when the Secret must be looked at again if nothing else
	// changes; meaningful for keep.
	next time.Time
}

// plan decides the next step for the material read from the Secret (nil
// when the Secret is missing or unusable, with readErr saying why). It is
// pure: the manager applies one step, writes the Secret and plans again.
func plan(m *material, readErr error, names []string, now time.Time, p Policy) decision {
	if m == nil {
		return decision{action: regenerate, reason: readErr.Error()}
	}
	newest := m.newest()
	if !now.Before(newest.NotAfter) {
		return decision{action: regenerate, reason: fmt.Sprintf("the CA expired at %s", newest.NotAfter.UTC().Format(time.RFC3339))}
	}
	caDeadline := newest.NotAfter.Add(-p.caRenewalLead())
	if !now.Before(caDeadline) {
		return decision{action: rotateCA, reason: fmt.Sprintf("the CA expires at %s", newest.NotAfter.UTC().Format(time.RFC3339))}
	}

	issuer := m.issuer()
	servingDeadline := m.serving.NotAfter.Add(-p.CertOverlapInterval)
	// The newest CA signs once every client has had time to trust it.
	newestTrustedAt := newest.NotBefore.Add(trustPropagationDelay)
	switch {
	case !now.Before(m.serving.NotAfter):
		return decision{action: renewServing, reason: "the serving certificate expired"}
	case !coversNames(m.serving, names):
		return decision{action: renewServing, reason: fmt.Sprintf("the serving certificate does not cover %v", names)}
	case !now.Before(servingDeadline) && !now.Before(newestTrustedAt):
		return decision{action: renewServing, reason: fmt.Sprintf("the serving certificate expires at %s", m.serving.NotAfter.UTC().Format(time.RFC3339))}
	case issuer != newest && !now.Before(newestTrustedAt):
		return decision{action: renewServing, reason: "the CA was rotated"}
	}

	if slices.ContainsFunc(m.cas[1:], func(ca *x509.Certificate) bool { return ca != issuer && !now.Before(ca.NotAfter) }) {
		return decision{action: pruneCAs, reason: "an old CA expired"}
	}

	wakeups := []time.Time{caDeadline, servingDeadline}
	if issuer != newest || !now.Before(servingDeadline) {
		wakeups = append(wakeups, newestTrustedAt)
	}
	for _, ca := range m.cas[1:] {
		wakeups = append(wakeups, ca.NotAfter)
	}
	return decision{action: keep, next: slices.MinFunc(wakeups, time.Time.Compare)}
}

// apply carries out d on m (nil for regenerate) and returns the new
// material; m itself is not changed.
func apply(d decision, m *material, names []string, now time.Time, p Policy) (*material, error) {
	switch d.action {
	case regenerate:
		ca, caKey, err := newCA(now, p.CARotateInterval)
		if err != nil {
			return nil, err
		}
		serving, servingKey, err := newServingCert(ca, caKey, names, now, p.CertRotateInterval)
		if err != nil {
			return nil, err
		}
		return &material{cas: []*x509.Certificate{ca}, caKey: caKey, serving: serving, servingKey: servingKey}, nil
	case rotateCA:
		ca, caKey, err := newCA(now, p.CARotateInterval)
		if err != nil {
			return nil, err
		}
		return &material{cas: append([]*x509.Certificate{ca}, m.cas...), caKey: caKey, serving: m.serving, servingKey: m.servingKey}, nil
	case renewServing:
		serving, servingKey, err := newServingCert(m.newest(), m.caKey, names, now, p.CertRotateInterval)
		if err != nil {
			return nil, err
		}
		next := *m
		next.serving, next.servingKey = serving, servingKey
		return &next, nil
	case pruneCAs:
		issuer := m.issuer()
		next := *m
		next.cas = slices.DeleteFunc(slices.Clone(m.cas), func(ca *x509.Certificate) bool {
			return ca != m.newest() && ca != issuer && !now.Before(ca.NotAfter)
		})
		return &next, nil
	}
	return m, nil
}
