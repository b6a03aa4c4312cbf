package validation

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

const duplicate = string(field.ErrorTypeDuplicate)

func TestValidateNetworkSelector(t *testing.T) {
	storage := macpool.NetworkReference{Namespace: "infra", Name: "storage"}
	tests := []struct {
		name     string
		selector *macpool.NetworkSelector
		want     []string
	}{
		{name: "no selector"},
		{name: "references", selector: &macpool.NetworkSelector{Networks: []macpool.NetworkReference{
			storage, {Namespace: "infra", Name: "backup.v2"}}}},
		{name: "label selector", selector: &macpool.NetworkSelector{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "storage"}}}},
		{name: "empty label selector selects every network", selector: &macpool.NetworkSelector{LabelSelector: &metav1.LabelSelector{}}},
		{name: "references and labels", selector: &macpool.NetworkSelector{Networks: []macpool.NetworkReference{storage},
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "storage"}}}},

		{name: "empty selector", selector: &macpool.NetworkSelector{},
			want: []string{required + " spec.networkSelector"}},
		{name: "reference without namespace and name", selector: &macpool.NetworkSelector{Networks: []macpool.NetworkReference{{}}},
			want: []string{required + " spec.networkSelector.networks[0].namespace", required + " spec.networkSelector.networks[0].name"}},
		{name: "namespace not a DNS label", selector: &macpool.NetworkSelector{Networks: []macpool.NetworkReference{
			storage, {Namespace: "in.fra", Name: "storage"}}},
			want: []string{invalid + " spec.networkSelector.networks[1].namespace"}},
		{name: "name not a DNS subdomain", selector: &macpool.NetworkSelector{Networks: []macpool.NetworkReference{
			{Namespace: "infra", Name: "Storage/net"}}},
			want: []string{invalid + " spec.networkSelector.networks[0].name"}},
		{name: "repeated reference", selector: &macpool.NetworkSelector{Networks: []macpool.NetworkReference{storage, storage}},
			want: []string{duplicate + " spec.networkSelector.networks[1]"}},
		{name: "label selector invalid", selector: &macpool.NetworkSelector{LabelSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn}}}},
			want: []string{required + " spec.networkSelector.labelSelector.matchExpressions[0].values"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := validPool()
			pool.Spec.NetworkSelector = tc.selector
			expectErrors(t, ValidateMacPool(pool), tc.want...)
		})
	}
}
