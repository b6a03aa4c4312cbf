package reservationscope

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninitializer "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"

	"kubemacpool.io/kubemacpool/pkg/admission/virtualsubresource"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	macinformers "kubemacpool.io/kubemacpool/pkg/generated/informers/externalversions"
	maclisters "kubemacpool.io/kubemacpool/pkg/generated/listers/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// PluginName is the name to enable or disable the plugin with
// (--enable-admission-plugins, --disable-admission-plugins).
const PluginName = "MacLeaseReservationScope"

// ExcludeSubresource is the virtual subresource whose create permission
// allows reserving an address in a pool's spec.exclude. No endpoint serves
// it: it exists only for RBAC, as macleases/finalizers does for
// MacLeaseProtection. The verb is the request's own (a reservation is a
// create), so that "kubectl auth can-i create macleases/exclude" reads as
// what it allows.
const ExcludeSubresource = "exclude"

// Register registers the plugin.
func Register(plugins *admission.Plugins) {
	plugins.Register(PluginName, func(io.Reader) (admission.Interface, error) {
		return New(), nil
	})
}

// WantsMacInformerFactory is a plugin that reads this server's own objects.
type WantsMacInformerFactory interface {
	SetMacInformerFactory(macinformers.SharedInformerFactory)
	admission.InitializationValidator
}

// Plugin is the admission plugin.
type Plugin struct {
	*admission.Handler
	pools           maclisters.MacPoolLister
	poolsSynced     func() bool
	namespaces      corelisters.NamespaceLister
	namespaceSynced func() bool
	kube            kubernetes.Interface
	authorizer      authorizer.Authorizer
}

var (
	_ admission.ValidationInterface                                = &Plugin{}
	_ WantsMacInformerFactory                                      = &Plugin{}
	_ genericadmissioninitializer.WantsExternalKubeInformerFactory = &Plugin{}
	_ genericadmissioninitializer.WantsExternalKubeClientSet       = &Plugin{}
	_ genericadmissioninitializer.WantsAuthorizer                  = &Plugin{}
)

// New returns a plugin whose informers are set by the initializers.
func New() *Plugin {
	// Creates, and the updates that can keep a lease past its owner
	// (prolongs): a lease's address is its name, which never changes
	// (validation refuses an update of spec.macAddress too), but a lease
	// that outlives its owner is a reservation the namespace keeps.
	return &Plugin{Handler: admission.NewHandler(admission.Create, admission.Update)}
}

// SetMacInformerFactory reads MacPools through f.
func (p *Plugin) SetMacInformerFactory(f macinformers.SharedInformerFactory) {
	pools := f.Macpool().V1alpha1().MacPools()
	p.pools, p.poolsSynced = pools.Lister(), pools.Informer().HasSynced
}

// SetExternalKubeInformerFactory reads namespaces through f.
func (p *Plugin) SetExternalKubeInformerFactory(f informers.SharedInformerFactory) {
	namespaces := f.Core().V1().Namespaces()
	p.namespaces, p.namespaceSynced = namespaces.Lister(), namespaces.Informer().HasSynced
}

// SetExternalKubeClientSet reads a namespace the informer has not seen yet.
func (p *Plugin) SetExternalKubeClientSet(client kubernetes.Interface) { p.kube = client }

// SetAuthorizer asks a for the permission to reserve an excluded address.
func (p *Plugin) SetAuthorizer(a authorizer.Authorizer) { p.authorizer = a }

// ValidateInitialization checks that every initializer ran.
func (p *Plugin) ValidateInitialization() error {
	switch {
	case p.pools == nil:
		return fmt.Errorf("%s: missing the MacPool informer", PluginName)
	case p.namespaces == nil:
		return fmt.Errorf("%s: missing the namespace informer", PluginName)
	case p.kube == nil:
		return fmt.Errorf("%s: missing the Kubernetes client", PluginName)
	case p.authorizer == nil:
		return fmt.Errorf("%s: missing the authorizer", PluginName)
	}
	return nil
}

// Validate refuses a lease of an address inside a pool that does not serve
// the lease's namespace, and a lease of an address in any pool's
// spec.exclude unless the caller may create macleases/exclude. An update
// that can keep a lease past its owner (see prolongs: removing or changing
// the owner, changing the pool, the retention end or adding a finalizer) is
// held to the same rules as the create of a static reservation: the
// webhooks lease a requested MAC to an object of any pool's range (and its
// owner may have had it before the address was excluded), so without them a
// namespace admin would turn such a lease into a reservation that outlives
// its owner, inside another tenant's pool or of a host's address.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != macpool.Resource("macleases") {
		return nil
	}
	// The status subresource keeps spec, labels and annotations (its
	// strategy), but not finalizers: its updates are checked like the main
	// resource's, and only a finalizer added can make them prolong a lease.
	if sub := a.GetSubresource(); sub != "" && (sub != "status" || a.GetOperation() != admission.Update) {
		return nil
	}
	if madeByServer(a.GetUserInfo()) {
		return nil
	}
	lease, ok := a.GetObject().(*macpool.MacLease)
	if !ok {
		return apierrors.NewBadRequest(fmt.Sprintf("%s: unexpected object of type %T", PluginName, a.GetObject()))
	}
	if a.GetOperation() == admission.Update {
		old, ok := a.GetOldObject().(*macpool.MacLease)
		if !ok {
			return apierrors.NewBadRequest(fmt.Sprintf("%s: unexpected old object of type %T", PluginName, a.GetOldObject()))
		}
		if !prolongs(old, lease) {
			return nil
		}
	}
	address, err := mac.Parse(lease.Spec.MACAddress)
	if err != nil {
		// Validation has refused it already; nothing to check here.
		return nil
	}
	if !p.poolsSynced() || !p.namespaceSynced() {
		return apierrors.NewServiceUnavailable("the MacPool and Namespace caches are still loading; try again shortly")
	}
	namespaceLabels, err := p.namespaceLabels(ctx, a.GetNamespace())
	if err != nil {
		return err
	}
	pools, err := p.pools.List(labels.Everything())
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("listing MacPools: %w", err))
	}
	if reason := outOfScope(pools, a.GetNamespace(), namespaceLabels, address); reason != "" {
		return admission.NewForbidden(a, fmt.Errorf("spec.macAddress: %s", reason))
	}
	if excluding := excludedBy(pools, address); len(excluding) > 0 {
		return p.authorizeExcluded(ctx, a, address, excluding)
	}
	return nil
}

// authorizeExcluded admits a reservation of an excluded address only for a
// caller who may create macleases/exclude in the namespace. The webhooks
// hand an excluded address to a workload when a lease without owner holds
// it (a static reservation, the administrator's hand-out): were a namespace
// admin's own reservation enough, spec.exclude would bind nobody who can
// create leases. Cluster administrators have every verb on every
// subresource; the aggregated namespace roles grant macleases only.
func (p *Plugin) authorizeExcluded(ctx context.Context, a admission.Attributes, address mac.Address, excluding []string) error {
	// The lease's name is its address, known before it is stored: a Role
	// may hand out single addresses through resourceNames.
	refusal := fmt.Errorf(`spec.macAddress: %s is in spec.exclude of MacPool "%s"; reserving an excluded address `+
		"takes create permission on macleases/%s in namespace %q, which cluster administrators have",
		address, strings.Join(excluding, `", "`), ExcludeSubresource, a.GetNamespace())
	return virtualsubresource.Require(ctx, p.authorizer, a, "create", ExcludeSubresource,
		"whether the caller may reserve the excluded address "+address.String(), refusal)
}

// excludedBy returns the pools whose spec.exclude holds address, sorted.
// Any pool counts, not only those serving the namespace: an exclusion
// names addresses already on the network (a host's MAC), which no tenant
// may take whichever pool serves it.
func excludedBy(pools []*v1alpha1.MacPool, address mac.Address) []string {
	var excluding []string
	for _, pool := range pools {
		for _, r := range pool.Spec.Exclude {
			parsed, err := mac.ParseRange(r.Start, r.End)
			if err == nil && parsed.Contains(address) {
				excluding = append(excluding, pool.Name)
				break
			}
		}
	}
	slices.Sort(excluding)
	return excluding
}

// madeByServer tells the server's own loopback client, which the webhooks
// and the lease controller use: only this process holds its token.
func madeByServer(u user.Info) bool {
	return u != nil && u.GetName() == user.APIServerUser && slices.Contains(u.GetGroups(), user.SystemPrivilegedGroup)
}

// namespaceLabels reads the namespace from the cache, or from kube-apiserver
// when it was created too recently to be there.
func (p *Plugin) namespaceLabels(ctx context.Context, name string) (labels.Set, error) {
	namespace, err := p.namespaces.Get(name)
	if apierrors.IsNotFound(err) {
		namespace, err = p.kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, name)
	case err != nil:
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("reading namespace %q to find its MacPool: %v; try again", name, err))
	}
	return namespace.Labels, nil
}

// outOfScope returns why address may not be reserved in namespace, or "" if
// it may: it lies outside every pool, or inside one that serves namespace.
func outOfScope(pools []*v1alpha1.MacPool, namespace string, namespaceLabels labels.Set, address mac.Address) string {
	serving := servingPools(pools, namespaceLabels)
	var foreign []string
	for _, pool := range pools {
		if !contains(pool, address) || slices.Contains(serving, pool.Name) {
			continue
		}
		foreign = append(foreign, pool.Name)
	}
	if len(foreign) == 0 {
		return ""
	}
	slices.Sort(foreign)
	own := "no pool"
	if len(serving) > 0 {
		own = fmt.Sprintf("%q", strings.Join(serving, `", "`))
	}
	return fmt.Sprintf("%s is inside MacPool %q, which does not serve namespace %q; "+
		"a namespace may reserve an address only inside the pool that serves it (%s) or outside every pool",
		address, strings.Join(foreign, `", "`), namespace, own)
}

// servingPools are the pools whose namespaceSelector matches, or the
// default pool when none does: the pools the allocator would pick from. A
// pool of networks (spec.networkSelector) serves the namespaces its
// namespaceSelector picks besides them, and no namespace at all without
// one: every namespace may attach to its networks, so none may squat on it
// by hand.
func servingPools(pools []*v1alpha1.MacPool, namespaceLabels labels.Set) []string {
	var matched, networkPools []string
	for _, pool := range pools {
		if pool.Spec.NamespaceSelector == nil {
			continue
		}
		selector, err := metav1.LabelSelectorAsSelector(pool.Spec.NamespaceSelector)
		if err != nil {
			// Validation refuses invalid selectors; such a pool serves
			// nobody, as in the allocator.
			continue
		}
		if !selector.Matches(namespaceLabels) {
			continue
		}
		if pool.Spec.NetworkSelector != nil {
			networkPools = append(networkPools, pool.Name)
		} else {
			matched = append(matched, pool.Name)
		}
	}
	if len(matched) == 0 {
		matched = []string{macpool.DefaultPoolName}
	}
	matched = append(matched, networkPools...)
	slices.Sort(matched)
	return matched
}

func contains(pool *v1alpha1.MacPool, address mac.Address) bool {
	for _, r := range pool.Spec.Ranges {
		parsed, err := mac.ParseRange(r.Start, r.End)
		if err == nil && parsed.Contains(address) {
			return true
		}
	}
	return false
}
