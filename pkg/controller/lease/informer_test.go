package lease

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/pkg/kubevirt"
)

// internalLeaseInformer is the informer the server shares with the
// controller (internal MacLeases), fed here from a fake clientset.
func internalLeaseInformer(client versioned.Interface) cache.SharedIndexInformer {
	toInternal := func(obj runtime.Object) (runtime.Object, error) {
		out := &macpool.MacLease{}
		if err := v1alpha1.Convert_v1alpha1_MacLease_To_macpool_MacLease(obj.(*v1alpha1.MacLease), out, nil); err != nil {
			return nil, fmt.Errorf("converting a lease: %w", err)
		}
		return out, nil
	}
	listWatch := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, options metav1.ListOptions) (runtime.Object, error) {
			list, err := client.MacpoolV1alpha1().MacLeases(metav1.NamespaceAll).List(ctx, options)
			if err != nil {
				return nil, err
			}
			out := &macpool.MacLeaseList{ListMeta: list.ListMeta}
			for i := range list.Items {
				lease, err := toInternal(&list.Items[i])
				if err != nil {
					return nil, err
				}
				out.Items = append(out.Items, *lease.(*macpool.MacLease))
			}
			return out, nil
		},
		WatchFuncWithContext: func(ctx context.Context, options metav1.ListOptions) (watch.Interface, error) {
			w, err := client.MacpoolV1alpha1().MacLeases(metav1.NamespaceAll).Watch(ctx, options)
			if err != nil {
				return nil, err
			}
			return watch.Filter(w, func(event watch.Event) (watch.Event, bool) {
				if lease, ok := event.Object.(*v1alpha1.MacLease); ok {
					converted, err := toInternal(lease)
					if err != nil {
						return event, false
					}
					event.Object = converted
				}
				return event, true
			}), nil
		},
	}
	return cache.NewSharedIndexInformer(listFirst{listWatch}, &macpool.MacLease{}, 0, cache.Indexers{})
}

// listFirst makes the reflector list, then watch: the fake clientset sends
// no bookmark that ends a streamed list.
type listFirst struct{ *cache.ListWatch }

func (listFirst) IsWatchListSemanticsUnSupported() bool { return true }

// withInformers gives config the Namespace, Pod and webhook configuration
// informers the server's assembly gives it, on config.Kube, and returns
// what starts them.
func withInformers(config Config) (Config, func(stop <-chan struct{})) {
	factory := informers.NewSharedInformerFactoryWithOptions(config.Kube, 0, informers.WithTransform(SlimPod))
	config.Namespaces = factory.Core().V1().Namespaces().Informer()
	config.Pods = factory.Core().V1().Pods().Informer()
	config.WebhookConfigurations = factory.Admissionregistration().V1().MutatingWebhookConfigurations().Informer()
	return config, factory.Start
}

// dynamicKubeVirtInformers builds each generation of VM and VMI informers
// on client, as the server's assembly does.
func dynamicKubeVirtInformers(client dynamic.Interface) KubeVirtInformers {
	return func(ctx context.Context) (cache.SharedIndexInformer, cache.SharedIndexInformer, func()) {
		factory := dynamicinformer.NewDynamicSharedInformerFactory(client, 0)
		vms := factory.ForResource(kubevirt.VirtualMachines).Informer()
		vmis := factory.ForResource(kubevirt.VirtualMachineInstances).Informer()
		return vms, vmis, func() { factory.Start(ctx.Done()) }
	}
}
