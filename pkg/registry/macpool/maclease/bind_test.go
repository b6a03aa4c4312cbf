package maclease

import (
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// bound is lease as the lease controller binds it.
func bound(lease *macpool.MacLease, ownerName string) *macpool.MacLease {
	out := lease.DeepCopy()
	out.Spec.Owner.Name = ownerName
	out.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: ownerName, UID: types.UID("pod-uid")}}
	out.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseBound}
	return out
}

// TestBinding checks the in-process bind storage on a real etcd: one write
// stores the owner's name, its references and the Bound status; a stale
// version is a conflict; the address stays immutable; and the namespace
// guard holds as for every other write.
func TestBinding(t *testing.T) {
	leases, _ := newTestStorage(t, genericregistry.StorageWithCacher())
	holder := inNamespace(holderNamespace)
	reserved := newLease(heldName)
	reserved.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseReserved, ExpiresAt: &metav1.Time{}}
	created, err := leases.Create(holder, reserved, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the lease: %v", err)
	}
	held := created.(*macpool.MacLease)
	bind := func(namespace string, lease *macpool.MacLease) (*macpool.MacLease, error) {
		obj, _, err := leases.Binding().Update(inNamespace(namespace), lease.Name, rest.DefaultUpdatedObjectInfo(lease),
			rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
		if err != nil {
			return nil, err
		}
		return obj.(*macpool.MacLease), nil
	}

	t.Run("another namespace cannot bind it", func(t *testing.T) {
		forged := bound(held, "intruder-pod")
		forged.Namespace = otherNamespace
		_, err := bind(otherNamespace, forged)
		if !apierrors.IsNotFound(err) {
			t.Fatalf("bind from %s: got %v, want NotFound", otherNamespace, err)
		}
		expectNoLeak(t, err, held)
	})
	t.Run("the address cannot change", func(t *testing.T) {
		changed := bound(held, "web-0")
		changed.Spec.MACAddress = "02:00:00:00:00:02"
		if _, err := bind(holderNamespace, changed); !apierrors.IsInvalid(err) {
			t.Fatalf("bind that changes spec.macAddress: got %v, want Invalid", err)
		}
	})

	result, err := bind(holderNamespace, bound(held, "web-0"))
	if err != nil {
		t.Fatalf("binding: %v", err)
	}
	stored, err := leases.Get(holder, heldName, &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := stored.(*macpool.MacLease)
	if got.Status.Phase != macpool.MacLeasePhaseBound || got.Status.ExpiresAt != nil {
		t.Errorf("status after the bind: %+v, want Bound without expiry", got.Status)
	}
	if got.Spec.Owner.Name != "web-0" || len(got.OwnerReferences) != 1 || got.OwnerReferences[0].UID != "pod-uid" {
		t.Errorf("owner after the bind: %+v, references %+v", got.Spec.Owner, got.OwnerReferences)
	}
	if got.ResourceVersion != result.ResourceVersion {
		t.Errorf("stored version %s, the bind answered %s", got.ResourceVersion, result.ResourceVersion)
	}

	t.Run("a stale version is a conflict", func(t *testing.T) {
		stale := bound(held, "web-1") // the version read before the bind
		if _, err := bind(holderNamespace, stale); !apierrors.IsConflict(err) {
			t.Fatalf("bind of a stale version: got %v, want Conflict", err)
		}
	})
}
