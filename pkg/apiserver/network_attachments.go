package apiserver

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/networkattachment"
)

// networkAttachmentLabels builds the one informer of the process on
// NetworkAttachmentDefinitions, for the pools that select networks by
// label. It holds only their metadata, without managed fields: labels are
// all the allocator reads. The returned Labels starts it once the cluster
// serves the resource (see networkattachment.Labels.Run); the webhooks'
// post-start hook runs it, and the lease controller reads its cache.
func networkAttachmentLabels(config completedConfig) (*networkattachment.Labels, error) {
	kube, err := kubernetes.NewForConfig(config.ExtraConfig.KubeClientConfig)
	if err != nil {
		return nil, fmt.Errorf("building the discovery client of NetworkAttachmentDefinitions: %w", err)
	}
	client, err := metadata.NewForConfig(config.ExtraConfig.KubeClientConfig)
	if err != nil {
		return nil, fmt.Errorf("building the metadata client of NetworkAttachmentDefinitions: %w", err)
	}
	informer := metadatainformer.NewFilteredMetadataInformer(client, networkattachment.Resource, metav1.NamespaceAll,
		informerResync, cache.Indexers{}, nil).Informer()
	if err := informer.SetTransform(func(obj interface{}) (interface{}, error) {
		if object, ok := obj.(metav1.Object); ok {
			object.SetManagedFields(nil)
			object.SetAnnotations(nil)
		}
		return obj, nil
	}); err != nil {
		return nil, fmt.Errorf("trimming NetworkAttachmentDefinitions: %w", err)
	}
	return networkattachment.New(informer, client, networkattachment.Served(kube.Discovery())), nil
}
