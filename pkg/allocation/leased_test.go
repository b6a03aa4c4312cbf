package allocation

import (
	"context"
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

// failingLeases answers every read with err.
type failingLeases struct {
	Leases
	err error
}

func (f failingLeases) Get(context.Context, string, string) (*v1alpha1.MacLease, error) {
	return nil, f.err
}

// A lease is an object's when bound to its UID, made for its name, or
// reserved for a prefix of its name; a static reservation is the namespace's.
// A read that fails is temporary (503), and a lease that does not exist, or
// is another namespace's, is nobody's.
func TestLeasedTo(t *testing.T) {
	vm := func(name string, phase v1alpha1.MacLeasePhase, uids ...string) *v1alpha1.MacLease {
		lease := &v1alpha1.MacLease{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "0e-00-00-00-00-01"},
			Spec:       v1alpha1.MacLeaseSpec{Owner: &v1alpha1.LeaseOwner{Kind: "VirtualMachine", Name: name}},
			Status:     v1alpha1.MacLeaseStatus{Phase: phase},
		}
		for _, uid := range uids {
			lease.OwnerReferences = append(lease.OwnerReferences, metav1.OwnerReference{Kind: "VirtualMachine", Name: name, UID: k8stypes.UID(uid)})
		}
		return lease
	}
	withPodReporter := vm("web", v1alpha1.MacLeasePhaseBound, "uid-web")
	withPodReporter.OwnerReferences = append([]metav1.OwnerReference{{Kind: "Pod", Name: "virt-launcher-web-x", UID: "uid-pod"}}, withPodReporter.OwnerReferences...)
	for _, tc := range []struct {
		name  string
		lease *v1alpha1.MacLease
		want  bool
	}{
		{"bound to the VM", vm("web", v1alpha1.MacLeasePhaseBound, "uid-web"), true},
		{"bound to the VM, with a reporter's reference first", withPodReporter, true},
		{"bound to an earlier VM of the name", vm("web", v1alpha1.MacLeasePhaseBound, "uid-old"), false},
		{"reserved for its name", vm("web", v1alpha1.MacLeasePhaseReserved), true},
		{"reserved for its generateName prefix", vm("we", v1alpha1.MacLeasePhaseReserved), true},
		{"bound by name in a pool with retention", vm("web", v1alpha1.MacLeasePhaseBound), true},
		{"bound by name to a prefix of it", vm("we", v1alpha1.MacLeasePhaseBound), false},
		{"reserved for another name", vm("db", v1alpha1.MacLeasePhaseReserved), false},
		{"a Pod's", &v1alpha1.MacLease{Spec: v1alpha1.MacLeaseSpec{Owner: &v1alpha1.LeaseOwner{Kind: "Pod", Name: "web"}}}, false},
		{"a static reservation", &v1alpha1.MacLease{}, true},
	} {
		if got := leasedTo(tc.lease, "VirtualMachine", "web", "uid-web"); got != tc.want {
			t.Errorf("%s: leasedTo = %v, want %v", tc.name, got, tc.want)
		}
	}

	address := mustParse(t, "0e:00:00:00:00:01")
	notFound := &Service{leases: failingLeases{err: apierrors.NewNotFound(schema.GroupResource{Resource: "macleases"}, address.Name())}}
	if leased, err := notFound.LeasedTo(context.Background(), "ns", address, "VirtualMachine", "web", "uid-web"); leased || err != nil {
		t.Errorf("no lease: %v, %v; want nobody's", leased, err)
	}
	failing := &Service{leases: failingLeases{err: errors.New("etcd is down")}}
	_, err := failing.LeasedTo(context.Background(), "ns", address, "VirtualMachine", "web", "uid-web")
	if !apierrors.IsServiceUnavailable(err) {
		t.Errorf("a failed read: %v, want a 503", err)
	}
}
