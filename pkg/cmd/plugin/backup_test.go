package plugin

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
)

var podOwner = &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "web-0"}

// sourceObjects are a store with a pool, a Reserved lease with an expiry, a
// Bound lease with an owner reference and labels, a static reservation and
// a lease being deleted, all with the fields the server sets.
func sourceObjects() []runtime.Object {
	expires := metav1.NewTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	serverSet := func(l *v1alpha1.MacLease) {
		l.UID, l.ResourceVersion, l.Generation = types.UID("uid-"+l.Name), "42", 1
		l.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		l.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	}
	lab := pool("lab", 16, 3, "0e:00:00:00:00:00", "0e:00:00:00:00:0f")
	lab.UID, lab.ResourceVersion = "pool-uid", "7"
	lab.Labels = map[string]string{"team": "net"}
	return []runtime.Object{
		lab,
		lease("team-a", "0e:00:00:00:00:01", podOwner, inPool("lab", "default/bridge"), serverSet, func(l *v1alpha1.MacLease) {
			l.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseReserved, ExpiresAt: &expires}
		}),
		lease("team-a", "0e:00:00:00:00:02", podOwner, inPool("lab", "default/bridge"), serverSet, boundTo("pod-uid"), func(l *v1alpha1.MacLease) {
			l.Labels = map[string]string{"app": "web"}
			l.Annotations = map[string]string{"note": "kept"}
		}),
		lease("team-b", "0e:00:00:00:00:03", nil, inPool("lab", ""), serverSet),
		lease("team-b", "0e:00:00:00:00:04", podOwner, inPool("lab", ""), serverSet, func(l *v1alpha1.MacLease) {
			deleted := metav1.Now()
			l.DeletionTimestamp = &deleted
			l.Finalizers = []string{"hold"}
		}),
	}
}

func backupTo(t *testing.T, clientset *fake.Clientset, args ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "backup.yaml")
	_, errOut, code := run(t, clientset, "mine", append([]string{"backup", "-f", file}, args...)...)
	if code != 0 {
		t.Fatalf("backup: exit status %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "Backed up 1 MacPools and 3 MacLeases") {
		t.Errorf("backup summary %q, want 1 pool and 3 leases (the deleting one left out)", errOut)
	}
	return file
}

// stored returns the leases of clientset as restore compares them: without
// the fields the server sets.
func storedLeases(t *testing.T, clientset *fake.Clientset) map[string]v1alpha1.MacLease {
	t.Helper()
	list, err := clientset.MacpoolV1alpha1().MacLeases("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	leases := map[string]v1alpha1.MacLease{}
	for _, l := range list.Items {
		leases[l.Namespace+"/"+l.Name] = l
	}
	return leases
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	for _, format := range []string{"yaml", "json"} {
		t.Run(format, func(t *testing.T) {
			source := fake.NewClientset(sourceObjects()...)
			file := backupTo(t, source, "-o", format)
			onlyReads(t, source)
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, serverField := range []string{"uid-", "resourceVersion", "creationTimestamp", "managedFields", "generation", "capacity"} {
				if strings.Contains(string(data), serverField) {
					t.Errorf("the backup carries %q, which the server sets:\n%s", serverField, data)
				}
			}

			target := fakeTarget()
			out, errOut, code := run(t, target, "mine", "restore", "-f", file)
			if code != 0 {
				t.Fatalf("restore: exit status %d: %s", code, errOut)
			}
			wantSummary := "MacPools:  1 created, 0 updated, 0 unchanged, 0 conflicting, 0 failed\n" +
				"MacLeases: 3 created, 0 updated, 0 unchanged, 0 conflicting, 0 failed\n"
			if out != wantSummary {
				t.Errorf("summary %q, want %q", out, wantSummary)
			}

			restoredPool, err := target.MacpoolV1alpha1().MacPools().Get(context.Background(), "lab", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(restoredPool.Spec, sourceObjects()[0].(*v1alpha1.MacPool).Spec) || restoredPool.Labels["team"] != "net" {
				t.Errorf("restored pool %+v", restoredPool)
			}
			got := storedLeases(t, target)
			for _, object := range sourceObjects()[1:4] {
				want := object.(*v1alpha1.MacLease)
				key := want.Namespace + "/" + want.Name
				restored, ok := got[key]
				if !ok {
					t.Errorf("lease %s was not restored", key)
					continue
				}
				if !reflect.DeepEqual(restored.Spec, want.Spec) || !reflect.DeepEqual(restored.Labels, want.Labels) ||
					!reflect.DeepEqual(restored.Annotations, want.Annotations) || !reflect.DeepEqual(restored.OwnerReferences, want.OwnerReferences) ||
					restored.Status.Phase != want.Status.Phase || !restored.Status.ExpiresAt.Equal(want.Status.ExpiresAt) {
					t.Errorf("lease %s restored as\n%+v\nwant\n%+v", key, restored, want)
				}
				if restored.UID != "" || restored.ResourceVersion != "" || len(restored.ManagedFields) != 0 {
					t.Errorf("lease %s was restored with server-set fields %+v", key, restored.ObjectMeta)
				}
			}
			if len(got) != 3 {
				t.Errorf("restored %d leases, want 3 (the deleting one left out)", len(got))
			}

			// A second run changes nothing and succeeds.
			out, errOut, code = run(t, target, "mine", "restore", "-f", file)
			wantSummary = "MacPools:  0 created, 0 updated, 1 unchanged, 0 conflicting, 0 failed\n" +
				"MacLeases: 0 created, 0 updated, 3 unchanged, 0 conflicting, 0 failed\n"
			if code != 0 || out != wantSummary {
				t.Errorf("second restore: exit status %d, summary %q, stderr %q; want 0 and %q", code, out, errOut, wantSummary)
			}
		})
	}
}

func TestBackupToStandardOutput(t *testing.T) {
	source := fake.NewClientset(sourceObjects()...)
	out, errOut, code := run(t, source, "mine", "backup", "-f", "-", "--namespace", "team-b")
	if code != 0 {
		t.Fatalf("exit status %d: %s", code, errOut)
	}
	backup, err := readBackup(strings.NewReader(out), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	if pools, leases := backup.count(); pools != 1 || leases != 1 {
		t.Errorf("backup of team-b holds %d pools and %d leases, want 1 and 1:\n%s", pools, leases, out)
	}
}

func TestBackupErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		args   []string
		forbid string // the namespace whose lease list is forbidden
		want   string
	}{
		"no file":            {args: []string{"backup"}, want: "--filename is required"},
		"unknown format":     {args: []string{"backup", "-f", "-", "-o", "xml"}, want: `unknown output format "xml"`},
		"cluster-wide list":  {args: []string{"backup", "-f", "FILE"}, want: "kubectl auth can-i list macleases.macpool.kubemacpool.io -A"},
		"namespace list":     {args: []string{"backup", "-f", "FILE", "--namespace", "team-a"}, forbid: "team-a", want: "-n team-a"},
		"restore needs file": {args: []string{"restore"}, want: "--filename is required"},
	} {
		t.Run(name, func(t *testing.T) {
			clientset := fake.NewClientset(sourceObjects()...)
			forbid(clientset, "list", "macleases", tc.forbid)
			file := filepath.Join(t.TempDir(), "backup.yaml")
			for i := range tc.args {
				if tc.args[i] == "FILE" {
					tc.args[i] = file
				}
			}
			_, errOut, code := run(t, clientset, "mine", tc.args...)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit status %d, stderr %q; want 1 and %q", code, errOut, tc.want)
			}
			if _, err := os.Stat(file); !os.IsNotExist(err) {
				t.Errorf("a failed backup left %s behind (%v)", file, err)
			}
		})
	}
}

func TestRestoreRefusesDamagedFiles(t *testing.T) {
	for name, tc := range map[string]struct {
		content string
		want    string
	}{
		"not a list": {content: "apiVersion: v1\nkind: Pod\n", want: "not a backup of kubectl macpool"},
		"other group": {content: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: x}\n",
			want: `items[0]: apiVersion "v1" is not supported`},
		"other kind": {content: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: macpool.kubemacpool.io/v1alpha1\n  kind: Widget\n  metadata: {name: x}\n",
			want: `kind "Widget" is not supported`},
		"lease without namespace": {content: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: macpool.kubemacpool.io/v1alpha1\n  kind: MacLease\n  metadata: {name: 0e-00-00-00-00-01}\n",
			want: "has no metadata.namespace"},
		"unknown field": {content: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: macpool.kubemacpool.io/v1alpha1\n  kind: MacPool\n  metadata: {name: lab}\n  spec: {rangez: []}\n",
			want: `unknown field "rangez"`},
		// A good pool before a bad item: nothing is written.
		"bad second item": {content: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: macpool.kubemacpool.io/v1alpha1\n  kind: MacPool\n  metadata: {name: lab}\n- apiVersion: macpool.kubemacpool.io/v1alpha1\n  kind: MacLease\n  metadata: {}\n",
			want: "items[1]: metadata.name is empty"},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "backup.yaml")
			if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			clientset := fake.NewClientset()
			_, errOut, code := run(t, clientset, "mine", "restore", "-f", file)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit status %d, stderr %q; want 1 and %q", code, errOut, tc.want)
			}
			onlyReads(t, clientset)
		})
	}
}

// Existing objects that differ from the backup are conflicts, left alone,
// and the restore fails; the rest is restored.
func TestRestoreConflicts(t *testing.T) {
	file := backupTo(t, fake.NewClientset(sourceObjects()...))

	differentPool := pool("lab", 0, 0, "0e:00:00:00:00:00", "0e:00:00:00:00:01")
	otherOwner := lease("team-a", "0e:00:00:00:00:01", &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "intruder"}, inPool("lab", "default/bridge"))
	// What the controller adopts for a running pod: same owner and phase,
	// no pool, no labels.
	adopted := lease("team-a", "0e:00:00:00:00:02", podOwner, boundTo("pod-uid"))
	target := fakeTarget(differentPool, otherOwner, adopted)
	// The controller writes the adopted lease once between the restore's
	// read and its update: the update is retried on a fresh read.
	conflicts := 0
	target.PrependReactor("update", "macleases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		if conflicts++; conflicts == 1 {
			return true, nil, apierrors.NewConflict(v1alpha1.Resource("macleases"), "0e-00-00-00-00-02", errorString("the object has been modified"))
		}
		return false, nil, nil
	})
	// The address of team-b's static reservation is leased in another
	// namespace: create answers AlreadyExists, get in team-b NotFound.
	target.PrependReactor("create", "macleases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		created := action.(clienttesting.CreateAction).GetObject().(*v1alpha1.MacLease)
		if created.Name == "0e-00-00-00-00-03" {
			return true, nil, apierrors.NewAlreadyExists(v1alpha1.Resource("macleases"), created.Name)
		}
		return false, nil, nil
	})

	out, errOut, code := run(t, target, "mine", "restore", "-f", file)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	wantSummary := "MacPools:  0 created, 0 updated, 0 unchanged, 1 conflicting, 0 failed\n" +
		"MacLeases: 0 created, 1 updated, 0 unchanged, 2 conflicting, 0 failed\n"
	if out != wantSummary {
		t.Errorf("summary %q, want %q", out, wantSummary)
	}
	for _, want := range []string{
		"MacPool lab: exists with another spec; left as is (use --overwrite-pools",
		"MacLease team-a/0e-00-00-00-00-01: exists with another owner or phase (owner Pod/intruder, phase \"\"); left as is",
		"MacLease team-b/0e-00-00-00-00-03: the address 0e:00:00:00:00:03 is leased in another namespace",
		"error: 3 of 4 objects were not restored",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
	if got := storedLeases(t, target)["team-a/0e-00-00-00-00-01"]; got.Spec.Owner.Name != "intruder" {
		t.Errorf("the conflicting lease was changed: %+v", got)
	}
	if got := storedLeases(t, target)["team-a/0e-00-00-00-00-02"]; got.Spec.Pool != "lab" || got.Spec.Interface != "default/bridge" ||
		got.Labels["app"] != "web" || got.Status.Phase != v1alpha1.MacLeasePhaseBound {
		t.Errorf("the adopted lease was not completed from the backup: %+v", got)
	}

	// --overwrite-pools replaces the pool's spec.
	out, _, _ = run(t, target, "mine", "restore", "-f", file, "--overwrite-pools")
	if !strings.HasPrefix(out, "MacPools:  0 created, 1 updated,") {
		t.Errorf("summary with --overwrite-pools %q, want the pool updated", out)
	}
	restored, err := target.MacpoolV1alpha1().MacPools().Get(context.Background(), "lab", metav1.GetOptions{})
	if err != nil || !reflect.DeepEqual(restored.Spec, sourceObjects()[0].(*v1alpha1.MacPool).Spec) {
		t.Errorf("pool after --overwrite-pools: %+v, %v", restored, err)
	}
}

// MacLeaseReservationScope refuses a lease of a pool its cache has not seen
// yet; restore retries that refusal when it created the pool, and never an
// RBAC refusal.
func TestRestoreRetriesScopeRefusalsOnly(t *testing.T) {
	defer func(old time.Duration) { scopeRetryTimeout = old }(scopeRetryTimeout)
	scopeRetryTimeout = 5 * time.Second
	file := backupTo(t, fake.NewClientset(sourceObjects()...))

	target := fakeTarget()
	attempts := map[string]int{}
	target.PrependReactor("create", "macleases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		created := action.(clienttesting.CreateAction).GetObject().(*v1alpha1.MacLease)
		attempts[created.Name]++
		gr := schema.GroupResource{Group: v1alpha1.GroupName, Resource: "macleases"}
		switch {
		case created.Namespace == "team-b":
			return true, nil, apierrors.NewForbidden(gr, created.Name, errorString(`User "mine" cannot create resource "macleases"`))
		case attempts[created.Name] < 3:
			return true, nil, apierrors.NewForbidden(gr, created.Name, errorString("spec.macAddress: not in a pool that serves namespace team-a"))
		}
		return false, nil, nil
	})
	out, errOut, code := run(t, target, "mine", "restore", "-f", file)
	if code != 1 || !strings.Contains(out, "MacLeases: 2 created, 0 updated, 0 unchanged, 0 conflicting, 1 failed") {
		t.Errorf("exit status %d, summary %q, stderr %q; want team-a's leases created after retries and team-b's refused", code, out, errOut)
	}
	if attempts["0e-00-00-00-00-01"] != 3 || attempts["0e-00-00-00-00-03"] != 1 {
		t.Errorf("attempts %v: want 3 for a scope refusal, 1 for an RBAC refusal", attempts)
	}
	if !strings.Contains(errOut, "you may not create macleases.macpool.kubemacpool.io in namespace team-b") {
		t.Errorf("stderr %q does not name the missing right", errOut)
	}
}

// MacLeaseReservationScope's refusal of an excluded address names
// spec.macAddress too, but no retry gives the caller macleases/exclude: one
// attempt, and the server's reason rather than "restore the pools first".
func TestRestoreDoesNotRetryExcludedRefusals(t *testing.T) {
	defer func(old time.Duration) { scopeRetryTimeout = old }(scopeRetryTimeout)
	scopeRetryTimeout = 5 * time.Second
	file := backupTo(t, fake.NewClientset(sourceObjects()...))

	target := fakeTarget()
	attempts := map[string]int{}
	const refusal = `spec.macAddress: 0e:00:00:00:00:03 is in spec.exclude of MacPool "lab"; reserving an excluded address takes create permission on macleases/exclude in namespace "team-b", which cluster administrators have`
	target.PrependReactor("create", "macleases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		created := action.(clienttesting.CreateAction).GetObject().(*v1alpha1.MacLease)
		attempts[created.Name]++
		if created.Name == "0e-00-00-00-00-03" {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: v1alpha1.GroupName, Resource: "macleases"}, created.Name, errorString(refusal))
		}
		return false, nil, nil
	})
	out, errOut, code := run(t, target, "mine", "restore", "-f", file)
	if code != 1 || !strings.Contains(out, "1 failed") {
		t.Errorf("exit status %d, summary %q; want the excluded lease failed", code, out)
	}
	if attempts["0e-00-00-00-00-03"] != 1 {
		t.Errorf("attempts %v: want 1 for a refusal of an excluded address", attempts)
	}
	if !strings.Contains(errOut, "macleases/exclude") || strings.Contains(errOut, "restore the pools first") || strings.Contains(errOut, "auth can-i") {
		t.Errorf("stderr %q: want the server's reason, not a missing pool", errOut)
	}
}

// fakeTarget is a clientset to restore into. NewClientset's tracker
// applies managed fields, which needs OpenAPI models the generated fake does
// not have, so creates go through the simple tracker.
//
//nolint:staticcheck // NewSimpleClientset: see above.
func fakeTarget(objects ...runtime.Object) *fake.Clientset {
	return fake.NewSimpleClientset(objects...)
}

type errorString string

func (e errorString) Error() string { return string(e) }

// A caller who may not create pools (a tenant restoring their namespace)
// sees a pool that is there as backed up as unchanged, and one that is
// missing as the right they lack.
func TestRestorePoolsWithoutTheRightToCreate(t *testing.T) {
	file := backupTo(t, fake.NewClientset(sourceObjects()...))
	for name, tc := range map[string]struct {
		objects []runtime.Object
		summary string
		code    int
	}{
		"pool there":   {objects: []runtime.Object{sourceObjects()[0]}, summary: "MacPools:  0 created, 0 updated, 1 unchanged, 0 conflicting, 0 failed", code: 0},
		"pool missing": {summary: "MacPools:  0 created, 0 updated, 0 unchanged, 0 conflicting, 1 failed", code: 1},
	} {
		t.Run(name, func(t *testing.T) {
			target := fakeTarget(tc.objects...)
			forbid(target, "create", "macpools", "")
			out, errOut, code := run(t, target, "mine", "restore", "-f", file)
			if code != tc.code || !strings.Contains(out, tc.summary) {
				t.Errorf("exit status %d, summary %q, stderr %q; want %d and %q", code, out, errOut, tc.code, tc.summary)
			}
			if tc.code != 0 && !strings.Contains(errOut, "MacPool lab: you may not create macpools.macpool.kubemacpool.io") {
				t.Errorf("stderr %q does not name the missing right", errOut)
			}
		})
	}
}

// The backup names every lease's owner: it is written readable by its owner
// only, through a temporary file of its own, whatever another user put at a
// predictable name next to it, and nothing is left behind.
func TestBackupFileIsPrivate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "backup.yaml")
	planted := file + ".tmp"
	if err := os.WriteFile(planted, []byte("planted"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(planted, 0o666); err != nil {
		t.Fatal(err)
	}
	source := fake.NewClientset(sourceObjects()...)
	if _, errOut, code := run(t, source, "mine", "backup", "-f", file); code != 0 {
		t.Fatalf("exit status %d: %s", code, errOut)
	}
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("backup written with mode %v, want 0600", mode)
	}
	if data, err := os.ReadFile(planted); err != nil || string(data) != "planted" {
		t.Errorf("the file at the old temporary name was used: %q, %v", data, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("files left in the directory: %v", entries)
	}
}
