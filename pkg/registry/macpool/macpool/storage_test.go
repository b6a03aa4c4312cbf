package macpool

import (
	"context"
	"reflect"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistrytest "k8s.io/apiserver/pkg/registry/generic/testing"
	"k8s.io/apiserver/pkg/registry/rest"
	etcd3testing "k8s.io/apiserver/pkg/storage/etcd3/testing"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/registry/status"
)

// newStorage serves MacPools from a fresh etcd that lives as long as the
// test, encoded as v1alpha1 as the server stores them.
func newStorage(t *testing.T) (*REST, *status.REST) {
	t.Helper()
	scheme := newScheme(t)
	_, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	config.Codec = serializer.NewCodecFactory(scheme).LegacyCodec(v1alpha1.SchemeGroupVersion)
	options := generic.RESTOptions{
		StorageConfig:           config.ForResource(macpool.Resource("macpools")),
		Decorator:               generic.UndecoratedStorage,
		DeleteCollectionWorkers: 1,
		ResourcePrefix:          "macpools",
	}
	pools, poolStatus, err := NewStorage(scheme, options)
	if err != nil {
		t.Fatalf("NewStorage: %v", err)
	}
	t.Cleanup(pools.Store.DestroyFunc)
	return pools, poolStatus
}

// validNewPool is a pool as the tester wants it: no resourceVersion, any name.
func validNewPool() *macpool.MacPool {
	return &macpool.MacPool{
		ObjectMeta: metav1.ObjectMeta{Name: "foo", Labels: map[string]string{"team": "lab", "tier": "test"}},
		Spec: macpool.MacPoolSpec{
			Ranges:         []macpool.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:ff"}},
			ConflictPolicy: macpool.ConflictPolicyWarn,
		},
	}
}

func TestCreate(t *testing.T) {
	pools, _ := newStorage(t)
	test := genericregistrytest.New(t, pools.Store).ClusterScope()
	noRanges := validNewPool()
	noRanges.Spec.Ranges = nil
	overlapping := validNewPool()
	overlapping.Spec.Ranges = append(overlapping.Spec.Ranges, macpool.MACRange{Start: "02:00:00:00:00:80", End: "02:00:00:00:01:00"})
	badPolicy := validNewPool()
	badPolicy.Spec.ConflictPolicy = "Deny"
	test.TestCreate(validNewPool(), noRanges, overlapping, badPolicy)
}

func TestUpdate(t *testing.T) {
	pools, _ := newStorage(t)
	test := genericregistrytest.New(t, pools.Store).ClusterScope()
	test.TestUpdate(validNewPool(),
		func(obj runtime.Object) runtime.Object {
			pool := obj.(*macpool.MacPool)
			pool.Spec.Ranges = append(pool.Spec.Ranges, macpool.MACRange{Start: "0a:00:00:00:00:00", End: "0a:00:00:00:00:ff"})
			pool.Spec.ConflictPolicy = macpool.ConflictPolicyReject
			return pool
		},
		func(obj runtime.Object) runtime.Object {
			pool := obj.(*macpool.MacPool)
			pool.Spec.Ranges[0].End = "01:00:00:00:00:00"
			return pool
		},
		func(obj runtime.Object) runtime.Object {
			pool := obj.(*macpool.MacPool)
			pool.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"bad key": "x"}}
			return pool
		},
	)
}

func TestDelete(t *testing.T) {
	pools, _ := newStorage(t)
	genericregistrytest.New(t, pools.Store).ClusterScope().TestDelete(validNewPool())
}

func TestGet(t *testing.T) {
	pools, _ := newStorage(t)
	genericregistrytest.New(t, pools.Store).ClusterScope().TestGet(validNewPool())
}

func TestList(t *testing.T) {
	pools, _ := newStorage(t)
	genericregistrytest.New(t, pools.Store).ClusterScope().TestList(validNewPool())
}

func TestWatch(t *testing.T) {
	pools, _ := newStorage(t)
	genericregistrytest.New(t, pools.Store).ClusterScope().TestWatch(validNewPool(),
		[]labels.Set{{"team": "lab"}, {"tier": "test"}},
		[]labels.Set{{"team": "other"}},
		[]fields.Set{{"metadata.name": "foo"}},
		[]fields.Set{{"metadata.name": "bar"}, {"spec.conflictPolicy": "Warn"}},
	)
}

// TestStatusSubresource checks the split of a pool between its owners: users
// write the spec, the allocator writes the status, neither through the
// other's endpoint.
func TestStatusSubresource(t *testing.T) {
	pools, poolStatus := newStorage(t)
	ctx := genericregistrytest.NewClusterScopeContext(pools.Store)

	pool := validNewPool()
	pool.Status = macpool.MacPoolStatus{Capacity: 99, Allocated: 99}
	created, err := pools.Create(ctx, pool, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the pool: %v", err)
	}
	if got := created.(*macpool.MacPool).Status; !reflect.DeepEqual(got, macpool.MacPoolStatus{}) {
		t.Errorf("status after create = %+v, want empty: a client cannot claim counts", got)
	}

	// The allocator reports counts; its copy of the spec is stale and
	// must not be written back.
	report := created.DeepCopyObject().(*macpool.MacPool)
	report.Status = macpool.MacPoolStatus{Capacity: 256, Allocated: 1, Free: 255}
	report.Spec.ConflictPolicy = macpool.ConflictPolicyReject
	report.Labels = map[string]string{"changed": "by-status"}
	statusCtx := genericregistrytest.NewClusterScopeContext(pools.Store, "status")
	updated, _, err := poolStatus.Update(statusCtx, report.Name, rest.DefaultUpdatedObjectInfo(report),
		rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("status update: %v", err)
	}
	stored := updated.(*macpool.MacPool)
	if stored.Status.Free != 255 || stored.Spec.ConflictPolicy != macpool.ConflictPolicyWarn || stored.Labels["changed"] != "" {
		t.Errorf("after a status update: status %+v, policy %s, labels %v; want the new status and the old spec and labels",
			stored.Status, stored.Spec.ConflictPolicy, stored.Labels)
	}

	// A spec update through the main resource keeps the reported status.
	edit := stored.DeepCopy()
	edit.Spec.ConflictPolicy = macpool.ConflictPolicyReject
	edit.Status = macpool.MacPoolStatus{}
	updated, _, err = pools.Update(ctx, edit.Name, rest.DefaultUpdatedObjectInfo(edit),
		rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("spec update: %v", err)
	}
	stored = updated.(*macpool.MacPool)
	if stored.Spec.ConflictPolicy != macpool.ConflictPolicyReject || stored.Status.Free != 255 {
		t.Errorf("after a spec update: policy %s, status %+v; want Reject and the reported status", stored.Spec.ConflictPolicy, stored.Status)
	}

	// Status validation runs: counts cannot go negative.
	negative := stored.DeepCopy()
	negative.Status.Free = -1
	_, _, err = poolStatus.Update(statusCtx, negative.Name, rest.DefaultUpdatedObjectInfo(negative),
		rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("status update with negative free: err = %v, want Invalid", err)
	}

	// A status update never creates a pool.
	missing := validNewPool()
	missing.Name = "missing"
	_, _, err = poolStatus.Update(statusCtx, missing.Name, rest.DefaultUpdatedObjectInfo(missing),
		rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, true, &metav1.UpdateOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("status update of a missing pool with forceAllowCreate: err = %v, want NotFound", err)
	}

	got, err := poolStatus.Get(statusCtx, pool.Name, &metav1.GetOptions{})
	if err != nil || got.(*macpool.MacPool).Status.Free != 255 {
		t.Errorf("status Get = %+v, %v", got, err)
	}
	if _, ok := poolStatus.New().(*macpool.MacPool); !ok {
		t.Errorf("status New() = %T", poolStatus.New())
	}
	table, err := poolStatus.ConvertToTable(statusCtx, got, nil)
	if err != nil || len(table.Rows) != 1 || table.Rows[0].Cells[4] != int64(255) {
		t.Errorf("status table = %+v, %v", table, err)
	}
}

func TestShortNamesAndCategories(t *testing.T) {
	pools, _ := newStorage(t)
	if got, want := pools.ShortNames(), []string{"mp", "mpool"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ShortNames = %v, want %v", got, want)
	}
	if got, want := pools.Categories(), []string{"kubemacpool"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Categories = %v, want %v", got, want)
	}
}

// TestTableThroughStorage checks the columns kubectl gets for a stored pool.
func TestTableThroughStorage(t *testing.T) {
	pools, _ := newStorage(t)
	ctx := genericregistrytest.NewClusterScopeContext(pools.Store)
	if _, err := pools.Create(ctx, validNewPool(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := pools.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	table, err := pools.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.Rows) != 1 || table.Rows[0].Cells[0] != "foo" || table.Rows[0].Cells[1] != "02:00:00:00:00:00-02:00:00:00:00:ff" || table.ResourceVersion == "" {
		t.Errorf("table = %+v", table)
	}
}
