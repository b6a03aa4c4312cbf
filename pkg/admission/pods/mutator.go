package pods

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"kubemacpool.io/kubemacpool/pkg/admission/podnetworks"
	"kubemacpool.io/kubemacpool/pkg/admission/webhook"
	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/allocator"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// Path is where kube-apiserver calls the webhook.
const Path = "/mutate-pods"

// virtLauncherLabel marks the pods KubeVirt runs VMs in: their MACs are the
// VM's, assigned by the VirtualMachine webhook.
const virtLauncherLabel = "kubevirt.io"

// Mutator assigns MACs to the multus networks of Pods.
type Mutator struct {
	Allocations *allocation.Service
	// MaxMACs caps the networks of one pod (--max-macs-per-object).
	MaxMACs int
}

var _ webhook.Mutator = &Mutator{}

// Mutate answers one Pod admission request.
func (m *Mutator) Mutate(ctx context.Context, request *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if request.Operation != admissionv1.Create || request.Kind.Kind != "Pod" {
		return webhook.Allow(nil, nil)
	}
	pod := &corev1.Pod{}
	if err := json.Unmarshal(request.Object.Raw, pod); err != nil {
		return webhook.Deny(http.StatusBadRequest, "kubemacpool: the object is not a Pod: %v", err)
	}
	annotation, found := pod.Annotations[podnetworks.NetworksAnnotation]
	if !found || skip(pod) {
		return webhook.Allow(nil, nil)
	}
	networks, err := podnetworks.Parse(annotation, request.Namespace)
	if err != nil {
		return webhook.Deny(http.StatusUnprocessableEntity, "metadata.annotations[%s]: %v", podnetworks.NetworksAnnotation, err)
	}
	if denied := tooManyNetworks(networks, m.MaxMACs); denied != nil {
		return denied
	}

	owner := allocation.Owner{APIVersion: "v1", Kind: "Pod", Name: pod.Name}
	if owner.Name == "" {
		owner.Name = pod.GenerateName
	}
	dryRun := request.DryRun != nil && *request.DryRun
	transaction := m.Allocations.Begin(request.Namespace, owner, dryRun)
	if err := assign(ctx, networks, transaction); err != nil {
		transaction.Abort(ctx)
		return denial(err)
	}
	if !networks.Changed() {
		return webhook.Allow(nil, transaction.Warnings())
	}
	patch, err := annotationPatch(networks)
	if err != nil {
		transaction.Abort(ctx)
		return webhook.Deny(http.StatusUnprocessableEntity, "metadata.annotations[%s]: %v", podnetworks.NetworksAnnotation, err)
	}
	return webhook.Allow(patch, transaction.Warnings())
}

// skip reports pods whose networks are not ours to assign: virt-launcher
// pods, and pods that multus has already wired (network-status is set).
func skip(pod *corev1.Pod) bool {
	if pod.Labels[virtLauncherLabel] == "virt-launcher" {
		return true
	}
	for _, owner := range pod.OwnerReferences {
		if owner.Kind == "VirtualMachineInstance" {
			return true
		}
	}
	_, wired := pod.Annotations[podnetworks.NetworkStatusAnnotation]
	return wired
}

func assign(ctx context.Context, networks *podnetworks.Networks, transaction *allocation.Transaction) error {
	for i := 0; i < networks.Len(); i++ {
		network := networks.Element(i)
		key := networks.Key(i)
		if network.MAC != "" {
			requested, err := mac.ParseUnicast(network.MAC)
			if err != nil {
				return fmt.Errorf("network %s: %w", key, err)
			}
			if err := transaction.Request(ctx, key, requested); err != nil {
				return err
			}
			continue
		}
		address, err := transaction.Allocate(ctx, key)
		if err != nil {
			return err
		}
		if err := networks.SetMAC(i, address); err != nil {
			return fmt.Errorf("network %s: %w", key, err)
		}
	}
	return nil
}

// annotationPatch replaces the networks annotation alone; "~1" escapes the
// "/" of the key in a JSON pointer.
func annotationPatch(networks *podnetworks.Networks) ([]byte, error) {
	encoded, err := networks.Encode()
	if err != nil {
		return nil, err
	}
	return json.Marshal([]map[string]string{{
		"op":    "replace",
		"path":  "/metadata/annotations/k8s.v1.cni.cncf.io~1networks",
		"value": encoded,
	}})
}

// denial maps an assignment failure to a 4xx answer that says what is wrong.
func denial(err error) *admissionv1.AdmissionResponse {
	var conflict *allocation.ConflictError
	var exhausted *allocator.ExhaustedError
	var unavailable *allocation.StorageUnavailableError
	switch {
	case errors.As(err, &conflict):
		return webhook.Deny(http.StatusConflict, "metadata.annotations[%s]: %v", podnetworks.NetworksAnnotation, err)
	case errors.As(err, &exhausted):
		return webhook.Deny(http.StatusConflict, "%v", err)
	case errors.As(err, &unavailable):
		// A temporary failure: the same request may succeed later.
		return webhook.Deny(http.StatusServiceUnavailable, "%v", err)
	case apierrors.IsForbidden(err):
		// The lease create was refused: a ResourceQuota of the namespace.
		return webhook.Deny(http.StatusForbidden, "%v", err)
	default:
		return webhook.Deny(http.StatusUnprocessableEntity, "metadata.annotations[%s]: %v", podnetworks.NetworksAnnotation, err)
	}
}
