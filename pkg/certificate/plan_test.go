package certificate

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"
)

var testNames = []string{"kubemacpool-apiserver.kubemacpool-system.svc", "kubemacpool-apiserver.kubemacpool-system", "kubemacpool-apiserver"}

// compressedPolicy keeps the original's proportions in minutes.
var compressedPolicy = Policy{
	CARotateInterval:    60 * time.Minute,
	CAOverlapInterval:   10 * time.Minute,
	CertRotateInterval:  25 * time.Minute,
	CertOverlapInterval: 5 * time.Minute,
}

var start = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// settle applies decisions until plan says keep, as the manager does.
func settle(t *testing.T, m *material, now time.Time, p Policy) (*material, []action) {
	t.Helper()
	var done []action
	var readErr error
	if m == nil {
		readErr = errors.New("the Secret does not exist")
	}
	for range 10 {
		d := plan(m, readErr, testNames, now, p)
		if d.action == keep {
			if !d.next.After(now) {
				t.Fatalf("at %s: keep until %s, which is not in the future", now, d.next)
			}
			return m, done
		}
		next, err := apply(d, m, testNames, now, p)
		if err != nil {
			t.Fatalf("at %s: %s: %v", now, d.action, err)
		}
		m, readErr = roundTrip(t, next), nil
		done = append(done, d.action)
	}
	t.Fatalf("at %s: no steady state after %v", now, done)
	return nil, nil
}

// roundTrip stores m as the Secret would and reads it back.
func roundTrip(t *testing.T, m *material) *material {
	t.Helper()
	data, err := m.secretData()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := parseSecret(secretWith(data))
	if err != nil {
		t.Fatalf("reading back the Secret: %v", err)
	}
	return parsed
}

func verifies(serving *x509.Certificate, cas []*x509.Certificate, now time.Time) error {
	roots := x509.NewCertPool()
	for _, ca := range cas {
		roots.AddCert(ca)
	}
	_, err := serving.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, DNSName: testNames[0]})
	return err
}

// TestRotationNeverBreaksAClient runs six CA lifetimes in 5 s steps. At every
// step, the certificate each replica may serve (the current one, or the one
// before it for a replica that has not seen the Secret change yet) must
// verify against the bundle a client loaded trustPropagationDelay ago, and
// against the current bundle.
func TestRotationNeverBreaksAClient(t *testing.T) {
	const step = 5 * time.Second
	type snapshot struct {
		at  time.Time
		cas []*x509.Certificate
	}
	var (
		m              *material
		bundles        []snapshot
		previous       *x509.Certificate
		previousUntil  time.Time
		counts         = map[action]int{}
		end            = start.Add(6 * compressedPolicy.CARotateInterval)
		staleReplicaAt = trustPropagationDelay / 2
	)
	for now := start; now.Before(end); now = now.Add(step) {
		before := m
		var done []action
		m, done = settle(t, m, now, compressedPolicy)
		for _, a := range done {
			counts[a]++
		}
		if before != nil && before.serving != m.serving && !before.serving.Equal(m.serving) {
			previous, previousUntil = before.serving, now.Add(staleReplicaAt)
		}
		if len(bundles) == 0 || !sameCAs(bundles[len(bundles)-1].cas, m.cas) {
			bundles = append(bundles, snapshot{at: now, cas: m.cas})
		}
		// The bundle a client loaded trustPropagationDelay ago.
		clientBundle := bundles[0].cas
		for _, b := range bundles {
			if !b.at.After(now.Add(-trustPropagationDelay)) {
				clientBundle = b.cas
			}
		}
		served := []*x509.Certificate{m.serving}
		if previous != nil && now.Before(previousUntil) {
			served = append(served, previous)
		}
		for _, cert := range served {
			if err := verifies(cert, m.cas, now); err != nil {
				t.Fatalf("at +%s: the current bundle rejects the serving certificate: %v", now.Sub(start), err)
			}
			if now.Sub(start) >= trustPropagationDelay {
				if err := verifies(cert, clientBundle, now); err != nil {
					t.Fatalf("at +%s: a client with the bundle of %s ago rejects the serving certificate: %v", now.Sub(start), trustPropagationDelay, err)
				}
			}
		}
	}
	if counts[regenerate] != 1 {
		t.Errorf("regenerated %d times, want once (at the start)", counts[regenerate])
	}
	if counts[rotateCA] < 5 {
		t.Errorf("rotated the CA %d times in six CA lifetimes, want at least 5", counts[rotateCA])
	}
	if counts[renewServing] < 10 {
		t.Errorf("renewed the serving certificate %d times, want at least 10", counts[renewServing])
	}
	if counts[pruneCAs] < 4 {
		t.Errorf("pruned old CAs %d times, want at least 4", counts[pruneCAs])
	}
	if len(m.cas) > 2 {
		t.Errorf("the bundle holds %d CAs, want at most 2", len(m.cas))
	}
}

func sameCAs(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func TestPlan(t *testing.T) {
	fresh, _ := settle(t, nil, start, compressedPolicy)
	otherNames := []string{"other.kubemacpool-system.svc"}
	renamed, err := apply(decision{action: renewServing}, fresh, otherNames, start, compressedPolicy)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := apply(decision{action: rotateCA}, fresh, testNames, start.Add(time.Minute), compressedPolicy)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		m          *material
		at         time.Time
		want       action
		wantReason string
		wantNext   time.Time
	}{
		{name: "missing Secret", want: regenerate, wantReason: "missing", at: start},
		{name: "fresh material is kept until the serving deadline", m: fresh, at: start.Add(time.Minute), want: keep,
			wantNext: start.Add(compressedPolicy.CertRotateInterval - compressedPolicy.CertOverlapInterval)},
		{name: "serving certificate in its overlap", m: fresh, at: start.Add(21 * time.Minute), want: renewServing, wantReason: "expires at"},
		{name: "serving certificate expired", m: fresh, at: start.Add(26 * time.Minute), want: renewServing, wantReason: "expired"},
		{name: "CA in its overlap", m: fresh, at: start.Add(51 * time.Minute), want: rotateCA, wantReason: "the CA expires"},
		{name: "CA expired", m: fresh, at: start.Add(61 * time.Minute), want: regenerate, wantReason: "the CA expired"},
		{name: "serving certificate for other names", m: renamed, at: start, want: renewServing, wantReason: "does not cover"},
		{name: "new CA not yet propagated", m: rotated, at: start.Add(time.Minute + trustPropagationDelay/2), want: keep,
			wantNext: start.Add(time.Minute + trustPropagationDelay)},
		{name: "new CA propagated", m: rotated, at: start.Add(time.Minute + trustPropagationDelay), want: renewServing, wantReason: "rotated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var readErr error
			if tc.m == nil {
				readErr = errors.New("the Secret is missing")
			}
			d := plan(tc.m, readErr, testNames, tc.at, compressedPolicy)
			if d.action != tc.want {
				t.Fatalf("plan = %s (%s), want %s", d.action, d.reason, tc.want)
			}
			if !strings.Contains(d.reason, tc.wantReason) {
				t.Errorf("reason %q does not mention %q", d.reason, tc.wantReason)
			}
			if !tc.wantNext.IsZero() && !d.next.Equal(tc.wantNext) {
				t.Errorf("next = %s, want %s", d.next, tc.wantNext)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  Policy
		wantErr string
	}{
		{name: "defaults", policy: DefaultPolicy()},
		{name: "compressed", policy: compressedPolicy},
		{name: "zero", policy: Policy{CARotateInterval: time.Hour, CAOverlapInterval: time.Minute, CertRotateInterval: time.Hour}, wantErr: "must be positive"},
		{name: "CA overlap too long", policy: Policy{time.Hour, time.Hour, 30 * time.Minute, time.Minute}, wantErr: "CA overlap interval"},
		{name: "certificate overlap too long", policy: Policy{time.Hour, time.Minute, 30 * time.Minute, 30 * time.Minute}, wantErr: "certificate overlap interval"},
		{name: "certificate outlives CA", policy: Policy{time.Hour, time.Minute, 2 * time.Hour, time.Minute}, wantErr: "must not exceed"},
		{name: "no room for propagation", policy: Policy{time.Minute, 10 * time.Second, time.Minute, 50 * time.Second}, wantErr: "propagation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.policy.Validate()
			if tc.wantErr == "" {
				if len(errs) != 0 {
					t.Fatalf("Validate() = %v, want no error", errs)
				}
				return
			}
			if len(errs) == 0 || !strings.Contains(errors.Join(errs...).Error(), tc.wantErr) {
				t.Fatalf("Validate() = %v, want an error about %q", errs, tc.wantErr)
			}
		})
	}
}
