package lease

import (
	corev1 "k8s.io/api/core/v1"
)

// SlimPod keeps of a Pod only what the controller reads: its metadata,
// without managed fields, and its phase. The Pod informer given to the
// controller takes it as its transform and stores this instead of the whole
// Pod, so memory stays close to that of a metadata-only informer, while the
// phase tells a finished pod, whose MACs are off the network. Any other
// object is left as it is.
func SlimPod(obj interface{}) (interface{}, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		// A tombstone or anything else: left as it is.
		return obj, nil
	}
	slim := &corev1.Pod{TypeMeta: pod.TypeMeta, ObjectMeta: pod.ObjectMeta, Status: corev1.PodStatus{Phase: pod.Status.Phase}}
	slim.ManagedFields = nil
	return slim, nil
}

// finished reports a Pod whose containers have all terminated for good: its
// network is torn down, so its MACs collide with nothing.
func finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}
