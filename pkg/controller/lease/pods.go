package lease

import (
	corev1 "k8s.io/api/core/v1"
)

// SlimPod keeps of a Pod only what the controller reads: its metadata,
// without managed fields, its phase, the node it was scheduled to and the
// host IP its kubelet reported. The
// Pod informer given to the controller takes it as its transform and
// stores this instead of the whole Pod, so memory stays close to that of a
// metadata-only informer, while the phase tells a finished pod, whose MACs
// are off the network. Of a Pod being deleted it also keeps whether each
// container has terminated (and the grace period it was given): when such
// a Pod leaves the API, that tells whether its node may still run it
// (mayStillRun). Any other object is left as it is.
func SlimPod(obj interface{}) (interface{}, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		// A tombstone or anything else: left as it is.
		return obj, nil
	}
	slim := &corev1.Pod{TypeMeta: pod.TypeMeta, ObjectMeta: pod.ObjectMeta,
		Spec:   corev1.PodSpec{NodeName: pod.Spec.NodeName},
		Status: corev1.PodStatus{Phase: pod.Status.Phase, HostIP: pod.Status.HostIP}}
	slim.ManagedFields = nil
	if pod.DeletionTimestamp != nil && pod.Spec.NodeName != "" && !finished(pod) {
		// Few Pods are being deleted at a time: this costs a slice of
		// empty statuses each, and nothing for the others.
		slim.Spec.TerminationGracePeriodSeconds = pod.Spec.TerminationGracePeriodSeconds
		slim.Status.ContainerStatuses = make([]corev1.ContainerStatus, len(pod.Status.ContainerStatuses))
		for i, status := range pod.Status.ContainerStatuses {
			if status.State.Terminated != nil {
				slim.Status.ContainerStatuses[i].State.Terminated = stoppedContainer
			}
		}
	}
	return slim, nil
}

// stoppedContainer marks a terminated container in a slim Pod, shared by
// all of them.
var stoppedContainer = &corev1.ContainerStateTerminated{}

// finished reports a Pod whose containers have all terminated for good: its
// network is torn down, so its MACs collide with nothing.
func finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// mayStillRun tells whether a Pod that has just left the API may still run
// on its node, with its MACs on the network: a kubelet took it (it
// reported the Pod's host IP, which it does as it starts the Pod's sandbox),
// it had not finished, and its last status does not show every container
// terminated. The kubelet removes a Pod it has stopped only after reporting
// that (and its sandbox, where the MACs are, is gone by then); a Pod that
// leaves otherwise was deleted with --force, or by the garbage collector of
// Pods on a node that stopped answering, and its node may run it until its
// kubelet hears of it. A Pod no kubelet reported on is not held: a tenant
// may write spec.nodeName itself, naming a node that no longer answers, and
// would otherwise keep MACs for as long as that node's object stays.
func mayStillRun(pod *corev1.Pod) bool {
	if pod.Spec.NodeName == "" || pod.Status.HostIP == "" || finished(pod) {
		return false
	}
	if len(pod.Status.ContainerStatuses) == 0 {
		return true
	}
	for _, status := range pod.Status.ContainerStatuses {
		if status.State.Terminated == nil {
			return true
		}
	}
	return false
}
