package leaseprotection

import (
	"context"
	"fmt"
	"io"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninitializer "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"kubemacpool.io/kubemacpool/pkg/admission/virtualsubresource"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// PluginName is the name to enable or disable the plugin with
// (--enable-admission-plugins, --disable-admission-plugins).
const PluginName = "MacLeaseProtection"

// Subresource is the virtual subresource whose update permission allows
// removing the protection finalizer. No endpoint serves it: it exists only
// for RBAC, as pods/finalizers does for kube-apiserver's owner references.
const Subresource = "finalizers"

// Register registers the plugin.
func Register(plugins *admission.Plugins) {
	plugins.Register(PluginName, func(io.Reader) (admission.Interface, error) {
		return New(), nil
	})
}

// Plugin is the admission plugin.
type Plugin struct {
	*admission.Handler
	authorizer authorizer.Authorizer
}

var (
	_ admission.ValidationInterface               = &Plugin{}
	_ genericadmissioninitializer.WantsAuthorizer = &Plugin{}
)

// New returns a plugin whose authorizer is set by the initializer.
func New() *Plugin {
	// A create may start without the finalizer, but not with node holds
	// (they would keep the lease for nodes its owner never ran on); a
	// delete leaves both as they are.
	return &Plugin{Handler: admission.NewHandler(admission.Create, admission.Update)}
}

// SetAuthorizer asks a for the permission to remove the finalizer.
func (p *Plugin) SetAuthorizer(a authorizer.Authorizer) { p.authorizer = a }

// ValidateInitialization checks that the initializer ran.
func (p *Plugin) ValidateInitialization() error {
	if p.authorizer == nil {
		return fmt.Errorf("%s: missing the authorizer", PluginName)
	}
	return nil
}

// Validate refuses an update of a lease, through any subresource, that
// removes the protection finalizer, and a create or update that sets,
// changes or removes its node holds, unless the caller may update
// macleases/finalizers. Each decides when the MAC may go: without the
// finalizer a deleted lease goes at once, and the node holds keep it until
// nodes that may still run a removed Pod with the MAC prove they stopped
// it. The server's own loopback user may: it is in system:masters.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != macpool.Resource("macleases") {
		return nil
	}
	lease, ok := a.GetObject().(*macpool.MacLease)
	old, oldOK := a.GetOldObject().(*macpool.MacLease)
	if a.GetOperation() == admission.Create {
		old, oldOK = &macpool.MacLease{}, true
	}
	if !ok || !oldOK {
		return apierrors.NewBadRequest(fmt.Sprintf("%s: unexpected objects of types %T and %T", PluginName, a.GetObject(), a.GetOldObject()))
	}
	var checking string
	var refusal error
	switch {
	case slices.Contains(old.Finalizers, macpool.MACProtectionFinalizer) && !slices.Contains(lease.Finalizers, macpool.MACProtectionFinalizer):
		refusal = fmt.Errorf("metadata.finalizers: removing %s takes update permission on macleases/%s; "+
			"the lease controller removes it once nothing in namespace %q carries or reports the MAC",
			macpool.MACProtectionFinalizer, Subresource, a.GetNamespace())
		checking = "whether the caller may remove the finalizer " + macpool.MACProtectionFinalizer
	case changedNodeHolds(old, lease):
		refusal = fmt.Errorf("metadata.annotations[%s]: setting, changing or removing it takes update permission on macleases/%s; "+
			"the lease controller writes it when a Pod with the MAC leaves the API while its node may still run it",
			macpool.NodeHoldsAnnotation, Subresource)
		checking = "whether the caller may change the annotation " + macpool.NodeHoldsAnnotation
	default:
		return nil
	}
	return virtualsubresource.Require(ctx, p.authorizer, a, "update", Subresource, checking, refusal)
}

// changedNodeHolds tells an update that sets, changes or removes the node
// holds of a lease.
func changedNodeHolds(old, lease *macpool.MacLease) bool {
	before, had := old.Annotations[macpool.NodeHoldsAnnotation]
	after, has := lease.Annotations[macpool.NodeHoldsAnnotation]
	return had != has || before != after
}
