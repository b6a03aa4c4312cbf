package lease

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

// scrape returns the exposition text of the harness's metrics.
func (h *harness) scrape() string {
	recorder := httptest.NewRecorder()
	h.metrics.Handler().ServeHTTP(recorder, httptest.NewRequest(http.MethodGet, metrics.Path, nil))
	body, _ := io.ReadAll(recorder.Body)
	return string(body)
}

// The lease gauges follow the controller's own informer: a reservation
// stuck past its expiry (a VM lease while VirtualMachines are not watched)
// shows as the oldest expiry, and an adopted (Bound) lease and a static
// reservation are counted.
func TestLeaseGaugesFollowTheController(t *testing.T) {
	const stuckMAC, podMAC, staticMAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"
	expired := past()
	stuck := testLease(stuckMAC, kubevirt.KindVirtualMachine, "vm", v1alpha1.MacLeasePhaseReserved, expired)
	stuck.Spec.Owner.APIVersion = "kubevirt.io/v1"
	static := testLease(staticMAC, kindPod, "", "", nil)
	static.Spec.Owner = nil
	h := newHarness(t, false, []runtime.Object{stuck, static},
		[]runtime.Object{testPod("p", podMAC, corev1.PodRunning)})

	if text := h.scrape(); strings.Contains(text, "kmp_leases{") {
		t.Fatalf("a controller that does not run exports lease counts:\n%s", text)
	}
	// The running pod's MAC has no lease: adoption leases it, Bound.
	h.run()

	oldest := "kmp_lease_reservation_oldest_expiry_timestamp_seconds " + strconv.FormatFloat(float64(expired.Unix()), 'g', -1, 64)
	want := []string{`kmp_leases{phase="Bound"} 1`, `kmp_leases{phase="Reserved"} 1`, `kmp_leases{phase="Static"} 1`, oldest}
	h.eventually("the pod's lease to be bound and counted", func() bool {
		text := h.scrape()
		for _, line := range want {
			if !strings.Contains(text, line+"\n") {
				return false
			}
		}
		return true
	})
}
