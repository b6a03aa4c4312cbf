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
	// Only updates can drop a finalizer: a create may start without it, and a
	// delete leaves the finalizers as they are.
	return &Plugin{Handler: admission.NewHandler(admission.Update)}
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
// removes the protection finalizer, unless the caller may update
// macleases/finalizers. The server's own loopback user may: it is in
// system:masters.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != macpool.Resource("macleases") {
		return nil
	}
	lease, ok := a.GetObject().(*macpool.MacLease)
	old, oldOK := a.GetOldObject().(*macpool.MacLease)
	if !ok || !oldOK {
		return apierrors.NewBadRequest(fmt.Sprintf("%s: unexpected objects of types %T and %T", PluginName, a.GetObject(), a.GetOldObject()))
	}
	if !slices.Contains(old.Finalizers, macpool.MACProtectionFinalizer) || slices.Contains(lease.Finalizers, macpool.MACProtectionFinalizer) {
		return nil
	}
	refusal := fmt.Errorf("metadata.finalizers: removing %s takes update permission on macleases/%s; "+
		"the lease controller removes it once nothing in namespace %q carries or reports the MAC",
		macpool.MACProtectionFinalizer, Subresource, a.GetNamespace())
	return virtualsubresource.Require(ctx, p.authorizer, a, "update", Subresource,
		"whether the caller may remove the finalizer "+macpool.MACProtectionFinalizer, refusal)
}
