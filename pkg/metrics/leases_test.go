package metrics

import (
	"strconv"
	"testing"
	"time"
)

func TestLeaseGaugesFollowEvents(t *testing.T) {
	m := New()
	// Not leading: no series at all, so that a follower never reports
	// counts it does not have.
	assertLacks(t, scrape(t, m), "kmp_leases")

	tracker := m.TrackLeases()
	early := time.Unix(1_700_000_000, 0)
	late := early.Add(time.Minute)
	reserved := func(at time.Time) *LeaseState { return &LeaseState{Phase: LeasePhaseReserved, ExpiresAt: at} }
	bound := &LeaseState{Phase: LeasePhaseBound}

	steps := []struct {
		name          string
		key           string
		before, after *LeaseState
		present       []string
		absent        []string
	}{
		{
			name:    "a reservation",
			key:     "a/02-00-00-00-00-01",
			after:   reserved(late),
			present: []string{`kmp_leases{phase="Reserved"} 1`, `kmp_leases{phase="Bound"} 0`, oldestLine(late)},
		},
		{
			name:    "an earlier reservation is the oldest",
			key:     "b/02-00-00-00-00-02",
			after:   reserved(early),
			present: []string{`kmp_leases{phase="Reserved"} 2`, oldestLine(early)},
		},
		{
			name:    "binding the earlier one leaves the later",
			key:     "b/02-00-00-00-00-02",
			before:  reserved(early),
			after:   bound,
			present: []string{`kmp_leases{phase="Reserved"} 1`, `kmp_leases{phase="Bound"} 1`, oldestLine(late)},
		},
		{
			name:    "a static reservation and a hand-made lease",
			key:     "c/02-00-00-00-00-03",
			after:   &LeaseState{Phase: LeasePhaseStatic},
			present: []string{`kmp_leases{phase="Static"} 1`, `kmp_leases{phase="Pending"} 0`},
		},
		{
			name:    "expiring the last reservation removes the oldest expiry",
			key:     "a/02-00-00-00-00-01",
			before:  reserved(late),
			present: []string{`kmp_leases{phase="Reserved"} 0`, `kmp_leases{phase="Bound"} 1`, `kmp_leases{phase="Static"} 1`},
			absent:  []string{"kmp_lease_reservation_oldest_expiry_timestamp_seconds"},
		},
		{
			name:    "a deletion without a matching addition never counts below zero",
			key:     "d/02-00-00-00-00-04",
			before:  &LeaseState{Phase: LeasePhasePending},
			present: []string{`kmp_leases{phase="Pending"} 0`},
		},
	}
	for _, step := range steps {
		tracker.Update(step.key, step.before, step.after)
		text := scrape(t, m)
		t.Run(step.name, func(t *testing.T) {
			assertContains(t, text, step.present...)
			assertLacks(t, text, step.absent...)
		})
	}

	// A new term starts from zero; the old tracker's late events change
	// nothing anyone sees, and stopping it does not withdraw the new one.
	next := m.TrackLeases()
	tracker.Update("e/02-00-00-00-00-05", nil, bound)
	tracker.Stop()
	next.Update("f/02-00-00-00-00-06", nil, bound)
	assertContains(t, scrape(t, m), `kmp_leases{phase="Bound"} 1`, `kmp_leases{phase="Reserved"} 0`)

	next.Stop()
	assertLacks(t, scrape(t, m), "kmp_leases")
}

func TestAdmissionDurationHistogram(t *testing.T) {
	m := New()
	m.ObserveAdmission(ResourceVirtualMachines, "CREATE", 30*time.Millisecond)
	assertContains(t, scrape(t, m),
		"# TYPE kmp_admission_duration_seconds histogram",
		`kmp_admission_duration_seconds_bucket{operation="create",resource="virtualmachines",le="0.025"} 0`,
		`kmp_admission_duration_seconds_bucket{operation="create",resource="virtualmachines",le="0.05"} 1`,
		`kmp_admission_duration_seconds_bucket{operation="create",resource="virtualmachines",le="10"} 1`,
		`kmp_admission_duration_seconds_count{operation="create",resource="virtualmachines"} 1`,
	)
}

// oldestLine is the exposition line of the oldest reservation's expiry.
func oldestLine(at time.Time) string {
	return "kmp_lease_reservation_oldest_expiry_timestamp_seconds " + strconv.FormatFloat(float64(at.Unix()), 'g', -1, 64)
}
