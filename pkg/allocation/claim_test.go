package allocation

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

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
			if got := ownedBy(tc.lease, tc.owner, tc.iface); got != tc.want {
				t.Errorf("ownedBy = %v, want %v", got, tc.want)
			}
		})
	}
}
