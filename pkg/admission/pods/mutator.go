package pods

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"

	"kubemacpool.io/kubemacpool/pkg/admission/webhook"
	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/multus"
)

// Path is where kube-apiserver calls the webhook.
const Path = "/mutate-pods"

// Mutator assigns MACs to the multus networks of Pods.
type Mutator struct {
	Allocations *allocation.Service
	// Launchers proves virt-launcher pods of VirtualMachines, which are
	// left alone; nil treats every pod as a regular one.
	Launchers *Launchers
	// MaxMACs caps the networks of one pod (--max-macs-per-object).
	MaxMACs int
	// Events records the MACs that conflictPolicy Reassign replaced; nil
	// records none.
	Events record.EventRecorder
}

var _ webhook.MetadataMutator = &Mutator{}

// Mutate answers one Pod admission request.
func (m *Mutator) Mutate(ctx context.Context, request *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if binding(request) {
		object := &metav1.PartialObjectMetadata{}
		if err := json.Unmarshal(request.Object.Raw, object); err != nil {
			return webhook.Deny(http.StatusBadRequest, "kubemacpool: the object is not a Binding: %v", err)
		}
		return bindingSetsNoNetworks(&object.ObjectMeta)
	}
	if !handled(request) {
		return webhook.Allow(nil, nil)
	}
	// Only the metadata matters (annotations, name, owners): decoding it
	// alone skips the spec, most of a Pod's JSON.
	object := &metav1.PartialObjectMetadata{}
	if err := json.Unmarshal(request.Object.Raw, object); err != nil {
		return webhook.Deny(http.StatusBadRequest, "kubemacpool: the object is not a Pod: %v", err)
	}
	return m.mutate(ctx, request, &object.ObjectMeta)
}

// MutateMetadata is Mutate for a request whose object's metadata the
// handler decoded with the review.
func (m *Mutator) MutateMetadata(ctx context.Context, request *admissionv1.AdmissionRequest, object *metav1.PartialObjectMetadata) *admissionv1.AdmissionResponse {
	if binding(request) {
		return bindingSetsNoNetworks(&object.ObjectMeta)
	}
	if !handled(request) {
		return webhook.Allow(nil, nil)
	}
	return m.mutate(ctx, request, &object.ObjectMeta)
}

// handled tells the requests the webhook acts on: Pod creates, and Pod
// updates, which kube-apiserver sends only when the networks annotation
// changes (the webhook configuration's matchConditions). An update of the
// status subresource is one too: kube-apiserver keeps the annotations a
// pods/status update sends (it resets only the spec, the deletion timestamp
// and the owner references), so a kubelet, multus's ServiceAccount or
// anybody granted pods/status could otherwise drop a MAC from a running
// Pod unseen, and the lease controller would release it while the Pod's
// interface still has it. Other subresources (ephemeralcontainers, resize,
// binding) cannot change a Pod's annotations.
func handled(request *admissionv1.AdmissionRequest) bool {
	if request.Kind.Kind != "Pod" {
		return false
	}
	switch request.SubResource {
	case "":
		return request.Operation == admissionv1.Create || request.Operation == admissionv1.Update
	case "status":
		return request.Operation == admissionv1.Update
	}
	return false
}

func (m *Mutator) mutate(ctx context.Context, request *admissionv1.AdmissionRequest, pod *metav1.ObjectMeta) *admissionv1.AdmissionResponse {
	var before *attached
	if request.Operation == admissionv1.Update {
		old := &metav1.PartialObjectMetadata{}
		if err := json.Unmarshal(request.OldObject.Raw, old); err != nil {
			return webhook.Deny(http.StatusBadRequest, "kubemacpool: the old object is not a Pod: %v", err)
		}
		if old.Annotations[multus.NetworksAnnotation] == pod.Annotations[multus.NetworksAnnotation] {
			return webhook.Allow(nil, nil)
		}
		before = attachedBy(old.Annotations[multus.NetworksAnnotation], request.Namespace)
	}
	annotation, found := pod.Annotations[multus.NetworksAnnotation]
	if !found && (before == nil || len(before.macs) == 0) {
		return webhook.Allow(nil, nil)
	}
	// A network-status annotation is no reason to skip: multus writes it
	// after creation, so on a CREATE it is the creator's own text.
	vm, vmi, err := m.Launchers.launcherOf(ctx, request, pod)
	if err != nil {
		return webhook.Deny(http.StatusServiceUnavailable, "%v", err)
	}
	if vm != nil {
		return m.mutateLauncher(ctx, request, annotation, found, vm, before)
	}
	if !found {
		// Nothing to lease, and the Pod carried MACs it may not drop.
		return keepsCarriedMACs(nil, before)
	}
	networks, err := multus.Parse(annotation, request.Namespace)
	if err != nil {
		return webhook.Deny(http.StatusUnprocessableEntity, "metadata.annotations[%s]: %v", multus.NetworksAnnotation, err)
	}
	if denied := keepsCarriedMACs(networks, before); denied != nil {
		return denied
	}
	if denied := tooManyNetworks(networks, m.MaxMACs); denied != nil {
		return denied
	}

	if denied := webhook.InvalidRetention(pod.Annotations); denied != nil {
		return denied
	}

	owner := allocation.Owner{APIVersion: "v1", Kind: "Pod", Name: pod.Name, Request: request.UID}
	if request.Operation == admissionv1.Update {
		owner.UID = pod.UID
	}
	if owner.Name == "" {
		owner.Name, owner.Generated = pod.GenerateName, true
	}
	dryRun := request.DryRun != nil && *request.DryRun
	transaction := m.Allocations.Begin(request.Namespace, owner, dryRun)
	var running map[mac.Address]bool
	if vmi != nil {
		// The launcher of a standalone VMI (or of one whose VM is gone): the
		// MACs its guest runs with already (a live migration's target) were
		// admitted with its first launcher, which holds their leases.
		if running, err = m.Launchers.heldByLaunchers(ctx, transaction, request.Namespace, vmi, runningMACs(vmi)); err != nil {
			transaction.Abort(ctx)
			return webhook.Deny(http.StatusServiceUnavailable, "%v", err)
		}
	}
	if err := assign(ctx, networks, before, running, transaction); err != nil {
		transaction.Abort(ctx)
		return denial(err)
	}
	if vmi != nil && len(transaction.Reassigned()) > 0 {
		// The launcher of a standalone VMI (or of one whose VM is gone):
		// KubeVirt wrote the VMI's MACs into the annotation and gives them
		// to the guest whatever the annotation says, so a replacement here
		// would lease another address while the guest keeps the held one
		// on the wire. Refused, as for the launcher of a VM.
		replaced := transaction.Reassigned()[0]
		transaction.Abort(ctx)
		return webhook.Deny(http.StatusConflict, "metadata.annotations[%s]: MAC address %s requested for %s is already in use by another object; "+
			"a virt-launcher pod's MACs are its guest's and are not replaced (conflictPolicy Reassign)", multus.NetworksAnnotation, replaced.Requested, replaced.Interface)
	}
	if !networks.Changed() {
		return webhook.Allow(nil, transaction.Warnings())
	}
	patch, err := annotationPatch(networks)
	if err != nil {
		transaction.Abort(ctx)
		return webhook.Deny(http.StatusUnprocessableEntity, "metadata.annotations[%s]: %v", multus.NetworksAnnotation, err)
	}
	if !dryRun {
		webhook.RecordReassignments(m.Events, owner.APIVersion, owner.Kind, request.Namespace, owner.Name, "", transaction.Reassigned())
	}
	return webhook.Allow(patch, transaction.Warnings())
}

// assign leases the MACs the pod asks for, then allocates the missing ones.
// Requested MACs go first so that their leases are in the index before
// anything is allocated: an allocated MAC can then never be one the same pod
// asks for on a later network. A MAC asked for on two networks of one pod is
// refused, as for the interfaces of a VirtualMachine. On an update, MACs the
// pod carried before are its own already and are not asked for again, and
// only the networks the update adds are given one. Nor are the MACs in
// running, those a VMI whose launcher the pod is runs with already.
func assign(ctx context.Context, networks *multus.Networks, before *attached, running map[mac.Address]bool, transaction *allocation.Transaction) error {
	requestedOn := map[mac.Address]string{}
	for i := 0; i < networks.Len(); i++ {
		network := networks.Element(i)
		if network.MAC == "" {
			continue
		}
		key := networks.Key(i)
		requested, err := mac.ParseUnicast(network.MAC)
		if err != nil {
			return fmt.Errorf("network %s: %w", key, err)
		}
		if first, repeated := requestedOn[requested]; repeated {
			return &duplicateError{address: requested, first: first, second: key}
		}
		requestedOn[requested] = key
	}
	for i := 0; i < networks.Len(); i++ {
		if network := networks.Element(i); network.MAC != "" {
			requested, _ := mac.ParseUnicast(network.MAC)
			if before.carries(requested) || running[requested] {
				continue
			}
			got, err := transaction.Request(ctx, networks.Key(i), multusNetwork(network), requested)
			if err != nil {
				return err
			}
			if got == requested {
				continue
			}
			// conflictPolicy Reassign replaced it.
			key := networks.Key(i)
			if other, repeated := requestedOn[got]; repeated {
				// Only a dry run, which leases nothing, can get here.
				return fmt.Errorf("network %s: the MAC %s that replaced the requested one is the one requested for %s", key, got, other)
			}
			if err := networks.ReplaceRequestedMAC(i, got); err != nil {
				return fmt.Errorf("network %s: %w", key, err)
			}
		}
	}
	for i := 0; i < networks.Len(); i++ {
		key := networks.Key(i)
		if networks.Element(i).MAC != "" || before.named(key) {
			continue
		}
		address, err := transaction.Allocate(ctx, key, multusNetwork(networks.Element(i)))
		if err != nil {
			return err
		}
		if other, repeated := requestedOn[address]; repeated {
			// Only a dry run, which leases nothing, or a MAC retained for
			// this pod on this network that it now asks for on another, can
			// get here; the abort restores the retained lease.
			return fmt.Errorf("network %s: the allocated MAC %s is the one requested for %s", key, address, other)
		}
		if err := networks.SetMAC(i, address); err != nil {
			return fmt.Errorf("network %s: %w", key, err)
		}
	}
	return nil
}

// multusNetwork is the NetworkAttachmentDefinition a network element
// selects, which picks a network-selected pool.
func multusNetwork(network multus.Network) allocation.Network {
	return allocation.Network{Namespace: network.Namespace, Name: network.Name}
}

// duplicateError is a MAC asked for on two networks of one pod.
type duplicateError struct {
	address       mac.Address
	first, second string
}

func (e *duplicateError) Error() string {
	return fmt.Sprintf("duplicate MAC address %s found on networks: %s and %s", e.address, e.first, e.second)
}

// annotationPatch replaces the networks annotation alone; "~1" escapes the
// "/" of the key in a JSON pointer.
func annotationPatch(networks *multus.Networks) ([]byte, error) {
	encoded, err := networks.Encode()
	if err != nil {
		return nil, err
	}
	return json.Marshal([]patchOperation{{Op: "replace", Path: "/metadata/annotations/k8s.v1.cni.cncf.io~1networks", Value: encoded}})
}

// patchOperation is one JSON patch operation. Its members are declared in
// the order encoding/json would sort the keys of a map, so the patch is
// what it was when this was a map, without a map to build and sort.
type patchOperation struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}

// denial answers an assignment failure with the status it carries
// (webhook.StatusCode). A failure about the MACs the annotation asks for
// names the annotation; one about the pool or the server does not.
func denial(err error) *admissionv1.AdmissionResponse {
	code := webhook.StatusCode(err)
	var conflict *allocation.ConflictError
	if code == http.StatusUnprocessableEntity || errors.As(err, &conflict) {
		return webhook.Deny(code, "metadata.annotations[%s]: %v", multus.NetworksAnnotation, err)
	}
	return webhook.Deny(code, "%v", err)
}
