package lease

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

const (
	podWebhookName   = "mutatepods.kubemacpool.io"
	vmWebhookName    = "mutatevirtualmachines.kubemacpool.io"
	optOutLabelValue = "ignore"
	kindPod          = "Pod"
)

// adopt gives every MAC of a managed object that no lease holds a Bound
// lease: objects from before the install, or created while the webhook was
// down, keep their addresses and the allocator stops handing them out.
//
// An object being deleted is not adopted, Pods and VirtualMachines alike.
// The VM webhook is not called for a VM with a deletionTimestamp
// (matchCondition not-being-deleted), so a tenant who holds a VM
// Terminating with a finalizer of its own could write any MAC into it, one
// in spec.exclude or in another tenant's pool, and have this controller,
// which writes as the server, lease it. The Pod webhook still sees a
// terminating Pod's annotation edits, but a Pod being deleted is being
// stopped by its kubelet and is no collision either (observePodCollisions):
// it gets no new lease, as a VM does not, so that no path leases what a
// departing object carries. What such an object already holds it
// keeps: binding and releasing look at the holders as they are.
func (c *Controller) adopt(ctx context.Context, key objectKey) error {
	h := c.currentHolder(key)
	if h == nil || !c.managed(key.kind, key.namespace) {
		return nil
	}
	for address, iface := range h.interfaces {
		parsed, err := mac.ParseUnicast(address)
		if err != nil {
			continue
		}
		if existing, _ := c.leasesNamed(parsed.Name()); len(existing) > 0 {
			continue
		}
		lease := &v1alpha1.MacLease{
			ObjectMeta: metav1.ObjectMeta{
				Name:            parsed.Name(),
				Namespace:       h.namespace,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: h.apiVersion, Kind: h.kind, Name: h.name, UID: types.UID(h.uid)}},
				Finalizers:      []string{macpool.MACProtectionFinalizer},
			},
			Spec: v1alpha1.MacLeaseSpec{
				MACAddress: parsed.String(),
				Owner:      &v1alpha1.LeaseOwner{APIVersion: h.apiVersion, Kind: h.kind, Name: h.name},
				Interface:  iface,
			},
			Status: v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseBound},
		}
		_, err = c.config.Leases.MacpoolV1alpha1().MacLeases(h.namespace).Create(ctx, lease, metav1.CreateOptions{})
		switch {
		case err == nil:
			klog.InfoS("Adopted a MAC that had no lease", "owner", h.kind+"/"+h.namespace+"/"+h.name, "mac", address)
			c.config.Metrics.CountLeaseOperation(metrics.LeaseAdopt)
		case apierrors.IsAlreadyExists(err):
			// Leased meanwhile, here or in another namespace; a second
			// running holder is a collision, reported as such.
		default:
			return fmt.Errorf("adopting %s of %s %s/%s: %w", address, h.kind, h.namespace, h.name, err)
		}
	}
	return nil
}

func (c *Controller) currentHolder(key objectKey) *holder {
	indexer := c.pods
	if key.kind == kubevirt.KindVirtualMachine {
		indexer, _ = c.vmCaches()
	}
	if indexer == nil {
		return nil
	}
	obj, exists, err := indexer.GetByKey(key.namespace + "/" + key.name)
	if err != nil || !exists {
		return nil
	}
	if object, ok := obj.(metav1.Object); !ok || object.GetDeletionTimestamp() != nil {
		// Being deleted: not to be adopted (see adopt).
		return nil
	}
	return holderOf(obj)
}

// holderOf reads a holder from an informer object of either kind.
func holderOf(obj interface{}) *holder {
	switch typed := obj.(type) {
	case *corev1.Pod:
		return podHolder(podMetadata(typed))
	case *metav1.PartialObjectMetadata:
		return podHolder(typed)
	case *unstructured.Unstructured:
		h, _ := vmHolder(typed)
		return h
	}
	return nil
}

// managed reports whether the webhook for kind acts in namespace, by its
// namespaceSelector in the webhook configuration (kubemacpool-mutator). When the configuration is not
// installed (the webhook is down or being reinstalled) a namespace is
// managed unless it opted out, so that adoption covers exactly the objects
// created meanwhile.
func (c *Controller) managed(kind, namespace string) bool {
	webhookName := podWebhookName
	if kind == kubevirt.KindVirtualMachine || kind == kubevirt.KindVirtualMachineInstance {
		webhookName = vmWebhookName
	}
	obj, exists, err := c.namespaces.GetByKey(namespace)
	if err != nil || !exists || obj.(*corev1.Namespace).DeletionTimestamp != nil {
		// A namespace being deleted takes its leases with it.
		return false
	}
	namespaceLabels := labels.Set(obj.(*corev1.Namespace).Labels)
	if selector := c.webhookSelector(webhookName); selector != nil {
		return selector.Matches(namespaceLabels)
	}
	return namespaceLabels[webhookName] != optOutLabelValue
}

func (c *Controller) webhookSelector(webhookName string) labels.Selector {
	obj, exists, err := c.webhooks.GetByKey(c.config.WebhookConfigurationName)
	if err != nil || !exists {
		return nil
	}
	return c.selectors.of(obj.(*admissionregistrationv1.MutatingWebhookConfiguration), webhookName)
}

// webhookSelectors holds the namespace selectors of the webhook
// configuration the informer last handed out, parsed once: parsing checks
// every label with regular expressions, which cost more than the rest of
// an adoption, on every Pod event.
type webhookSelectors struct {
	mu sync.Mutex
	// from is the configuration they were parsed from. Informer objects
	// are never changed in place: an update is a new object.
	from *admissionregistrationv1.MutatingWebhookConfiguration
	// byName holds the selector of each webhook of from, or nil when the
	// configuration has no such webhook or its selector does not parse.
	byName map[string]labels.Selector
}

// of returns the namespace selector of webhook webhookName in
// configuration: everything when it has none, nil when there is no such
// webhook or its selector does not parse.
func (s *webhookSelectors) of(configuration *admissionregistrationv1.MutatingWebhookConfiguration, webhookName string) labels.Selector {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.from != configuration {
		s.from, s.byName = configuration, map[string]labels.Selector{}
	}
	selector, parsed := s.byName[webhookName]
	if !parsed {
		selector = parseWebhookSelector(configuration, webhookName)
		s.byName[webhookName] = selector
	}
	return selector
}

func parseWebhookSelector(configuration *admissionregistrationv1.MutatingWebhookConfiguration, webhookName string) labels.Selector {
	for _, webhook := range configuration.Webhooks {
		if webhook.Name != webhookName {
			continue
		}
		if webhook.NamespaceSelector == nil {
			return labels.Everything()
		}
		selector, err := metav1.LabelSelectorAsSelector(webhook.NamespaceSelector)
		if err != nil {
			return nil
		}
		return selector
	}
	return nil
}

// onWebhookConfiguration warns when the Pod webhook of the configuration
// this server manages is not called for every route that writes a Pod's
// networks annotation (requiredPodRoutes): what such a route writes reaches
// no one, so a caller with rights on it can drop a MAC that the lease
// controller would then release while the Pod still uses it, or set
// networks the MAC checks never saw (an installation upgraded without its
// webhook configuration). It says so once for each missing set: the
// informer's resyncs and updates that leave the set as it was say nothing
// new, but a configuration that loses or regains some of the routes is
// reported again, so the log names what is missing now.
func (c *Controller) onWebhookConfiguration(old, obj interface{}) {
	configuration, ok := obj.(*admissionregistrationv1.MutatingWebhookConfiguration)
	if !ok || configuration.Name != c.config.WebhookConfigurationName {
		return
	}
	before, _ := old.(*admissionregistrationv1.MutatingWebhookConfiguration)
	c.warnSkippedVMCreates(before, configuration)
	missing := missingPodRoutes(configuration)
	if len(missing) == 0 {
		return
	}
	if before != nil && slices.Equal(missingPodRoutes(before), missing) {
		return // said already
	}
	routes := make([]string, 0, len(missing))
	unchecked := make([]string, 0, len(missing))
	for _, route := range missing {
		routes = append(routes, route.String())
		unchecked = append(unchecked, route.unchecked)
	}
	c.warn(fmt.Sprintf("MutatingWebhookConfiguration %s: webhook %s does not take %s, so these go unchecked: %s. "+
		"Install the webhook configuration of this version", configuration.Name, podWebhookName,
		strings.Join(routes, ", "), strings.Join(unchecked, "; ")))
}

// skippingVMCreates is the VM webhook's matchCondition up to chart 0.3.1
// and the artifacts of the same day: it skips a request whose object carries a
// deletionTimestamp, which a create through server-side apply may carry
// (kube-apiserver wipes it only after the mutating webhooks), so such a VM
// is stored with MACs nobody checked. The shipped condition now lets every
// CREATE through.
const skippingVMCreates = "!has(object.metadata.deletionTimestamp)"

// warnSkippedVMCreates warns, once for each configuration that starts to
// have it, when the VM webhook of configuration still has the condition
// that skips such creates: the server writes only the caBundle of the
// configuration, so an installation upgraded without applying the new one
// keeps it.
func (c *Controller) warnSkippedVMCreates(before, configuration *admissionregistrationv1.MutatingWebhookConfiguration) {
	if !skipsVMCreates(configuration) || before != nil && skipsVMCreates(before) {
		return
	}
	c.warn(fmt.Sprintf("MutatingWebhookConfiguration %s: webhook %s has the matchCondition %q, which skips a "+
		"VirtualMachine created through server-side apply with a deletionTimestamp, so its MACs go unchecked. "+
		"Install the webhook configuration of this version", configuration.Name, vmWebhookName, skippingVMCreates))
}

func skipsVMCreates(configuration *admissionregistrationv1.MutatingWebhookConfiguration) bool {
	for _, webhook := range configuration.Webhooks {
		if webhook.Name != vmWebhookName {
			continue
		}
		return slices.ContainsFunc(webhook.MatchConditions, func(condition admissionregistrationv1.MatchCondition) bool {
			return strings.TrimSpace(condition.Expression) == skippingVMCreates
		})
	}
	return false
}

// podRoute is a request through which a Pod's networks annotation is
// written, named as a webhook rule names it: resource, subresource and
// operation of the core API group, version v1, in a namespace.
type podRoute struct {
	resource, subresource string
	operation             admissionregistrationv1.OperationType
	// unchecked is what a Pod webhook not called for the route lets by.
	unchecked string
}

// String is the route as the warning names it: "pods/status UPDATE".
func (r podRoute) String() string {
	resource := r.resource
	if r.subresource != "" {
		resource += "/" + r.subresource
	}
	return resource + " " + string(r.operation)
}

// requiredPodRoutes are the routes the Pod webhook must take (the rules of
// artifacts/webhook and of chart 0.3.1), besides the creates of Pods, which
// every configuration ever shipped takes. A status update and a binding
// write a Pod's annotations without an update of the Pod, and kube-apiserver
// still serves the namespaced bindings resource with the same endpoint as
// pods/binding.
var requiredPodRoutes = []podRoute{
	{resource: "pods", operation: admissionregistrationv1.Update,
		unchecked: "edits of a running Pod's networks annotation"},
	{resource: "pods", subresource: "status", operation: admissionregistrationv1.Update,
		unchecked: "edits of a Pod's networks annotation through the status subresource"},
	{resource: "pods", subresource: "binding", operation: admissionregistrationv1.Create,
		unchecked: "pods/binding creates that set a pending Pod's networks annotation"},
	{resource: "bindings", operation: admissionregistrationv1.Create,
		unchecked: "Bindings created through the bindings resource that set a pending Pod's networks annotation"},
}

// missingPodRoutes returns the routes of requiredPodRoutes, in that order,
// that no rule of the configuration's Pod webhook covers; nil when the
// configuration has no Pod webhook at all (opted out wholesale, nothing to
// warn about). Its matchConditions are not looked at: they decide per
// request, and the shipped ones only spare the requests that leave the
// networks annotation alone.
func missingPodRoutes(configuration *admissionregistrationv1.MutatingWebhookConfiguration) []podRoute {
	for _, webhook := range configuration.Webhooks {
		if webhook.Name != podWebhookName {
			continue
		}
		var missing []podRoute
		for _, route := range requiredPodRoutes {
			if !slices.ContainsFunc(webhook.Rules, func(rule admissionregistrationv1.RuleWithOperations) bool { return ruleCovers(rule, route) }) {
				missing = append(missing, route)
			}
		}
		return missing
	}
	return nil
}

// ruleCovers tells whether kube-apiserver calls a webhook with rule for
// requests of route: the operation or OperationAll, the core group or "*",
// version v1 or "*", a scope that takes namespaced objects, and a resource
// entry that matches (resourceCovers).
func ruleCovers(rule admissionregistrationv1.RuleWithOperations, route podRoute) bool {
	if !slices.Contains(rule.Operations, route.operation) && !slices.Contains(rule.Operations, admissionregistrationv1.OperationAll) {
		return false
	}
	if !slices.Contains(rule.APIGroups, "") && !slices.Contains(rule.APIGroups, "*") {
		return false
	}
	if !slices.Contains(rule.APIVersions, "v1") && !slices.Contains(rule.APIVersions, "*") {
		return false
	}
	if rule.Scope != nil && *rule.Scope != admissionregistrationv1.AllScopes && *rule.Scope != admissionregistrationv1.NamespacedScope {
		return false
	}
	return slices.ContainsFunc(rule.Resources, func(entry string) bool { return resourceCovers(entry, route) })
}

// resourceCovers matches one entry of a rule's resources against route the
// way kube-apiserver does: the part before "/" is the resource or "*", the
// part after it the subresource or "*", and no "/" means no subresource.
// So "*" is every resource but none of their subresources, "*/status" the
// status of every resource, and "pods/*" every subresource of pods and, as
// the empty subresource matches "*" too, pods itself.
func resourceCovers(entry string, route podRoute) bool {
	resource, subresource, _ := strings.Cut(entry, "/")
	return (resource == "*" || resource == route.resource) && (subresource == "*" || subresource == route.subresource)
}
