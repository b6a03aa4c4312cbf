package apiserver

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	componentbaseconfig "k8s.io/component-base/config"
	"k8s.io/utils/ptr"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	leasecontroller "kubemacpool.io/kubemacpool/pkg/controller/lease"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
)

// Only the leader watches MutatingWebhookConfigurations: they are built for
// each term, so a replica that another one keeps out of the Lease does not
// list them, and the leader does. (Pods every replica follows, through the
// shared informers: see leasecontroller.PodEvents.)
func TestOnlyTheLeaderWatchesWebhookConfigurations(t *testing.T) {
	for _, tc := range []struct {
		name   string
		holder string // of the Lease before the start; empty: none
		leads  bool
	}{
		{name: "another replica holds the Lease", holder: "other-replica", leads: false},
		{name: "nobody holds the Lease", leads: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var objects []runtime.Object
			if tc.holder != "" {
				objects = append(objects, &coordinationv1.Lease{
					ObjectMeta: metav1.ObjectMeta{Namespace: "kubemacpool-system", Name: "kubemacpool-lease-controller"},
					Spec: coordinationv1.LeaseSpec{
						HolderIdentity:       ptr.To(tc.holder),
						LeaseDurationSeconds: ptr.To(int32(3600)),
						AcquireTime:          &metav1.MicroTime{Time: time.Now()},
						RenewTime:            &metav1.MicroTime{Time: time.Now()},
					},
				})
			}
			kube := kubefake.NewClientset(objects...)
			clients := &kubeClients{
				kube: kube,
				dynamic: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
					kubevirt.VirtualMachines: "VirtualMachineList", kubevirt.VirtualMachineInstances: "VirtualMachineInstanceList",
				}),
				metadata: metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme()),
			}
			leases := fake.NewSimpleClientset()
			shared := informers.NewSharedInformerFactory(kube, 0)
			config := leasecontroller.Config{
				Leases:        leases,
				Kube:          kube,
				Namespaces:    shared.Core().V1().Namespaces().Informer(),
				LeaseInformer: cache.NewSharedIndexInformer(&cache.ListWatch{}, &macpool.MacLease{}, 0, cache.Indexers{}),
			}
			podEvents, err := leasecontroller.FollowPods(informers.NewSharedInformerFactory(kube, 0).Core().V1().Pods().Informer(), config.LeaseInformer, nil)
			if err != nil {
				t.Fatal(err)
			}
			config.PodEvents = podEvents
			settings := ControllerConfig{Workers: 1, LeaderElection: componentbaseconfig.LeaderElectionConfiguration{
				LeaderElect: true, ResourceLock: "leases", ResourceNamespace: "kubemacpool-system", ResourceName: "kubemacpool-lease-controller",
				LeaseDuration: metav1.Duration{Duration: time.Second}, RenewDeadline: metav1.Duration{Duration: 500 * time.Millisecond},
				RetryPeriod: metav1.Duration{Duration: 50 * time.Millisecond},
			}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := runLeaseController(ctx, settings, clients, config, nil); err != nil {
				t.Fatal(err)
			}

			watched := func(resource string) bool {
				for _, action := range kube.Actions() {
					if action.GetResource().Resource == resource && (action.GetVerb() == "list" || action.GetVerb() == "watch") {
						return true
					}
				}
				return false
			}
			triedLease := func() int {
				n := 0
				for _, action := range kube.Actions() {
					if get, ok := action.(clienttesting.GetAction); ok && get.GetResource().Resource == "leases" {
						n++
					}
				}
				return n
			}
			if tc.leads {
				err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
					return watched("mutatingwebhookconfigurations"), nil
				})
				if err != nil {
					t.Fatalf("the leader did not watch MutatingWebhookConfigurations: %v", err)
				}
				return
			}
			// Several attempts at the Lease, all refused.
			err = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
				return triedLease() >= 5, nil
			})
			if err != nil {
				t.Fatalf("the replica did not try the Lease: %v", err)
			}
			if watched("mutatingwebhookconfigurations") {
				t.Errorf("a replica that does not lead watches MutatingWebhookConfigurations")
			}
		})
	}
}
