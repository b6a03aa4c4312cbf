package pods

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"kubemacpool.io/kubemacpool/pkg/admission/webhook"
	"kubemacpool.io/kubemacpool/pkg/allocation"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	versionedfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
	"kubemacpool.io/kubemacpool/pkg/metrics"
	"kubemacpool.io/kubemacpool/pkg/multus"
)

// discardLeases accepts every create and stores nothing: the benchmark
// measures the webhook, not a lease store.
type discardLeases struct{}

func (discardLeases) Create(_ context.Context, lease *v1alpha1.MacLease) (*v1alpha1.MacLease, error) {
	return lease, nil
}

func (discardLeases) Get(_ context.Context, namespace, name string) (*v1alpha1.MacLease, error) {
	return nil, apierrors.NewNotFound(macpool.Resource("macleases"), name)
}

func (discardLeases) Delete(context.Context, string, string, metav1.Preconditions) error { return nil }

// benchService is newService with a pool of 2^32 addresses, so that a
// benchmark never exhausts it, over discardLeases.
func benchService(b *testing.B, m *metrics.Metrics) *allocation.Service {
	b.Helper()
	client := versionedfake.NewSimpleClientset(&v1alpha1.MacPool{
		ObjectMeta: metav1.ObjectMeta{Name: macpool.DefaultPoolName},
		Spec:       v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:ff:ff:ff:ff"}}},
	})
	return startService(b, client, discardLeases{}, true, m)
}

// benchPod is a Pod as a Deployment would create it: a few KB of spec, a
// generated name, owner references and the networks annotation.
func benchPod(networks string) *corev1.Pod {
	container := func(name string) corev1.Container {
		c := corev1.Container{
			Name: name, Image: "registry.example.com/team/" + name + ":v1.2.3", Command: []string{"/bin/" + name}, Args: []string{"--port=8080", "--verbose"},
			Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
			Resources:       corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
			VolumeMounts:    []corev1.VolumeMount{{Name: "config", MountPath: "/etc/config"}, {Name: "kube-api-access-abcde", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}},
			ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		}
		for i := 0; i < 8; i++ {
			c.Env = append(c.Env, corev1.EnvVar{Name: fmt.Sprintf("SETTING_%d", i), Value: fmt.Sprintf("value-%d-of-the-setting", i)})
		}
		return c
	}
	controller := true
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "web-7d4b9c8f6-", Namespace: "ns",
			Labels:          map[string]string{"app": "web", "pod-template-hash": "7d4b9c8f6"},
			Annotations:     map[string]string{multus.NetworksAnnotation: networks, "kubectl.kubernetes.io/restartedAt": "2026-11-30T10:00:00Z"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d4b9c8f6", UID: "9b6f1c2e-8a7d-4c3b-9e1f-2a3b4c5d6e7f", Controller: &controller, BlockOwnerDeletion: &controller}},
		},
		Spec: corev1.PodSpec{
			Containers:     []corev1.Container{container("app"), container("sidecar")},
			InitContainers: []corev1.Container{container("init")},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}}}},
				{Name: "kube-api-access-abcde", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
				}}}},
			},
			RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst, ServiceAccountName: "default", SchedulerName: "default-scheduler",
			Tolerations: []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}},
		},
	}
}

// benchReview is the body kube-apiserver posts for the creation of pod.
func benchReview(b *testing.B, pod *corev1.Pod) []byte {
	b.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		b.Fatal(err)
	}
	options, _ := json.Marshal(&metav1.CreateOptions{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "CreateOptions"}})
	dryRun := false
	body, err := json.Marshal(&admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:         types.UID("0d4c5b8e-1f2a-4b3c-8d9e-0a1b2c3d4e5f"),
			Kind:        metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource:    metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			RequestKind: &metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, RequestResource: &metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Namespace: "ns", Operation: admissionv1.Create,
			UserInfo: authenticationUser(),
			Object:   runtime.RawExtension{Raw: raw}, Options: runtime.RawExtension{Raw: options}, DryRun: &dryRun,
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkPodWebhook serves AdmissionReviews of realistic Pods end to end,
// from the HTTP request body to the response, with metrics as the server
// records them, over an allocator whose lease writes cost nothing.
func BenchmarkPodWebhook(b *testing.B) {
	for _, bench := range []struct{ name, networks string }{
		{"list-1", `[{"name":"net1"}]`},
		{"list-2-with-mac", `[{"name":"net1","namespace":"ns","interface":"net1"},{"name":"net2","mac":"02:aa:00:00:00:01"}]`},
		{"comma-2", `net1,ns/net2@eth2`},
	} {
		b.Run(bench.name, func(b *testing.B) {
			m := metrics.New()
			handler := webhook.Handler(&Mutator{Allocations: benchService(b, m), MaxMACs: 16}, benchObserver(m))
			body := benchReview(b, benchPod(bench.networks))
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			at := bytes.Index(body, []byte("02:aa:00:00:00:01"))
			for i := 0; i < b.N; i++ {
				if at >= 0 {
					// A requested MAC is leased once: ask for another each time.
					const hex = "0123456789abcdef"
					for j, shift := 0, 28; j < 4; j, shift = j+1, shift-8 {
						body[at+6+3*j], body[at+7+3*j] = hex[(i>>shift)&0xf], hex[(i>>(shift-4))&0xf]
					}
				}
				request := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
				request.Header.Set("Content-Type", "application/json")
				recorder := httptest.NewRecorder()
				handler.ServeHTTP(recorder, request)
				if recorder.Code != http.StatusOK || !bytes.Contains(recorder.Body.Bytes(), []byte(`"allowed":true`)) {
					b.Fatalf("response %d: %s", recorder.Code, recorder.Body.String())
				}
			}
		})
	}
}

// benchObserver records the admission metrics as the server does.
func benchObserver(m *metrics.Metrics) webhook.Observer {
	return func(request *admissionv1.AdmissionRequest, response *admissionv1.AdmissionResponse, elapsed time.Duration) {
		result := metrics.AdmissionAllowed
		if len(response.Patch) > 0 {
			result = metrics.AdmissionMutated
		}
		m.CountAdmission(metrics.ResourcePods, string(request.Operation), result)
		m.ObserveAdmission(metrics.ResourcePods, string(request.Operation), elapsed)
	}
}

func authenticationUser() authenticationv1.UserInfo {
	return authenticationv1.UserInfo{
		Username: "system:serviceaccount:kube-system:replicaset-controller", UID: "5f0c3e2a-7b1d-4e8f-9a6c-1d2e3f4a5b6c",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
	}
}
