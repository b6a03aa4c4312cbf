package apiserver

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapiserver "k8s.io/apiserver/pkg/server"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/klog/v2"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
)

// defaultPoolHook creates the default pool through the server's own API, so
// that it is validated and stored like any pool a user creates.
type defaultPoolHook struct {
	// spec is the pool from the flags; without ranges, the pool takes the
	// cluster's own range (ClusterRange).
	spec macpool.MacPoolSpec
	// namespaces reads the cluster's identity; nil (no kube-apiserver to
	// ask) gives a pool without configured ranges the original's range.
	namespaces typedcorev1.NamespacesGetter
}

// originalRange is the original Kubemacpool's default range.
var originalRange = v1alpha1.MACRange{Start: "02:00:00:00:00:00", End: "02:ff:ff:ff:ff:ff"}

func (h defaultPoolHook) run(ctx genericapiserver.PostStartHookContext) error {
	client, err := versioned.NewForConfig(ctx.LoopbackClientConfig)
	if err != nil {
		return fmt.Errorf("building the loopback client: %w", err)
	}
	pool := &v1alpha1.MacPool{ObjectMeta: metav1.ObjectMeta{Name: macpool.DefaultPoolName}}
	for _, r := range h.spec.Ranges {
		pool.Spec.Ranges = append(pool.Spec.Ranges, v1alpha1.MACRange{Start: r.Start, End: r.End})
	}
	pool.Spec.ConflictPolicy = v1alpha1.ConflictPolicy(h.spec.ConflictPolicy)

	// Several replicas may start at once: AlreadyExists means another one won.
	// Until storage answers, keep trying; /readyz reports this hook meanwhile.
	// The pool is written once: an existing one is never changed, so every
	// replica and restart keeps the range it was created with.
	err = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		if _, err := client.MacpoolV1alpha1().MacPools().Get(ctx, macpool.DefaultPoolName, metav1.GetOptions{}); err == nil {
			return true, nil
		}
		if len(h.spec.Ranges) == 0 {
			if h.namespaces == nil {
				klog.InfoS("No --range-start/--range-end and no kube-apiserver to read the cluster's identity from: the default MacPool takes the original's range", "range", originalRange)
				pool.Spec.Ranges = []v1alpha1.MACRange{originalRange}
			} else {
				r, err := clusterRange(ctx, h.namespaces)
				if err != nil {
					klog.ErrorS(err, "Deriving the default MacPool's range, retrying")
					return false, nil
				}
				pool.Spec.Ranges = []v1alpha1.MACRange{r}
			}
		}
		_, err := client.MacpoolV1alpha1().MacPools().Create(ctx, pool, metav1.CreateOptions{})
		switch {
		case err == nil:
			klog.InfoS("Created the default MacPool", "ranges", pool.Spec.Ranges, "fromFlags", len(h.spec.Ranges) > 0)
			return true, nil
		case apierrors.IsAlreadyExists(err):
			return true, nil
		case apierrors.IsInvalid(err):
			return false, fmt.Errorf("the default MacPool from --range-start/--range-end is invalid: %w", err)
		default:
			klog.ErrorS(err, "Creating the default MacPool failed, retrying")
			return false, nil
		}
	})
	// A stop before the pool exists is a shutdown, not a failed start: the
	// generic server would exit hard on a failed hook instead of draining.
	if err != nil && ctx.Err() != nil {
		klog.InfoS("Stopped before the default MacPool was created")
		return nil
	}
	return err
}
