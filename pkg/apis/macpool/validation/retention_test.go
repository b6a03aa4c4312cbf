package validation

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

func TestValidateRetention(t *testing.T) {
	tests := []struct {
		name      string
		retention *macpool.RetentionPolicy
		want      []string
	}{
		{name: "no policy", retention: nil},
		{name: "zero releases at once", retention: &macpool.RetentionPolicy{}},
		{name: "a day", retention: &macpool.RetentionPolicy{Duration: metav1.Duration{Duration: 24 * time.Hour}}},
		{name: "a year is the limit", retention: &macpool.RetentionPolicy{Duration: metav1.Duration{Duration: MaxRetention}}},
		{name: "negative", retention: &macpool.RetentionPolicy{Duration: metav1.Duration{Duration: -time.Second}},
			want: []string{invalid + " spec.retention.duration"}},
		{name: "longer than a year", retention: &macpool.RetentionPolicy{Duration: metav1.Duration{Duration: MaxRetention + time.Second}},
			want: []string{invalid + " spec.retention.duration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := validPool()
			pool.Spec.Retention = tt.retention
			expectErrors(t, ValidateMacPool(pool), tt.want...)
			old := validPool()
			old.ResourceVersion = "1"
			pool.ResourceVersion = "1"
			expectErrors(t, ValidateMacPoolUpdate(pool, old), tt.want...)
		})
	}
}

func TestValidateRetainedLease(t *testing.T) {
	expires := metav1.NewTime(time.Unix(1700000000, 0))
	tests := []struct {
		name   string
		mutate func(*macpool.MacLease)
		want   []string
	}{
		{name: "retained with owner and expiry", mutate: func(l *macpool.MacLease) {
			l.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseRetained, ExpiresAt: &expires}
		}},
		{name: "retained without expiry never ends", mutate: func(l *macpool.MacLease) {
			l.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseRetained}
		}, want: []string{required + " status.expiresAt"}},
		{name: "retained without owner can be reclaimed by nobody", mutate: func(l *macpool.MacLease) {
			l.Spec.Owner = nil
			l.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseRetained, ExpiresAt: &expires}
		}, want: []string{required + " spec.owner"}},
		{name: "bound does not expire", mutate: func(l *macpool.MacLease) {
			l.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseBound, ExpiresAt: &expires}
		}, want: []string{forbidden + " status.expiresAt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lease := validLease()
			tt.mutate(lease)
			expectErrors(t, ValidateMacLease(lease), tt.want...)
			expectErrors(t, ValidateMacLeaseUpdate(lease, validLease()), tt.want...)
			expectErrors(t, ValidateMacLeaseStatusUpdate(lease, validLease()), tt.want...)
		})
	}
}
