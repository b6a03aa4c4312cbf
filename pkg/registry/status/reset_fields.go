package status

import (
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// MainResetFields are the fields an update of the main resource of
// apiVersion leaves as they are: the status, which the subresource owns.
func MainResetFields(apiVersion string) map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(apiVersion): fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

// SubresourceResetFields are the fields a status update leaves as they are.
func SubresourceResetFields(apiVersion string) map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(apiVersion): fieldpath.NewSet(
			fieldpath.MakePathOrDie("spec"),
			fieldpath.MakePathOrDie("metadata", "labels"),
			fieldpath.MakePathOrDie("metadata", "annotations"),
		),
	}
}
