package plugin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	clienttesting "k8s.io/client-go/testing"

	"kubemacpool.io/kubemacpool/pkg/admission/leaseprotection"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
)

const (
	backedUpHolds = `[{"node":"old-node","pod":"web-0","stoppedBy":"2026-01-01T00:00:00Z"}]`
	liveHolds     = `[{"node":"node-1","pod":"web-0","stoppedBy":"2026-12-01T18:00:00Z"}]`
)

// refuseNodeHoldChanges answers as MacLeaseProtection does a tenant, who may
// not update macleases/finalizers: a create that sets node holds, and an
// update that sets, changes or removes them, are Forbidden.
func refuseNodeHoldChanges(target *fake.Clientset) *[]string {
	var refused []string
	target.PrependReactor("create", "macleases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		created := action.(clienttesting.CreateAction).GetObject().(*v1alpha1.MacLease)
		if _, found := created.Annotations[macpool.NodeHoldsAnnotation]; found {
			refused = append(refused, "create "+created.Name)
			return true, nil, apierrors.NewForbidden(v1alpha1.Resource("macleases"), created.Name,
				fmt.Errorf("metadata.annotations[%s]: setting, changing or removing it takes update permission on macleases/finalizers", macpool.NodeHoldsAnnotation))
		}
		return false, nil, nil
	})
	target.PrependReactor("update", "macleases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		updated := action.(clienttesting.UpdateAction).GetObject().(*v1alpha1.MacLease)
		stored, err := target.Tracker().Get(v1alpha1.Resource("macleases").WithVersion("v1alpha1"), updated.Namespace, updated.Name)
		if err != nil {
			return false, nil, nil
		}
		before, had := stored.(*v1alpha1.MacLease).Annotations[macpool.NodeHoldsAnnotation]
		after, has := updated.Annotations[macpool.NodeHoldsAnnotation]
		if had != has || before != after {
			refused = append(refused, "update "+updated.Name)
			return true, nil, apierrors.NewForbidden(v1alpha1.Resource("macleases"), updated.Name,
				fmt.Errorf("metadata.annotations[%s]: setting, changing or removing it takes update permission on macleases/finalizers", macpool.NodeHoldsAnnotation))
		}
		return false, nil, nil
	})
	return &refused
}

// Node holds are the lease controller's record that a node may still run a
// removed Pod with the lease's MAC. A restore brings back the backup's on a
// lease it creates, for whoever may write them (after the server's storage
// was lost, the MAC would otherwise be leased again while such a Pod may
// still run); a tenant, whom MacLeaseProtection refuses them, gets the
// lease without them and a warning, not a failure. It neither drops nor
// replaces the holds the controller wrote on a lease that exists.
func TestRestoreKeepsNodeHolds(t *testing.T) {
	withHolds := func(holds string) func(*v1alpha1.MacLease) {
		return func(l *v1alpha1.MacLease) {
			l.Annotations = map[string]string{"note": "kept", macpool.NodeHoldsAnnotation: holds}
		}
	}
	// A Retained lease of a Pod force-deleted once keeps its holds; backups
	// leave out only leases being deleted.
	source := fake.NewClientset(pool("lab", 16, 3, "0e:00:00:00:00:00", "0e:00:00:00:00:0f"),
		lease("team-a", "0e:00:00:00:00:01", podOwner, inPool("lab", ""), withHolds(backedUpHolds), func(l *v1alpha1.MacLease) {
			l.Status.Phase = v1alpha1.MacLeasePhaseRetained
		}),
		lease("team-a", "0e:00:00:00:00:02", podOwner, inPool("lab", "default/bridge"), boundTo("pod-uid"), func(l *v1alpha1.MacLease) {
			l.Annotations = map[string]string{"note": "kept"}
		}),
		lease("team-a", "0e:00:00:00:00:03", podOwner, inPool("lab", "default/bridge"), boundTo("pod-uid"), withHolds(backedUpHolds)))
	file := backupTo(t, source)

	for _, tenant := range []bool{true, false} {
		t.Run(fmt.Sprintf("tenant %v", tenant), func(t *testing.T) { restoreBesideNodeHolds(t, file, tenant) })
	}
}

func restoreBesideNodeHolds(t *testing.T, file string, tenant bool) {
	// In the target the controller adopted the second and third leases and
	// recorded a hold on each: their Pods were force-deleted on node-1.
	target := fakeTarget(
		lease("team-a", "0e:00:00:00:00:02", podOwner, boundTo("pod-uid"), func(l *v1alpha1.MacLease) {
			l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: liveHolds}
		}),
		lease("team-a", "0e:00:00:00:00:03", podOwner, boundTo("pod-uid"), func(l *v1alpha1.MacLease) {
			l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: liveHolds}
		}))
	refused := &[]string{}
	if tenant {
		refused = refuseNodeHoldChanges(target)
	}
	out, errOut, code := run(t, target, "mine", "restore", "-f", file)
	wantRefused := []string(nil)
	if tenant {
		// Each lease with holds in the backup is tried once with them,
		// then without (the third exists: it is updated, keeping its own).
		wantRefused = []string{"create 0e-00-00-00-00-01", "create 0e-00-00-00-00-03"}
		if want := "MacLease team-a/0e-00-00-00-00-01: restored without its node holds " + backedUpHolds; !strings.Contains(errOut, want) {
			t.Errorf("stderr %q, want the warning %q", errOut, want)
		}
	}
	if code != 0 || !slices.Equal(*refused, wantRefused) {
		t.Errorf("restore: exit status %d, refused %v, stderr %q; want 0 and %v refused", code, *refused, errOut, wantRefused)
	}
	if want := "MacLeases: 1 created, 2 updated, 0 unchanged, 0 conflicting, 0 failed\n"; !strings.Contains(out, want) {
		t.Errorf("summary %q, want %q", out, want)
	}
	stored := storedLeases(t, target)
	wantHolds := backedUpHolds
	if tenant {
		wantHolds = ""
	}
	if got := stored["team-a/0e-00-00-00-00-01"].Annotations; got["note"] != "kept" || got[macpool.NodeHoldsAnnotation] != wantHolds {
		t.Errorf("created lease's annotations %v: want the backup's, with its node holds %q", got, wantHolds)
	}
	for _, name := range []string{"team-a/0e-00-00-00-00-02", "team-a/0e-00-00-00-00-03"} {
		if got := stored[name].Annotations; got["note"] != "kept" || got[macpool.NodeHoldsAnnotation] != liveHolds {
			t.Errorf("lease %s's annotations %v: want the backup's note and the controller's node holds", name, got)
		}
	}

	// Again: nothing left to change.
	out, errOut, code = run(t, target, "mine", "restore", "-f", file)
	if want := "MacLeases: 0 created, 0 updated, 3 unchanged, 0 conflicting, 0 failed\n"; code != 0 || !strings.Contains(out, want) {
		t.Errorf("second restore: exit status %d, summary %q, stderr %q; want 0 and %q", code, out, errOut, want)
	}
}

// Only MacLeaseProtection's refusal of the holds, for want of update on
// macleases/finalizers, is answered by a create without them. A 403 that
// names the annotation for another reason (a ValidatingAdmissionPolicy or a
// webhook of the cluster's) is a failure like any other: the caller may
// write holds, and a lease created without them would let the MAC go while
// a node may still run the removed Pod, with a warning that blames a
// permission the caller has.
func TestRestoreFailsOnAnotherRefusalThatNamesNodeHolds(t *testing.T) {
	source := fake.NewClientset(pool("lab", 16, 1, "0e:00:00:00:00:00", "0e:00:00:00:00:0f"),
		lease("team-a", "0e:00:00:00:00:01", podOwner, inPool("lab", ""), func(l *v1alpha1.MacLease) {
			l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: backedUpHolds}
			l.Status.Phase = v1alpha1.MacLeasePhaseRetained
		}),
		lease("team-a", "0e:00:00:00:00:02", podOwner, inPool("lab", "")),
		lease("team-a", "0e:00:00:00:00:03", podOwner, inPool("lab", "")))
	file := backupTo(t, source)

	target := fakeTarget()
	const policy = `ValidatingAdmissionPolicy 'frozen' with binding 'frozen' denied request: ` +
		`metadata.annotations[macpool.kubemacpool.io/node-holds] may not be written while the cluster is frozen`
	var tried []string
	target.PrependReactor("create", "macleases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		created := action.(clienttesting.CreateAction).GetObject().(*v1alpha1.MacLease)
		_, held := created.Annotations[macpool.NodeHoldsAnnotation]
		if created.Name != "0e-00-00-00-00-01" {
			return false, nil, nil
		}
		tried = append(tried, fmt.Sprintf("create %s holds %v", created.Name, held))
		if !held {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(v1alpha1.Resource("macleases"), created.Name, fmt.Errorf("%s", policy))
	})
	out, errOut, code := run(t, target, "mine", "restore", "-f", file)
	if code != 1 || !strings.Contains(out, "2 created, 0 updated, 0 unchanged, 0 conflicting, 1 failed") {
		t.Errorf("restore: exit status %d, stdout %q; want 1 and the lease failed", code, out)
	}
	if !strings.Contains(errOut, "may not be written while the cluster is frozen") || strings.Contains(errOut, "restored without its node holds") {
		t.Errorf("stderr %q: want the policy's refusal, and no word of a restore without holds", errOut)
	}
	if want := []string{"create 0e-00-00-00-00-01 holds true"}; !slices.Equal(tried, want) {
		t.Errorf("creates %v, want %v: no create without the holds", tried, want)
	}
}

// refusedNodeHolds knows MacLeaseProtection's refusal by its wording: the
// plugin's words and the admission's stay the same.
func TestRefusedNodeHoldsKnowsMacLeaseProtection(t *testing.T) {
	plugin := leaseprotection.New()
	plugin.SetAuthorizer(authorizer.AuthorizerFunc(func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
		return authorizer.DecisionNoOpinion, "no RBAC policy matched", nil
	}))
	created := &macpool.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: "0e-00-00-00-00-01", Namespace: "team-a",
			Annotations: map[string]string{macpool.NodeHoldsAnnotation: backedUpHolds}},
		Spec: macpool.MacLeaseSpec{MACAddress: "0e:00:00:00:00:01"},
	}
	a := admission.NewAttributesRecord(created, nil, macpool.SchemeGroupVersion.WithKind("MacLease"), created.Namespace, created.Name,
		v1alpha1.SchemeGroupVersion.WithResource("macleases"), "", admission.Create, &metav1.CreateOptions{}, false,
		&user.DefaultInfo{Name: "tenant"})
	err := plugin.Validate(context.Background(), a, nil)
	if !refusedNodeHolds(err) {
		t.Errorf("refusedNodeHolds(%v) = false, want true", err)
	}
}
