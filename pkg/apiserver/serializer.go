package apiserver

import (
	"k8s.io/apimachinery/pkg/runtime"
)

// jsonAndYAMLOnly offers every media type of the codec factory but
// protobuf. The types of this group have no protobuf marshalling; clients
// such as kube-controller-manager ask for protobuf first and JSON next, and
// the server must then answer JSON instead of failing to encode.
type jsonAndYAMLOnly struct {
	runtime.NegotiatedSerializer
}

func (s jsonAndYAMLOnly) SupportedMediaTypes() []runtime.SerializerInfo {
	var supported []runtime.SerializerInfo
	for _, info := range s.NegotiatedSerializer.SupportedMediaTypes() {
		if info.MediaType != runtime.ContentTypeProtobuf {
			supported = append(supported, info)
		}
	}
	return supported
}
