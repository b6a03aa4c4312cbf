package apiserver

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	leasecontroller "kubemacpool.io/kubemacpool/pkg/controller/lease"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/pkg/generated/informers/externalversions"
	"kubemacpool.io/kubemacpool/pkg/networkattachment"
)

// kubeClients reach kube-apiserver; built once and shared by every
// component.
type kubeClients struct {
	kube     kubernetes.Interface
	dynamic  dynamic.Interface
	metadata metadata.Interface
}

func newKubeClients(config *restclient.Config) (*kubeClients, error) {
	if config == nil {
		return nil, fmt.Errorf("no client configuration of kube-apiserver (--kubeconfig or in-cluster)")
	}
	// Built-in types in protobuf, as kube-controller-manager asks for them:
	// every replica watches every Pod, and kube-apiserver then hands it the
	// serialization of each event that it already made for its other
	// protobuf watchers instead of encoding a JSON copy for this one, and
	// this server decodes protobuf instead of JSON.
	protobuf := restclient.CopyConfig(config)
	protobuf.ContentType = runtime.ContentTypeProtobuf
	protobuf.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	kube, err := kubernetes.NewForConfig(protobuf)
	if err != nil {
		return nil, fmt.Errorf("building the Kubernetes client: %w", err)
	}
	dynamicClient, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("building the dynamic client: %w", err)
	}
	metadataClient, err := metadata.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("building the metadata client: %w", err)
	}
	return &kubeClients{kube: kube, dynamic: dynamicClient, metadata: metadataClient}, nil
}

// sharedInformers are the informers every replica runs for as long as it
// serves, built once in New and started by the post-start hook
// start-kubemacpool-informers. Components take informers from here and
// never build their own factories. The exceptions, and why:
//   - the lease controller's MutatingWebhookConfigurations, and KubeVirt's
//     VMs and VMIs, are needed only by the leader: controller.go builds
//     them for each leadership term (VMs for each time KubeVirt is found
//     served), so that a replica that does not lead watches none of them,
//     and a stopped informer cannot be started again;
//   - the certificate manager watches three single objects by name
//     (pkg/certificate).
type sharedInformers struct {
	// kube is the generic server's factory (GenericConfig's
	// SharedInformerFactory): Namespaces for the allocator and the lease
	// controller, and what the admission plugins read (ResourceQuotas).
	kube informers.SharedInformerFactory
	// macpool holds MacPools for the allocator, the lease controller and
	// the admission plugins (ExtraConfig.MacInformers).
	macpool externalversions.SharedInformerFactory
	// leases holds every MacLease, as stored (internal objects shared with
	// the watch cache): the allocator's index and the lease controller both
	// follow it, so a lease is decoded and held once.
	leases cache.SharedIndexInformer
	// networks holds the NetworkAttachmentDefinitions' labels; it starts
	// its informer once discovery says they are served.
	networks *networkattachment.Labels
	// pods holds every Pod, slimmed to what the lease controller reads (a
	// transform is per factory, hence a factory of its own). Every replica
	// follows them, not only the leader: one that takes over must know the
	// Pods removed while another led (leasecontroller.PodEvents).
	pods informers.SharedInformerFactory
}

func newSharedInformers(config completedConfig, clients *kubeClients, leases cache.SharedIndexInformer) (*sharedInformers, error) {
	pools := config.ExtraConfig.MacInformers
	if pools == nil {
		client, err := versioned.NewForConfig(config.GenericConfig.LoopbackClientConfig)
		if err != nil {
			return nil, fmt.Errorf("building the loopback client of the MacPool informers: %w", err)
		}
		pools = externalversions.NewSharedInformerFactory(client, informerResync)
	}
	networks, err := networkAttachmentLabels(clients)
	if err != nil {
		return nil, err
	}
	return &sharedInformers{
		kube:     config.GenericConfig.SharedInformerFactory,
		macpool:  pools,
		leases:   leases,
		networks: networks,
		pods:     informers.NewSharedInformerFactoryWithOptions(clients.kube, informerResync, informers.WithTransform(leasecontroller.SlimPod)),
	}, nil
}

// start runs every shared informer until the server stops. A factory
// starts the informers requested from it so far: components request theirs
// in New, before any post-start hook runs.
func (i *sharedInformers) start(ctx genericapiserver.PostStartHookContext) error {
	i.kube.Start(ctx.Done())
	i.macpool.Start(ctx.Done())
	i.pods.Start(ctx.Done())
	go i.leases.RunWithContext(ctx)
	go i.networks.Run(ctx, 0)
	return nil
}
