package allocation

import (
	"context"
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

func TestOwnedBy(t *testing.T) {
	lease := func(kind, name, iface, attempt string, owners ...types.UID) *v1alpha1.MacLease {
		l := &v1alpha1.MacLease{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AttemptAnnotation: attempt}},
			Spec:       v1alpha1.MacLeaseSpec{Owner: &v1alpha1.LeaseOwner{Kind: kind, Name: name}, Interface: iface},
		}
		for _, uid := range owners {
			l.OwnerReferences = append(l.OwnerReferences, metav1.OwnerReference{Kind: kind, Name: name, UID: uid})
		}
		return l
	}
	cases := []struct {
		name  string
		lease *v1alpha1.MacLease
		owner Owner
		iface string
		want  bool
	}{
		{"a replica with the same generateName prefix is another object",
			lease("Pod", "web-", "ns/br1", "request-1"), Owner{Kind: "Pod", Name: "web-", Request: "request-2"}, "ns/br1", false},
		{"two pods of the same name in turn are two objects",
			lease("Pod", "p", "ns/br1", "request-1"), Owner{Kind: "Pod", Name: "p", Request: "request-2"}, "ns/br1", false},
		{"the same request retried by kube-apiserver",
			lease("Pod", "web-", "ns/br1", "request-1"), Owner{Kind: "Pod", Name: "web-", Request: "request-1"}, "ns/br1", true},
		{"the same request on another network (a MAC repeated in one object)",
			lease("Pod", "web-", "ns/br1", "request-1"), Owner{Kind: "Pod", Name: "web-", Request: "request-1"}, "ns/br2", false},
		{"an update of the object the lease is bound to",
			lease("VirtualMachine", "vm", "red", "request-1", "uid-vm"), Owner{Kind: "VirtualMachine", Name: "vm", UID: "uid-vm", Request: "request-2"}, "red", true},
		{"another interface of the object the lease is bound to",
			lease("VirtualMachine", "vm", "red", "request-1", "uid-vm"), Owner{Kind: "VirtualMachine", Name: "vm", UID: "uid-vm", Request: "request-2"}, "blue", false},
		{"an update of another object of that name (the bound one was deleted)",
			lease("VirtualMachine", "vm", "red", "request-1", "uid-old"), Owner{Kind: "VirtualMachine", Name: "vm", UID: "uid-new", Request: "request-2"}, "red", false},
		{"an update of the object before its reservation was bound",
			lease("VirtualMachine", "vm", "red", "request-1"), Owner{Kind: "VirtualMachine", Name: "vm", UID: "uid-vm", Request: "request-2"}, "red", true},
		{"an update of another name",
			lease("VirtualMachine", "vm", "red", "request-1"), Owner{Kind: "VirtualMachine", Name: "other", UID: "uid-other", Request: "request-2"}, "red", false},
		{"another kind of the same name and request",
			lease("Pod", "vm", "red", "request-1", "uid-vm"), Owner{Kind: "VirtualMachine", Name: "vm", UID: "uid-vm", Request: "request-1"}, "red", false},
		{"a lease without attempt token and a request without UID",
			lease("Pod", "p", "ns/br1", ""), Owner{Kind: "Pod", Name: "p"}, "ns/br1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ownedBy(tc.lease, tc.owner, tc.iface, false); got != tc.want {
				t.Errorf("ownedBy = %v, want %v", got, tc.want)
			}
		})
	}
}

// An update that asks for a MAC whose lease names the object's name but no
// UID does not own it for the name alone once the lease is Bound or
// Retained: under retention the lease of an earlier object of that name
// has no owner references either (a VM deleted and created again, a
// StatefulSet Pod), and may carry the holds of a node that still runs the
// earlier object with the MAC. Only a reservation not bound yet can have
// been made by this object's own create. The rest is a MAC held elsewhere,
// under the pool's conflictPolicy, as it is for the create.
func TestAnUpdateOwnsNoLeaseOfAnEarlierObjectOfItsName(t *testing.T) {
	const holds = `[{"node":"node-1","pod":"virt-launcher-vm-abcde","stoppedBy":"2026-12-01T18:00:00Z"}]`
	owner := Owner{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "vm", UID: "uid-new", Request: "request-2"}
	lease := func(phase v1alpha1.MacLeasePhase, annotations map[string]string) *v1alpha1.MacLease {
		l := retainedLease("a", "VirtualMachine", "vm", "red")
		l.Status.Phase = phase
		if phase != v1alpha1.MacLeasePhaseRetained {
			l.Status.ExpiresAt = nil
		}
		l.Annotations = annotations
		return l
	}
	for _, tc := range []struct {
		name  string
		lease *v1alpha1.MacLease
		want  ClaimOutcome
	}{
		{"retained for an earlier VM of the name, whose launcher a node may still run", lease(v1alpha1.MacLeasePhaseRetained, map[string]string{macpool.NodeHoldsAnnotation: holds}), HeldElsewhere},
		{"still bound to an earlier VM of the name (retention: no owner references), whose launcher a node may still run", lease(v1alpha1.MacLeasePhaseBound, map[string]string{macpool.NodeHoldsAnnotation: holds}), HeldElsewhere},
		{"retained for an earlier VM of the name, free of holds", lease(v1alpha1.MacLeasePhaseRetained, nil), Reclaimed},
		{"reserved by this VM's create, not bound yet", lease(v1alpha1.MacLeasePhaseReserved, nil), AlreadyOwned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := stickyService(t, tc.lease)
			// The VM being updated exists: a Bound lease is not waited for.
			s.UseOwnerLookup(&owners{exists: true})
			claim, err := s.Claim(context.Background(), "a", owner, "red", Network{}, mustParse(t, retainedMAC), false)
			if err != nil {
				t.Fatal(err)
			}
			if claim.Outcome != tc.want {
				t.Fatalf("outcome = %v, want %v", claim.Outcome, tc.want)
			}
			if tc.want != HeldElsewhere {
				return
			}
			s.pools[macpool.DefaultPoolName].conflictPolicy = v1alpha1.ConflictPolicyReject
			_, err = s.Begin("a", owner, false).Request(context.Background(), "red", Network{}, mustParse(t, retainedMAC))
			var conflict *ConflictError
			if !errors.As(err, &conflict) {
				t.Errorf("under Reject: %v, want a ConflictError", err)
			}
		})
	}
}

// Under retention a VM's Bound lease has no owner references. A VM that
// drops a MAC while it runs (an interface removed, or its MAC changed) keeps
// the lease Bound for its name: its VMI still reports the MAC, and the lease
// controller keeps the lease until the VMI stops. An UPDATE that puts the
// MAC back (an edit reverted, an older manifest applied again) asks for its
// own lease: the controller binds a Bound lease of the name to the VM of
// that name that carries it, and no node holds say an earlier object of the
// name may still run with it. It must not meet the pool's conflictPolicy
// (409 under Reject, another MAC under Reassign while the guest keeps the
// leased one).
func TestAnUpdateTakesBackItsOwnBoundLease(t *testing.T) {
	owner := Owner{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "vm", UID: "uid-vm", Request: "request-3"}
	bound := retainedLease("a", "VirtualMachine", "vm", "red")
	bound.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseBound}
	s, _ := stickyService(t, bound)
	s.UseOwnerLookup(&owners{exists: true})
	s.pools[macpool.DefaultPoolName].conflictPolicy = v1alpha1.ConflictPolicyReject
	claim, err := s.Claim(context.Background(), "a", owner, "red", Network{}, mustParse(t, retainedMAC), false)
	if err != nil {
		t.Fatal(err)
	}
	if claim.Outcome != AlreadyOwned {
		t.Fatalf("outcome = %v, want %v", claim.Outcome, AlreadyOwned)
	}
	if _, err := s.Begin("a", owner, false).Request(context.Background(), "red", Network{}, mustParse(t, retainedMAC)); err != nil {
		t.Errorf("under Reject: %v, want the VM's own MAC admitted", err)
	}
}
