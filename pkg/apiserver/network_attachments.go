package apiserver

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/networkattachment"
)

// networkAttachmentLabels builds the one informer of the process on
// NetworkAttachmentDefinitions, for the pools that select networks by
// label. It holds only their metadata, without managed fields: labels are
// all the allocator reads. The returned Labels starts it once the cluster
// serves the resource (see networkattachment.Labels.Run); the
// start-kubemacpool-informers hook runs it, and the webhooks and the lease
// controller read its cache. It is no factory's: Labels starts it on
// discovery, not with the other informers, and nothing else is watched
// as metadata.
func networkAttachmentLabels(clients *kubeClients) (*networkattachment.Labels, error) {
	informer := metadatainformer.NewFilteredMetadataInformer(clients.metadata, networkattachment.Resource, metav1.NamespaceAll,
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
	return networkattachment.New(informer, clients.metadata, networkattachment.Served(clients.kube.Discovery())), nil
}
