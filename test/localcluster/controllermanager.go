package localcluster

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// controllersToRun are the kube-controller-manager loops the product relies
// on: ClusterRole aggregation puts kubemacpool's rules into the built-in
// view/edit/admin roles, the namespace controller empties deleted
// namespaces (including their MacLeases, through discovery), the garbage
// collector honours ownerReferences, the serviceaccount controller makes
// the default ServiceAccount of each namespace, and the resource quota
// controller computes the usage of ResourceQuotas, MacLeases included
// (count/macleases.macpool.kubemacpool.io, found through discovery), which
// kubemacpool-apiserver's quota admission starts from. Nothing that needs
// nodes runs.
var controllersToRun = []string{
	"clusterrole-aggregation-controller",
	"namespace-controller",
	"garbage-collector-controller",
	"serviceaccount-controller",
	"resourcequota-controller",
}

func (c *Cluster) controllerManagerArgs() []string {
	return []string{
		"--kubeconfig=" + c.layout.controllerManagerKubeconfig(),
		"--controllers=" + strings.Join(controllersToRun, ","),
		"--leader-elect=false",
		// Nothing scrapes it; serving would need its own certificates.
		"--secure-port=0",
		"--use-service-account-credentials=false",
		// A quota created before the controller discovered MacLeases
		// (within 30 s of the start) is recounted only at this period;
		// the default 5m would stall the first quota of a fresh cluster.
		"--resource-quota-sync-period=15s",
	}
}

func (c *Cluster) startControllerManager(ctx context.Context) error {
	creds := kubeconfigCredentials{user: "system:kube-controller-manager", clientKey: c.pki.controllerManager}
	if err := c.writeKubeconfig(c.layout.controllerManagerKubeconfig(), creds); err != nil {
		return err
	}
	c.progress("starting kube-controller-manager (%s)", strings.Join(controllersToRun, ","))
	proc, err := startProcess("kube-controller-manager", filepath.Join(c.opts.BinDir, "kube-controller-manager"),
		c.controllerManagerArgs(), c.layout.log("kube-controller-manager"))
	if err != nil {
		return err
	}
	if err := c.track(&c.controllers, proc); err != nil {
		return err
	}
	// The aggregated view role gains its rules only once the aggregation
	// controller runs; its first pass is a sign the manager is working.
	return waitUntil(ctx, "kube-controller-manager to aggregate the view role", 2*time.Minute, proc, func(ctx context.Context) error {
		role, err := c.client.RbacV1().ClusterRoles().Get(ctx, "view", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(role.Rules) == 0 {
			return fmt.Errorf("the view ClusterRole has no aggregated rules yet")
		}
		return nil
	})
}
