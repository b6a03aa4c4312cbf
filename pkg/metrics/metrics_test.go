package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kubemacpool.io/kubemacpool/pkg/version"
)

// scrape fetches the exposition text from m's handler as a scraper would.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	recorder := httptest.NewRecorder()
	m.Handler().ServeHTTP(recorder, httptest.NewRequest(http.MethodGet, Path, nil))
	if recorder.Code != http.StatusOK {
		t.Fatalf("scrape: status %d, body %s", recorder.Code, recorder.Body)
	}
	body, err := io.ReadAll(recorder.Body)
	if err != nil {
		t.Fatalf("scrape: read body: %v", err)
	}
	return string(body)
}

func assertContains(t *testing.T, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("exposition lacks line %q", want)
		}
	}
}

func assertLacks(t *testing.T, text string, unwanted ...string) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		for _, prefix := range unwanted {
			if strings.HasPrefix(line, prefix) {
				t.Errorf("exposition has unexpected line %q", line)
			}
		}
	}
}

func TestScrapeExposesEveryMetric(t *testing.T) {
	m := New()
	m.SetCollisions(map[string]int{"02:00:00:00:CC:01": 2})
	m.SetPoolCapacity("default", 1<<24)
	m.SetPoolAllocated("default", 3)
	m.ObserveAllocation("default", AllocationSuccess, 300*time.Microsecond)
	m.CountAdmission(ResourcePods, "CREATE", AdmissionMutated)
	m.CountAdmission(ResourceVirtualMachines, "UPDATE", AdmissionDenied)
	m.CountLeaseOperation(LeaseBind)
	m.CountLeaseOperation(LeaseBind)

	text := scrape(t, m)
	assertContains(t, text,
		"# TYPE kmp_mac_collisions gauge",
		`kmp_mac_collisions{mac="02:00:00:00:cc:01"} 2`,
		"# TYPE kubevirt_kmp_duplicate_macs gauge",
		"kubevirt_kmp_duplicate_macs 1",
		`kmp_pool_capacity{pool="default"} 1.6777216e+07`,
		`kmp_pool_allocated{pool="default"} 3`,
		"# TYPE kmp_allocation_duration_seconds histogram",
		`kmp_allocation_duration_seconds_bucket{pool="default",result="success",le="0.0001"} 0`,
		`kmp_allocation_duration_seconds_bucket{pool="default",result="success",le="0.0005"} 1`,
		`kmp_allocation_duration_seconds_bucket{pool="default",result="success",le="5"} 1`,
		`kmp_allocation_duration_seconds_count{pool="default",result="success"} 1`,
		`kmp_admission_requests_total{operation="create",resource="pods",result="mutated"} 1`,
		`kmp_admission_requests_total{operation="update",resource="virtualmachines",result="denied"} 1`,
		`kmp_lease_operations_total{operation="bind"} 2`,
		// Initialised at zero so rate() works from the first event.
		`kmp_lease_operations_total{operation="adopt"} 0`,
		`kmp_lease_operations_total{operation="expire"} 0`,
		`kmp_lease_operations_total{operation="release"} 0`,
	)
	if !strings.Contains(text, "go_goroutines ") {
		t.Errorf("exposition lacks the Go runtime metrics")
	}
}

func TestOwnRegistryIsIsolated(t *testing.T) {
	// Two instances must not share series: each controller (and each test)
	// gets a private registry, never the global default one.
	first, second := New(), New()
	first.SetPoolCapacity("only-first", 10)
	assertLacks(t, scrape(t, second), `kmp_pool_capacity{pool="only-first"}`)
}

func TestCollisionSeriesLifecycle(t *testing.T) {
	m := New()
	const (
		macA = "02:00:00:00:00:0a"
		macB = "02:00:00:00:00:0b"
	)

	steps := []struct {
		name    string
		apply   func()
		present []string
		absent  []string
	}{
		{
			name: "two collisions, single holder ignored",
			apply: func() {
				m.SetCollisions(map[string]int{macA: 2, "02-00-00-00-00-0B": 3, "02:00:00:00:00:0c": 1})
			},
			present: []string{
				`kmp_mac_collisions{mac="02:00:00:00:00:0a"} 2`,
				`kmp_mac_collisions{mac="02:00:00:00:00:0b"} 3`,
				"kubevirt_kmp_duplicate_macs 2",
			},
			absent: []string{`kmp_mac_collisions{mac="02:00:00:00:00:0c"}`, `kmp_mac_collisions{mac="02-`},
		},
		{
			name:    "replacing the set deletes the resolved MAC",
			apply:   func() { m.SetCollisions(map[string]int{macB: 2}) },
			present: []string{`kmp_mac_collisions{mac="02:00:00:00:00:0b"} 2`, "kubevirt_kmp_duplicate_macs 1"},
			absent:  []string{`kmp_mac_collisions{mac="02:00:00:00:00:0a"}`},
		},
		{
			name:    "incremental start",
			apply:   func() { m.SetCollision("02:00:00:00:00:0A", 2) },
			present: []string{`kmp_mac_collisions{mac="02:00:00:00:00:0a"} 2`, "kubevirt_kmp_duplicate_macs 2"},
		},
		{
			name:    "incremental resolution",
			apply:   func() { m.SetCollision(macB, 1) },
			present: []string{`kmp_mac_collisions{mac="02:00:00:00:00:0a"} 2`, "kubevirt_kmp_duplicate_macs 1"},
			absent:  []string{`kmp_mac_collisions{mac="02:00:00:00:00:0b"}`},
		},
		{
			name:    "everything resolved",
			apply:   func() { m.SetCollisions(nil) },
			present: []string{"kubevirt_kmp_duplicate_macs 0"},
			absent:  []string{"kmp_mac_collisions{"},
		},
	}
	for _, step := range steps {
		step.apply()
		text := scrape(t, m)
		t.Run(step.name, func(t *testing.T) {
			assertContains(t, text, step.present...)
			assertLacks(t, text, step.absent...)
		})
	}
}

func TestDeletePoolRemovesAllItsSeries(t *testing.T) {
	m := New()
	for _, pool := range []string{"gone", "kept"} {
		m.SetPoolCapacity(pool, 100)
		m.SetPoolAllocated(pool, 1)
		m.ObserveAllocation(pool, AllocationSuccess, time.Millisecond)
		m.ObserveAllocation(pool, AllocationExhausted, time.Millisecond)
	}
	m.DeletePool("gone")

	text := scrape(t, m)
	assertLacks(t, text,
		`kmp_pool_capacity{pool="gone"}`,
		`kmp_pool_allocated{pool="gone"}`,
		`kmp_allocation_duration_seconds_count{pool="gone"`,
	)
	assertContains(t, text,
		`kmp_pool_capacity{pool="kept"} 100`,
		`kmp_pool_allocated{pool="kept"} 1`,
		`kmp_allocation_duration_seconds_count{pool="kept",result="exhausted"} 1`,
	)
}

func TestWebhookCallerAuthorizationDisabledGauge(t *testing.T) {
	m := New()
	// Exposed from the start, so that an alert on 1 never waits for a
	// first change.
	assertContains(t, scrape(t, m), "# TYPE kmp_webhook_caller_authorization_disabled gauge", "kmp_webhook_caller_authorization_disabled 0")
	m.SetWebhookCallerAuthorizationDisabled(true)
	assertContains(t, scrape(t, m), "kmp_webhook_caller_authorization_disabled 1")
	m.SetWebhookCallerAuthorizationDisabled(false)
	assertContains(t, scrape(t, m), "kmp_webhook_caller_authorization_disabled 0")
}

func TestBuildInfoLabelsTheBuild(t *testing.T) {
	build := version.Get()
	// From the first scrape on, like the version a rollout is checked by.
	assertContains(t, scrape(t, New()),
		"# TYPE kmp_build_info gauge",
		fmt.Sprintf(`kmp_build_info{git_commit=%q,go_version=%q,version=%q} 1`, build.GitCommit, build.GoVersion, build.GitVersion),
	)
}

// The start's replay of the Pod removals is one series, labelled with its
// result, whose value is when it ended: an alert fires for a while after a
// failed one, and then stops on its own.
func TestPodRemovalReplayIsWhenTheStartLearnt(t *testing.T) {
	m := New()
	at := time.Unix(1_700_000_000, 0)
	m.SetPodRemovalReplay("failed", at)
	assertContains(t, scrape(t, m),
		"# TYPE kmp_pod_removal_replay_timestamp_seconds gauge",
		`kmp_pod_removal_replay_timestamp_seconds{result="failed"} 1.7e+09`)
}
