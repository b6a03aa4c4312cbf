package reservationscope

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/authorization/union"
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

var (
	// clusterAdmin is bound to cluster-admin: every verb on every resource
	// and subresource.
	clusterAdmin = &user.DefaultInfo{Name: "root", Groups: []string{user.AllAuthenticated}}
	// handOut may create macleases/exclude in namespace "a".
	handOut = &user.DefaultInfo{Name: "carol", Groups: []string{user.AllAuthenticated}}
	// oneHost may create macleases/exclude in namespace "a" for the lease
	// 00-50-56-aa-bb-cc only (resourceNames).
	oneHost = &user.DefaultInfo{Name: "dave", Groups: []string{user.AllAuthenticated}}
)

// roles stands for RBAC: tenant (alice) is a namespace admin, with the
// aggregated admin role, which grants macleases but no subresource of it
// but status. It records every question it is asked.
type roles struct {
	asked []authorizer.Attributes
	err   error
}

func (r *roles) authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	r.asked = append(r.asked, a)
	if r.err != nil {
		return authorizer.DecisionNoOpinion, "", r.err
	}
	exclude := a.GetVerb() == "create" && a.GetAPIGroup() == macpool.GroupName && a.GetResource() == "macleases" &&
		a.GetSubresource() == ExcludeSubresource && a.GetNamespace() == "a"
	switch {
	case a.GetUser().GetName() == clusterAdmin.Name,
		a.GetUser().GetName() == handOut.Name && exclude,
		a.GetUser().GetName() == oneHost.Name && exclude && a.GetName() == "00-50-56-aa-bb-cc":
		return authorizer.DecisionAllow, "", nil
	case a.GetUser().GetName() == tenant.Name && a.GetResource() == "macleases" && a.GetSubresource() == "":
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no RBAC policy matched", nil
}

// chain is the generic API server's delegating authorizer: system:masters
// first, then kube-apiserver's RBAC.
func (r *roles) chain(t *testing.T) authorizer.Authorizer {
	t.Helper()
	chain, err := union.New(
		union.NamedAuthorizer{AuthorizerName: "privileged groups", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)},
		union.NamedAuthorizer{AuthorizerName: "rbac", Authorizer: authorizer.AuthorizerFunc(r.authorize)})
	if err != nil {
		t.Fatal(err)
	}
	return chain
}

// newPlugin returns a plugin whose caches hold pools and cached, and whose
// client knows live (namespaces created after the cache was filled).
func newPlugin(t *testing.T, pools []runtime.Object, cached []*corev1.Namespace, live []runtime.Object, synced bool) *Plugin {
	t.Helper()
	return newPluginWithRoles(t, pools, cached, live, synced, &roles{})
}

func newPluginWithRoles(t *testing.T, pools []runtime.Object, cached []*corev1.Namespace, live []runtime.Object, synced bool, rbac *roles) *Plugin {
	t.Helper()
	kube := kubefake.NewClientset(live...)
	kubeInformers := informers.NewSharedInformerFactory(kube, 0)
	macInformers := macinformers.NewSharedInformerFactory(macfake.NewSimpleClientset(), 0)
	plugin := New()
	plugin.SetExternalKubeClientSet(kube)
	plugin.SetExternalKubeInformerFactory(kubeInformers)
	plugin.SetMacInformerFactory(macInformers)
	plugin.SetAuthorizer(rbac.chain(t))
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
			expectVerdict(t, plugin.Validate(context.Background(), attributes, nil), tc.code, tc.message)
		})
	}
}

// excludingPools are allPools where tenant-a excludes a block of its range
// and a host MAC outside every range, tenant-b excludes another host MAC,
// and both exclude a third.
var excludingPools = func() []runtime.Object {
	a := pool("tenant-a", map[string]string{"tenant": "a"}, "0e:00:00:0a:00:00", "0e:00:00:0a:ff:ff")
	a.Spec.Exclude = []v1alpha1.MACRange{{Start: "0e:00:00:0a:00:00", End: "0e:00:00:0a:00:0f"},
		{Start: "00:50:56:aa:bb:cc", End: "00:50:56:aa:bb:cc"}, {Start: "00:50:56:00:00:00", End: "00:50:56:00:00:ff"}}
	b := pool("tenant-b", map[string]string{"tenant": "b"}, "0e:00:00:0b:00:00", "0e:00:00:0b:ff:ff")
	b.Spec.Exclude = []v1alpha1.MACRange{{Start: "00:50:56:bb:00:01", End: "00:50:56:bb:00:01"}, {Start: "00:50:56:00:00:10", End: "00:50:56:00:00:10"}}
	return []runtime.Object{allPools[0], a, b, allPools[3]}
}()

// TestValidateExcluded: the webhooks take a lease without owner of an
// address in spec.exclude as the administrator's hand-out, so only callers
// who may create macleases/exclude reserve one; a namespace admin may not.
func TestValidateExcluded(t *testing.T) {
	for _, tc := range []struct {
		name      string
		namespace string
		address   string
		user      user.Info
		authErr   error
		code      int      // 0: allowed
		message   []string // in the denial
		asks      bool     // RBAC is asked
	}{
		{name: "a tenant reserves an excluded address of its own pool", namespace: "a", address: "0e:00:00:0a:00:01", user: tenant, code: http.StatusForbidden, asks: true,
			message: []string{`spec.macAddress: 0e:00:00:0a:00:01 is in spec.exclude of MacPool "tenant-a"; reserving an excluded address takes create permission on macleases/exclude in namespace "a"`, "no RBAC policy matched"}},
		{name: "a tenant reserves a host MAC its pool excludes outside every range", namespace: "a", address: "00:50:56:aa:bb:cc", user: tenant, code: http.StatusForbidden, asks: true,
			message: []string{`"tenant-a"`}},
		{name: "a tenant reserves a host MAC another tenant's pool excludes", namespace: "a", address: "00:50:56:bb:00:01", user: tenant, code: http.StatusForbidden, asks: true,
			message: []string{`spec.exclude of MacPool "tenant-b"`}},
		{name: "an address two pools exclude names both", namespace: "plain", address: "00:50:56:00:00:10", user: tenant, code: http.StatusForbidden, asks: true,
			message: []string{`MacPool "tenant-a", "tenant-b"`}},
		{name: "a tenant reserves an address its pool does not exclude", namespace: "a", address: "0e:00:00:0a:00:10", user: tenant},
		{name: "a tenant reserves outside every pool and exclusion", namespace: "a", address: "00:50:56:aa:bb:cd", user: tenant},
		{name: "a cluster admin hands an excluded address out", namespace: "a", address: "0e:00:00:0a:00:02", user: clusterAdmin, asks: true},
		{name: "a cluster admin hands a host MAC out in a namespace without pool", namespace: "plain", address: "00:50:56:aa:bb:cc", user: clusterAdmin, asks: true},
		{name: "a caller who may create macleases/exclude in the namespace", namespace: "a", address: "0e:00:00:0a:00:03", user: handOut, asks: true},
		{name: "a caller who may create macleases/exclude in another namespace", namespace: "plain", address: "00:50:56:aa:bb:cc", user: handOut, code: http.StatusForbidden, asks: true,
			message: []string{`macleases/exclude in namespace "plain"`}},
		{name: "a caller allowed one lease by name reserves it", namespace: "a", address: "00:50:56:aa:bb:cc", user: oneHost, asks: true},
		{name: "a caller allowed one lease by name reserves another", namespace: "a", address: "0e:00:00:0a:00:04", user: oneHost, code: http.StatusForbidden, asks: true},
		{name: "the server's own leases are not checked", namespace: "a", address: "00:50:56:bb:00:01", user: server},
		{name: "the server's user name without its group is checked", namespace: "a", address: "0e:00:00:0a:00:05", user: impostor, code: http.StatusForbidden, asks: true},
		{name: "another tenant's pool: the scope refuses before exclusion is asked", namespace: "b", address: "0e:00:00:0a:00:06", user: clusterAdmin, code: http.StatusForbidden,
			message: []string{`MacPool "tenant-a", which does not serve namespace "b"`}},
		{name: "the authorizer fails", namespace: "a", address: "0e:00:00:0a:00:07", user: tenant, authErr: errors.New("SubjectAccessReview timed out"), code: http.StatusServiceUnavailable, asks: true,
			message: []string{"reserve the excluded address 0e:00:00:0a:00:07", "SubjectAccessReview timed out", "try again"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rbac := &roles{err: tc.authErr}
			plugin := newPluginWithRoles(t, excludingPools, cachedNSs, nil, true, rbac)
			err := plugin.Validate(context.Background(), leaseAttributes(tc.namespace, tc.address, nil, tc.user, admission.Create, ""), nil)
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.code != 0 && err == nil:
				t.Fatalf("admitted, want a %d", tc.code)
			case tc.code != 0:
				var status apierrors.APIStatus
				if !errors.As(err, &status) || int(status.Status().Code) != tc.code {
					t.Fatalf("got %v, want a %d", err, tc.code)
				}
				for _, want := range tc.message {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
			}
			if asked := len(rbac.asked) > 0; asked != tc.asks {
				t.Fatalf("RBAC asked: %v, want %v", asked, tc.asks)
			}
			for _, a := range rbac.asked {
				if a.GetVerb() != "create" || a.GetResource() != "macleases" || a.GetSubresource() != ExcludeSubresource ||
					a.GetNamespace() != tc.namespace || a.GetName() != strings.ReplaceAll(tc.address, ":", "-") || !a.IsResourceRequest() {
					t.Errorf("asked %#v", a)
				}
			}
		})
	}
}

func TestInitializationNeedsTheAuthorizer(t *testing.T) {
	plugin := New()
	plugin.SetExternalKubeClientSet(kubefake.NewClientset())
	plugin.SetExternalKubeInformerFactory(informers.NewSharedInformerFactory(kubefake.NewClientset(), 0))
	plugin.SetMacInformerFactory(macinformers.NewSharedInformerFactory(macfake.NewSimpleClientset(), 0))
	if err := plugin.ValidateInitialization(); err == nil || !strings.Contains(err.Error(), "authorizer") {
		t.Errorf("got %v", err)
	}
}

func TestHandlesCreatesAndUpdates(t *testing.T) {
	plugin := New()
	for operation, want := range map[admission.Operation]bool{admission.Create: true, admission.Update: true, admission.Delete: false, admission.Connect: false} {
		if plugin.Handles(operation) != want {
			t.Errorf("handles %s: %v, want %v", operation, !want, want)
		}
	}
}

// An update that removes a lease's owner makes it a static reservation,
// which the webhooks hand to any object of the namespace: it is held to the
// rules of a create. The webhooks lease a requested MAC of another tenant's
// pool, or one excluded after it was leased, to the object that asks; its
// namespace admin must not keep it for good. Other updates are not checked.
func TestValidateUpdateToStaticReservation(t *testing.T) {
	podOwner := &macpool.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "p"}
	update := func(address string, before, after *macpool.LeaseOwner, who user.Info) admission.Attributes {
		old := leaseAttributes("a", address, before, who, admission.Update, "").GetObject()
		lease := leaseAttributes("a", address, after, who, admission.Update, "").GetObject()
		return admission.NewAttributesRecord(lease, old, macpool.SchemeGroupVersion.WithKind("MacLease"), "a", old.(*macpool.MacLease).Name,
			v1alpha1.SchemeGroupVersion.WithResource("macleases"), "", admission.Update, &metav1.UpdateOptions{}, false, who)
	}
	for _, tc := range []struct {
		name    string
		a       admission.Attributes
		code    int
		message string
	}{
		{"owner removed, inside another tenant's pool", update("0e:00:00:0b:00:01", podOwner, nil, tenant), http.StatusForbidden, `MacPool "tenant-b", which does not serve namespace "a"`},
		{"owner removed, an address another pool excludes", update("00:50:56:bb:00:01", podOwner, nil, tenant), http.StatusForbidden, "spec.exclude"},
		{"owner removed, inside the namespace's own pool", update("0e:00:00:0a:00:20", podOwner, nil, tenant), 0, ""},
		{"owner removed by a cluster admin, an excluded address", update("00:50:56:bb:00:01", podOwner, nil, clusterAdmin), 0, ""},
		{"owner kept, inside another tenant's pool", update("0e:00:00:0b:00:01", podOwner, podOwner, tenant), 0, ""},
		{"already a static reservation", update("0e:00:00:0b:00:01", nil, nil, tenant), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plugin := newPlugin(t, excludingPools, cachedNSs, nil, true)
			expectVerdict(t, plugin.Validate(context.Background(), tc.a, nil), tc.code, tc.message)
		})
	}
}

// An update that can keep a lease past its owner, whatever way it takes, is
// held to the rules of a create, as removing the owner is: the lease of a
// requested MAC in another tenant's pool (0e:00:00:0b:00:01), or of an
// address excluded after it was leased (00:50:56:bb:00:01), must not stay
// the namespace's once its object is gone. In the namespace's own pool the
// same updates are no more than a static reservation it may make.
func TestValidateUpdateThatProlongs(t *testing.T) {
	update := func(address string, who user.Info, change func(*macpool.MacLease)) admission.Attributes {
		return updateOf(address, who, "", change)
	}
	statusUpdate := func(address string, who user.Info, change func(*macpool.MacLease)) admission.Attributes {
		return updateOf(address, who, "status", change)
	}
	toVM := func(l *macpool.MacLease) {
		l.Spec.Owner = &macpool.LeaseOwner{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "p"}
	}
	renamed := func(l *macpool.MacLease) {
		l.Spec.Owner = &macpool.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "never"}
	}
	toRetainingPool := func(l *macpool.MacLease) { l.Spec.Pool = "tenant-b" }
	retainedForever := func(l *macpool.MacLease) {
		l.Annotations["macpool.kubemacpool.io/retained-until"] = "9999-12-31T00:00:00Z"
	}
	finalizerAdded := func(l *macpool.MacLease) { l.Finalizers = append(l.Finalizers, "tenant.example.com/keep") }
	heldByADeadNode := func(l *macpool.MacLease) {
		l.Annotations[macpool.NodeHoldsAnnotation] = `[{"node":"dead","pod":"p","stoppedBy":"2026-12-01T18:00:00Z"}]`
	}
	finalizerRemoved := func(l *macpool.MacLease) { l.Finalizers = nil }
	labelled := func(l *macpool.MacLease) {
		l.Labels = map[string]string{"team": "x"}
		l.Annotations["note"] = "y"
	}
	for _, tc := range []struct {
		name    string
		a       admission.Attributes
		code    int
		message string
	}{
		{"owner kind changed to VirtualMachine, inside another tenant's pool", update("0e:00:00:0b:00:01", tenant, toVM), http.StatusForbidden, `MacPool "tenant-b", which does not serve namespace "a"`},
		{"owner renamed, inside another tenant's pool", update("0e:00:00:0b:00:01", tenant, renamed), http.StatusForbidden, `MacPool "tenant-b"`},
		{"pool changed, inside another tenant's pool", update("0e:00:00:0b:00:01", tenant, toRetainingPool), http.StatusForbidden, `MacPool "tenant-b"`},
		{"retained-until written, inside another tenant's pool", update("0e:00:00:0b:00:01", tenant, retainedForever), http.StatusForbidden, `MacPool "tenant-b"`},
		{"finalizer added, inside another tenant's pool", update("0e:00:00:0b:00:01", tenant, finalizerAdded), http.StatusForbidden, `MacPool "tenant-b"`},
		{"finalizer added, an address another pool excludes", update("00:50:56:bb:00:01", tenant, finalizerAdded), http.StatusForbidden, "spec.exclude"},
		{"owner kind changed, inside the namespace's own pool", update("0e:00:00:0a:00:20", tenant, toVM), 0, ""},
		{"node holds written by a cluster admin, inside another tenant's pool", update("0e:00:00:0b:00:01", clusterAdmin, heldByADeadNode), http.StatusForbidden, `MacPool "tenant-b"`},
		{"node holds written by the server, inside another tenant's pool", update("0e:00:00:0b:00:01", server, heldByADeadNode), 0, ""},
		{"finalizer added, inside the namespace's own pool", update("0e:00:00:0a:00:20", tenant, finalizerAdded), 0, ""},
		{"finalizer removed by a cluster admin, inside another tenant's pool", update("0e:00:00:0b:00:01", clusterAdmin, finalizerRemoved), 0, ""},
		{"labels and other annotations, inside another tenant's pool", update("0e:00:00:0b:00:01", tenant, labelled), 0, ""},
		{"owner changed by the server, inside another tenant's pool", update("0e:00:00:0b:00:01", server, renamed), 0, ""},
		{"finalizer added through the status subresource, inside another tenant's pool", statusUpdate("0e:00:00:0b:00:01", clusterAdmin, finalizerAdded), http.StatusForbidden, `MacPool "tenant-b"`},
		{"status updated, inside another tenant's pool", statusUpdate("0e:00:00:0b:00:01", clusterAdmin, func(l *macpool.MacLease) { l.Status.Phase = macpool.MacLeasePhaseBound }), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plugin := newPlugin(t, excludingPools, cachedNSs, nil, true)
			expectVerdict(t, plugin.Validate(context.Background(), tc.a, nil), tc.code, tc.message)
		})
	}
}

// updateOf is an update of the lease of address in namespace a, owned by
// Pod p in pool tenant-a with the protection finalizer, that change makes.
func updateOf(address string, who user.Info, subresource string, change func(*macpool.MacLease)) admission.Attributes {
	old := leaseAttributes("a", address, &macpool.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "p"}, who, admission.Update, "").GetObject().(*macpool.MacLease)
	old.Spec.Pool = "tenant-a"
	old.Finalizers = []string{macpool.MACProtectionFinalizer}
	old.Annotations = map[string]string{"note": "x"}
	lease := old.DeepCopy()
	change(lease)
	return admission.NewAttributesRecord(lease, old, macpool.SchemeGroupVersion.WithKind("MacLease"), "a", old.Name,
		v1alpha1.SchemeGroupVersion.WithResource("macleases"), subresource, admission.Update, &metav1.UpdateOptions{}, false, who)
}

// expectVerdict checks what Validate answered: nothing for code 0, else an
// API status of that code whose message contains message.
func expectVerdict(t *testing.T, err error, code int, message string) {
	t.Helper()
	if code == 0 {
		if err != nil {
			t.Fatalf("denied: %v", err)
		}
		return
	}
	status, ok := err.(apierrors.APIStatus)
	if !ok {
		t.Fatalf("got %v, want a %d", err, code)
	}
	if int(status.Status().Code) != code || !strings.Contains(err.Error(), message) {
		t.Errorf("got %d %q, want %d containing %q", status.Status().Code, err, code, message)
	}
}
