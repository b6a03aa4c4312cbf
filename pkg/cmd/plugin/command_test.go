package plugin

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clienttesting "k8s.io/client-go/testing"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
)

// fakeClients hands the commands a fake clientset and a context namespace.
type fakeClients struct {
	clientset *fake.Clientset
	namespace string
}

func (f fakeClients) Clientset() (versioned.Interface, error) { return f.clientset, nil }
func (f fakeClients) Namespace() (string, error)              { return f.namespace, nil }

// run executes `kubectl macpool args...` against clientset and returns its
// standard output, standard error and exit status.
func run(t *testing.T, clientset *fake.Clientset, namespace string, args ...string) (string, string, int) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	cmd := NewCommand(streams, fakeClients{clientset: clientset, namespace: namespace})
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	code := Run(cmd, streams)
	return out.String(), errOut.String(), code
}

// forbid makes every verb on resource answer 403, in the namespace given
// or, with namespace "", cluster-wide only.
func forbid(clientset *fake.Clientset, verb, resource, namespace string) {
	clientset.PrependReactor(verb, resource, func(action clienttesting.Action) (bool, runtime.Object, error) {
		if action.GetNamespace() != namespace {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(v1alpha1.Resource(resource), "", nil)
	})
}

func lease(namespace, address string, owner *v1alpha1.LeaseOwner, mutate ...func(*v1alpha1.MacLease)) *v1alpha1.MacLease {
	l := &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: dashed(address)},
		Spec:       v1alpha1.MacLeaseSpec{MACAddress: address, Owner: owner},
	}
	for _, m := range mutate {
		m(l)
	}
	return l
}

func dashed(address string) string {
	b := []byte(address)
	for i := range b {
		if b[i] == ':' {
			b[i] = '-'
		}
	}
	return string(b)
}

func boundTo(uid types.UID) func(*v1alpha1.MacLease) {
	return func(l *v1alpha1.MacLease) {
		l.OwnerReferences = []metav1.OwnerReference{{APIVersion: l.Spec.Owner.APIVersion, Kind: l.Spec.Owner.Kind, Name: l.Spec.Owner.Name, UID: uid}}
		l.Status.Phase = v1alpha1.MacLeasePhaseBound
	}
}

func inPool(pool, iface string) func(*v1alpha1.MacLease) {
	return func(l *v1alpha1.MacLease) { l.Spec.Pool, l.Spec.Interface = pool, iface }
}

// onlyReads fails the test if the commands did anything but read.
func onlyReads(t *testing.T, clientset *fake.Clientset) {
	t.Helper()
	for _, action := range clientset.Actions() {
		if verb := action.GetVerb(); verb != "get" && verb != "list" {
			t.Errorf("the command sent a %s of %s; it must only read", verb, action.GetResource().Resource)
		}
	}
}
