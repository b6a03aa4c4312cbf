package reservationscope

import (
	"context"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	macfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
	macinformers "kubemacpool.io/kubemacpool/pkg/generated/informers/externalversions"
)

func pool(name string, selector map[string]string, start, end string) *v1alpha1.MacPool {
	p := &v1alpha1.MacPool{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: start, End: end}}}}
	if selector != nil {
		p.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: selector}
	}
	return p
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

var (
	tenant    = &user.DefaultInfo{Name: "alice", Groups: []string{user.AllAuthenticated}}
	server    = &user.DefaultInfo{Name: user.APIServerUser, Groups: []string{user.AllAuthenticated, user.SystemPrivilegedGroup}}
	impostor  = &user.DefaultInfo{Name: user.APIServerUser, Groups: []string{user.AllAuthenticated}}
	allPools  = []runtime.Object{pool("default", nil, "02:00:00:00:00:00", "02:ff:ff:ff:ff:ff"), pool("tenant-a", map[string]string{"tenant": "a"}, "0e:00:00:0a:00:00", "0e:00:00:0a:ff:ff"), pool("tenant-b", map[string]string{"tenant": "b"}, "0e:00:00:0b:00:00", "0e:00:00:0b:ff:ff"), pool("unused", nil, "0e:00:00:0c:00:00", "0e:00:00:0c:ff:ff")}
	cachedNSs = []*corev1.Namespace{namespace("a", map[string]string{"tenant": "a"}), namespace("b", map[string]string{"tenant": "b"}), namespace("plain", nil)}
)

// networkPools adds to allPools a pool of the storage network for the
// namespaces of tenant a, and one for every namespace.
var networkPools = append(allPools[:len(allPools):len(allPools)],
	networkPool("storage-a", map[string]string{"tenant": "a"}, "0e:00:00:0d:00:00", "0e:00:00:0d:ff:ff"),
	networkPool("storage", nil, "0e:00:00:0e:00:00", "0e:00:00:0e:ff:ff"),
	networkPool("storage-net", map[string]string{"net": "storage"}, "0e:00:00:0f:00:00", "0e:00:00:0f:ff:ff"))

func networkPool(name string, selector map[string]string, start, end string) *v1alpha1.MacPool {
	p := pool(name, selector, start, end)
	p.Spec.NetworkSelector = &v1alpha1.NetworkSelector{Networks: []v1alpha1.NetworkReference{{Namespace: "infra", Name: "storage"}}}
	return p
}

// newPlugin returns a plugin whose caches hold pools and cached, and whose
// client knows live (namespaces created after the cache was filled).
func newPlugin(t *testing.T, pools []runtime.Object, cached []*corev1.Namespace, live []runtime.Object, synced bool) *Plugin {
	t.Helper()
	kube := kubefake.NewClientset(live...)
	kubeInformers := informers.NewSharedInformerFactory(kube, 0)
	macInformers := macinformers.NewSharedInformerFactory(macfake.NewSimpleClientset(), 0)
	plugin := New()
	plugin.SetExternalKubeClientSet(kube)
	plugin.SetExternalKubeInformerFactory(kubeInformers)
	plugin.SetMacInformerFactory(macInformers)
	if err := plugin.ValidateInitialization(); err != nil {
		t.Fatal(err)
	}
	for _, ns := range cached {
		if err := kubeInformers.Core().V1().Namespaces().Informer().GetIndexer().Add(ns); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pools {
		if err := macInformers.Macpool().V1alpha1().MacPools().Informer().GetIndexer().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	// The informers never run here: the test decides whether they have
	// synced.
	plugin.poolsSynced = func() bool { return synced }
	plugin.namespaceSynced = func() bool { return synced }
	return plugin
}

func leaseAttributes(ns, address string, owner *macpool.LeaseOwner, who user.Info, operation admission.Operation, subresource string) admission.Attributes {
	lease := &macpool.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(address, ":", "-"), Namespace: ns},
		Spec:       macpool.MacLeaseSpec{MACAddress: address, Owner: owner},
	}
	return admission.NewAttributesRecord(lease, nil, macpool.SchemeGroupVersion.WithKind("MacLease"), ns, lease.Name,
		v1alpha1.SchemeGroupVersion.WithResource("macleases"), subresource, operation, &metav1.CreateOptions{}, false, who)
}

func TestValidate(t *testing.T) {
	podOwner := &macpool.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "p"}
	for _, tc := range []struct {
		name        string
		pools       []runtime.Object
		namespace   string
		live        []runtime.Object
		address     string
		owner       *macpool.LeaseOwner
		user        user.Info
		subresource string
		unsynced    bool
		code        int    // 0: allowed
		message     string // in the denial
	}{
		{name: "outside every pool", namespace: "a", address: "0a:00:00:00:00:01"},
		{name: "inside the namespace's own dedicated pool", namespace: "a", address: "0e:00:00:0a:00:01"},
		{name: "inside the default pool, which serves a namespace no pool selects", namespace: "plain", address: "02:00:00:00:00:01"},
		{name: "inside another tenant's pool", namespace: "a", address: "0e:00:00:0b:00:01", code: http.StatusForbidden,
			message: `spec.macAddress: 0e:00:00:0b:00:01 is inside MacPool "tenant-b", which does not serve namespace "a"; a namespace may reserve an address only inside the pool that serves it ("tenant-a") or outside every pool`},
		{name: "a namespace without a pool, inside a dedicated pool", namespace: "plain", address: "0e:00:00:0a:00:01", code: http.StatusForbidden,
			message: `MacPool "tenant-a", which does not serve namespace "plain"`},
		{name: "a namespace with a dedicated pool, inside the default pool", namespace: "b", address: "02:00:00:00:00:01", code: http.StatusForbidden,
			message: `MacPool "default", which does not serve namespace "b"`},
		{name: "inside a pool that selects no namespace", namespace: "plain", address: "0e:00:00:0c:00:01", code: http.StatusForbidden,
			message: `MacPool "unused"`},
		{name: "a lease with an owner, made by a tenant, is checked too", namespace: "a", address: "0e:00:00:0b:00:02", owner: podOwner, code: http.StatusForbidden,
			message: `"tenant-b"`},
		{name: "the server's own leases are not checked", namespace: "a", address: "0e:00:00:0b:00:03", owner: podOwner, user: server},
		{name: "the server's user name without its group is checked", namespace: "a", address: "0e:00:00:0b:00:04", user: impostor, code: http.StatusForbidden},
		{name: "a namespace not cached yet is read from kube-apiserver", namespace: "fresh", address: "0e:00:00:0b:00:05",
			live: []runtime.Object{namespace("fresh", map[string]string{"tenant": "b"})}},
		{name: "a namespace not cached yet, in another pool", namespace: "fresh", address: "0e:00:00:0a:00:05", code: http.StatusForbidden,
			live: []runtime.Object{namespace("fresh", map[string]string{"tenant": "b"})}, message: `"tenant-a"`},
		{name: "caches not synced", namespace: "a", address: "0e:00:00:0a:00:01", unsynced: true, code: http.StatusServiceUnavailable, message: "try again"},
		{name: "no default pool: outside every pool is still fine", pools: allPools[1:], namespace: "plain", address: "02:00:00:00:00:01"},
		// A pool of networks serves the namespaces its namespaceSelector
		// picks, besides their own pool; without one, no namespace.
		{name: "inside a network pool that selects the namespace", pools: networkPools, namespace: "a", address: "0e:00:00:0d:00:01"},
		{name: "a network pool leaves the namespace its own pool", pools: networkPools, namespace: "a", address: "0e:00:00:0a:00:07"},
		{name: "a network pool leaves the default pool to a namespace no other pool selects", pools: networkPools, namespace: "plain", address: "02:00:00:00:00:07"},
		{name: "a namespace only a network pool selects keeps the default pool", pools: networkPools, namespace: "fresh", address: "02:00:00:00:00:08",
			live: []runtime.Object{namespace("fresh", map[string]string{"net": "storage"})}},
		{name: "inside a network pool that selects another namespace", pools: networkPools, namespace: "b", address: "0e:00:00:0d:00:02", code: http.StatusForbidden,
			message: `MacPool "storage-a", which does not serve namespace "b"; a namespace may reserve an address only inside the pool that serves it ("tenant-b")`},
		{name: "inside a network pool without namespaceSelector", pools: networkPools, namespace: "a", address: "0e:00:00:0e:00:01", code: http.StatusForbidden,
			message: `MacPool "storage", which does not serve namespace "a"`},
		{name: "status subresource is not a reservation", namespace: "a", address: "0e:00:00:0b:00:06", subresource: "status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pools := tc.pools
			if pools == nil {
				pools = allPools
			}
			who := tc.user
			if who == nil {
				who = tenant
			}
			plugin := newPlugin(t, pools, cachedNSs, tc.live, !tc.unsynced)
			attributes := leaseAttributes(tc.namespace, tc.address, tc.owner, who, admission.Create, tc.subresource)
			if !plugin.Handles(attributes.GetOperation()) {
				t.Fatal("the plugin does not handle creates")
			}
			err := plugin.Validate(context.Background(), attributes, nil)
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("denied: %v", err)
				}
				return
			}
			status, ok := err.(apierrors.APIStatus)
			if !ok {
				t.Fatalf("got %v, want a %d", err, tc.code)
			}
			if int(status.Status().Code) != tc.code || !strings.Contains(err.Error(), tc.message) {
				t.Errorf("got %d %q, want %d containing %q", status.Status().Code, err, tc.code, tc.message)
			}
		})
	}
}

func TestHandlesOnlyCreates(t *testing.T) {
	plugin := New()
	for _, operation := range []admission.Operation{admission.Update, admission.Delete, admission.Connect} {
		if plugin.Handles(operation) {
			t.Errorf("handles %s", operation)
		}
	}
}
