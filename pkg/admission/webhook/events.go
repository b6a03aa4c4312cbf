package webhook

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"

	"kubemacpool.io/kubemacpool/pkg/allocation"
)

// ReassignedReason is the reason of the event that says conflictPolicy
// Reassign replaced a requested MAC.
const ReassignedReason = "MACAddressReassigned"

// RecordReassignments emits one Warning event per replaced MAC on the
// admitted object, in its own namespace. The message names the interface
// and both addresses, never the holder of the requested one: that may be
// an object of another tenant. A nil recorder records nothing (tests, and
// servers without a kube-apiserver to write events to).
func RecordReassignments(recorder record.EventRecorder, apiVersion, kind, namespace, name string, uid types.UID, reassigned []allocation.Reassignment) {
	if recorder == nil || len(reassigned) == 0 {
		return
	}
	object := &corev1.ObjectReference{APIVersion: apiVersion, Kind: kind, Namespace: namespace, Name: name, UID: uid}
	for _, r := range reassigned {
		recorder.Event(object, corev1.EventTypeWarning, ReassignedReason, r.Message())
	}
}
