package macpool

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// networksCell prints spec.networkSelector as its references, then the
// label selector as labels:<selector>; labels:<all> for the empty selector,
// which matches every NetworkAttachmentDefinition.
func networksCell(selector *macpool.NetworkSelector) string {
	if selector == nil {
		return ""
	}
	var parts []string
	for _, reference := range selector.Networks {
		parts = append(parts, reference.Namespace+"/"+reference.Name)
	}
	if selector.LabelSelector != nil {
		text := metav1.FormatLabelSelector(selector.LabelSelector)
		if len(selector.LabelSelector.MatchLabels) == 0 && len(selector.LabelSelector.MatchExpressions) == 0 {
			text = "<all>"
		}
		parts = append(parts, "labels:"+text)
	}
	return strings.Join(parts, ",")
}
