package macpool

import (
	"context"
	"reflect"
	"sort"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/install"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

func newScheme(t testing.TB) *runtime.Scheme {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	return scheme
}

func labPool() *macpool.MacPool {
	return &macpool.MacPool{
		ObjectMeta: metav1.ObjectMeta{Name: "lab", ResourceVersion: "3",
			Labels: map[string]string{"team": "lab"}, Annotations: map[string]string{"note": "a"}},
		Spec: macpool.MacPoolSpec{
			Ranges:            []macpool.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:ff"}},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "lab"}},
			ConflictPolicy:    macpool.ConflictPolicyReject,
		},
		Status: macpool.MacPoolStatus{Capacity: 256, Allocated: 6, Free: 250},
	}
}

func fieldKeys(errs field.ErrorList) []string {
	var keys []string
	for _, err := range errs {
		keys = append(keys, string(err.Type)+" "+err.Field)
	}
	sort.Strings(keys)
	return keys
}

func TestStrategyScope(t *testing.T) {
	strategy := NewStrategy(newScheme(t))
	ctx := genericapirequest.NewContext()
	if strategy.NamespaceScoped() {
		t.Error("MacPool must be cluster-scoped")
	}
	if strategy.AllowCreateOnUpdate(ctx) {
		t.Error("an update must not create a pool")
	}
	if !strategy.AllowUnconditionalUpdate(ctx) {
		t.Error("unconditional updates must be allowed")
	}
}

func TestPrepareForCreateDropsStatus(t *testing.T) {
	pool := labPool()
	pool.Status.Conditions = []metav1.Condition{{Type: "Exhausted"}}
	NewStrategy(newScheme(t)).PrepareForCreate(context.Background(), pool)
	if !reflect.DeepEqual(pool.Status, macpool.MacPoolStatus{}) {
		t.Errorf("status after PrepareForCreate = %+v, want empty: only the allocator reports it", pool.Status)
	}
	if !reflect.DeepEqual(pool.Spec, labPool().Spec) {
		t.Errorf("PrepareForCreate changed the spec: %+v", pool.Spec)
	}
}

func TestPrepareForUpdate(t *testing.T) {
	strategy := NewStrategy(newScheme(t))

	t.Run("main resource keeps the stored status", func(t *testing.T) {
		old := labPool()
		pool := labPool()
		pool.Spec.ConflictPolicy = macpool.ConflictPolicyWarn
		pool.Status = macpool.MacPoolStatus{Capacity: 1}
		strategy.PrepareForUpdate(context.Background(), pool, old)
		if !reflect.DeepEqual(pool.Status, old.Status) {
			t.Errorf("status = %+v, want the stored %+v", pool.Status, old.Status)
		}
		if pool.Spec.ConflictPolicy != macpool.ConflictPolicyWarn {
			t.Error("the spec change of the update was lost")
		}
	})

	t.Run("status subresource keeps the stored spec, labels and annotations", func(t *testing.T) {
		old := labPool()
		pool := labPool()
		pool.Spec = macpool.MacPoolSpec{}
		pool.Labels, pool.Annotations = nil, map[string]string{"x": "y"}
		pool.Status = macpool.MacPoolStatus{Capacity: 256, Allocated: 7, Free: 249}
		NewStatusStrategy(strategy).PrepareForUpdate(context.Background(), pool, old)
		if !reflect.DeepEqual(pool.Spec, old.Spec) || !reflect.DeepEqual(pool.Labels, old.Labels) || !reflect.DeepEqual(pool.Annotations, old.Annotations) {
			t.Errorf("status update changed more than the status: %+v", pool)
		}
		if pool.Status.Allocated != 7 {
			t.Errorf("status = %+v, want the new counts", pool.Status)
		}
	})
}

func TestResetFields(t *testing.T) {
	version := fieldpath.APIVersion(v1alpha1.SchemeGroupVersion.String())
	strategy := NewStrategy(newScheme(t))
	if main := strategy.GetResetFields()[version]; main == nil || !main.Has(fieldpath.MakePathOrDie("status")) || main.Has(fieldpath.MakePathOrDie("spec")) {
		t.Errorf("main resource reset fields = %v, want status only", main)
	}
	sub := NewStatusStrategy(strategy).GetResetFields()[version]
	if sub == nil || !sub.Has(fieldpath.MakePathOrDie("spec")) || !sub.Has(fieldpath.MakePathOrDie("metadata", "labels")) ||
		sub.Has(fieldpath.MakePathOrDie("status")) {
		t.Errorf("status subresource reset fields = %v, want spec and metadata, not status", sub)
	}
}

func TestValidateWiring(t *testing.T) {
	ctx := genericapirequest.NewContext()
	strategy := NewStrategy(newScheme(t))
	statusStrategy := NewStatusStrategy(strategy)

	if errs := strategy.Validate(ctx, labPool()); len(errs) != 0 {
		t.Errorf("Validate of a valid pool: %v", errs)
	}
	reversed := labPool()
	reversed.Spec.Ranges[0] = macpool.MACRange{Start: "02:00:00:00:00:ff", End: "02:00:00:00:00:00"}
	if got := fieldKeys(strategy.Validate(ctx, reversed)); !reflect.DeepEqual(got, []string{"FieldValueInvalid spec.ranges[0]"}) {
		t.Errorf("Validate of a reversed range = %v", got)
	}
	if got := fieldKeys(strategy.ValidateUpdate(ctx, reversed, labPool())); !reflect.DeepEqual(got, []string{"FieldValueInvalid spec.ranges[0]"}) {
		t.Errorf("ValidateUpdate to a reversed range = %v", got)
	}
	moved := labPool()
	moved.Spec.Ranges[0] = macpool.MACRange{Start: "0a:00:00:00:00:00", End: "0a:00:00:00:00:01"}
	if errs := strategy.ValidateUpdate(ctx, moved, labPool()); len(errs) != 0 {
		t.Errorf("ValidateUpdate moving the range: %v", errs)
	}
	if errs := statusStrategy.ValidateUpdate(ctx, reversed, labPool()); len(errs) != 0 {
		t.Errorf("status ValidateUpdate checked the spec: %v", errs)
	}
	negative := labPool()
	negative.Status.Free = -1
	if got := fieldKeys(statusStrategy.ValidateUpdate(ctx, negative, labPool())); !reflect.DeepEqual(got, []string{"FieldValueInvalid status.free"}) {
		t.Errorf("status ValidateUpdate with negative free = %v", got)
	}
	if w := strategy.WarningsOnCreate(ctx, labPool()); w != nil {
		t.Errorf("WarningsOnCreate = %v", w)
	}
	if w := strategy.WarningsOnUpdate(ctx, labPool(), labPool()); w != nil {
		t.Errorf("WarningsOnUpdate = %v", w)
	}
}

// TestDefaultingThenValidation decodes pools as the server does: the policy
// defaults to Warn and the ends of each range are stored in colon form.
func TestDefaultingThenValidation(t *testing.T) {
	scheme := newScheme(t)
	decoder := serializer.NewCodecFactory(scheme).UniversalDecoder(macpool.SchemeGroupVersion)
	strategy := NewStrategy(scheme)
	tests := []struct {
		name       string
		spec       string
		wantSpec   macpool.MacPoolSpec
		wantErrors []string
	}{
		{name: "policy defaults to Warn",
			spec: `{"ranges":[{"start":"02:00:00:00:00:00","end":"02:ff:ff:ff:ff:ff"}]}`,
			wantSpec: macpool.MacPoolSpec{ConflictPolicy: macpool.ConflictPolicyWarn,
				Ranges: []macpool.MACRange{{Start: "02:00:00:00:00:00", End: "02:ff:ff:ff:ff:ff"}}}},
		{name: "dash form and upper case canonicalised",
			spec: `{"conflictPolicy":"Reject","ranges":[{"start":"0A-00-00-00-00-00","end":"0a:00:00:00:FF:FF"}]}`,
			wantSpec: macpool.MacPoolSpec{ConflictPolicy: macpool.ConflictPolicyReject,
				Ranges: []macpool.MACRange{{Start: "0a:00:00:00:00:00", End: "0a:00:00:00:ff:ff"}}}},
		{name: "garbage is left for validation to name",
			spec: `{"ranges":[{"start":"02:00","end":"02:00:00:00:00:ff"}]}`,
			wantSpec: macpool.MacPoolSpec{ConflictPolicy: macpool.ConflictPolicyWarn,
				Ranges: []macpool.MACRange{{Start: "02:00", End: "02:00:00:00:00:ff"}}},
			wantErrors: []string{"FieldValueInvalid spec.ranges[0].start"}},
		{name: "unknown policy is not defaulted",
			spec: `{"conflictPolicy":"Deny","ranges":[{"start":"02:00:00:00:00:00","end":"02:00:00:00:00:ff"}]}`,
			wantSpec: macpool.MacPoolSpec{ConflictPolicy: "Deny",
				Ranges: []macpool.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:ff"}}},
			wantErrors: []string{"FieldValueNotSupported spec.conflictPolicy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := `{"apiVersion":"macpool.kubemacpool.io/v1alpha1","kind":"MacPool","metadata":{"name":"lab"},"spec":` + tc.spec + `}`
			obj, _, err := decoder.Decode([]byte(data), nil, nil)
			if err != nil {
				t.Fatalf("decoding %s: %v", data, err)
			}
			pool, ok := obj.(*macpool.MacPool)
			if !ok {
				t.Fatalf("decoded %T, want the internal *macpool.MacPool", obj)
			}
			if !reflect.DeepEqual(pool.Spec, tc.wantSpec) {
				t.Errorf("spec after defaulting = %+v, want %+v", pool.Spec, tc.wantSpec)
			}
			strategy.PrepareForCreate(context.Background(), pool)
			if got := fieldKeys(strategy.Validate(context.Background(), pool)); !reflect.DeepEqual(got, tc.wantErrors) {
				t.Errorf("Validate = %v, want %v", got, tc.wantErrors)
			}
		})
	}
}

func TestGetAttrsAndMatch(t *testing.T) {
	gotLabels, gotFields, err := GetAttrs(labPool())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotLabels, labels.Set{"team": "lab"}) {
		t.Errorf("labels = %v", gotLabels)
	}
	// Cluster-scoped: no metadata.namespace.
	if !reflect.DeepEqual(gotFields, fields.Set{"metadata.name": "lab"}) {
		t.Errorf("fields = %v, want metadata.name only", gotFields)
	}
	if _, _, err := GetAttrs(&macpool.MacLease{}); err == nil {
		t.Error("GetAttrs of a MacLease: want an error")
	}

	tests := []struct {
		labels, fields string
		want           bool
	}{
		{fields: "metadata.name=lab", want: true},
		{fields: "metadata.name=default", want: false},
		{labels: "team=lab", want: true},
		{labels: "team!=lab", want: false},
	}
	for _, tc := range tests {
		everything := Match(labels.Everything(), fields.Everything())
		if got, err := everything.Matches(labPool()); err != nil || !got {
			t.Fatalf("Match(everything) = %v, %v", got, err)
		}
		labelSelector, err := labels.Parse(tc.labels)
		if err != nil {
			t.Fatal(err)
		}
		fieldSelector, err := fields.ParseSelector(tc.fields)
		if err != nil {
			t.Fatal(err)
		}
		predicate := Match(labelSelector, fieldSelector)
		if got, err := predicate.Matches(labPool()); err != nil || got != tc.want {
			t.Errorf("Match(%q, %q) = %v, %v; want %v", tc.labels, tc.fields, got, err, tc.want)
		}
	}
}

func TestConvertToTable(t *testing.T) {
	pool := labPool()
	pool.Spec.Ranges = append(pool.Spec.Ranges, macpool.MACRange{Start: "0a:00:00:00:00:00", End: "0a:00:00:00:00:0f"})
	pool.Spec.Exclude = []macpool.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:0f"}}
	pool.Spec.Retention = &macpool.RetentionPolicy{Duration: metav1.Duration{Duration: 24 * time.Hour}}
	pool.Status.Retained = 2
	pool.CreationTimestamp = metav1.NewTime(time.Now().Add(-30 * time.Hour))
	pool.Spec.NetworkSelector = &macpool.NetworkSelector{
		Networks:      []macpool.NetworkReference{{Namespace: "infra", Name: "red"}, {Namespace: "lab", Name: "blue"}},
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "storage"}},
	}
	empty := &macpool.MacPool{ObjectMeta: metav1.ObjectMeta{Name: "empty"}}
	every := &macpool.MacPool{ObjectMeta: metav1.ObjectMeta{Name: "every"}, Spec: macpool.MacPoolSpec{NetworkSelector: &macpool.NetworkSelector{LabelSelector: &metav1.LabelSelector{}}}}
	list := &macpool.MacPoolList{ListMeta: metav1.ListMeta{ResourceVersion: "9"}, Items: []macpool.MacPool{*pool, *empty, *every}}

	table, err := tableConvertor.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	var columns []string
	for _, c := range table.ColumnDefinitions {
		columns = append(columns, c.Name+"/"+c.Type)
	}
	want := []string{"Name/string", "Ranges/string", "Capacity/integer", "Allocated/integer", "Free/integer", "Conflict-Policy/string", "Exclude/string", "Networks/string", "Retention/string", "Retained/integer", "Age/date"}
	if !reflect.DeepEqual(columns, want) {
		t.Errorf("columns = %v, want %v", columns, want)
	}
	if table.ResourceVersion != "9" || len(table.Rows) != 3 {
		t.Fatalf("table = rv %q, %d rows", table.ResourceVersion, len(table.Rows))
	}
	wantRows := [][]interface{}{
		{"lab", "02:00:00:00:00:00-02:00:00:00:00:ff,0a:00:00:00:00:00-0a:00:00:00:00:0f", int64(256), int64(6), int64(250), "Reject", "02:00:00:00:00:00-02:00:00:00:00:0f",
			"infra/red,lab/blue,labels:tier=storage", "24h0m0s", int64(2), "30h"},
		{"empty", "<none>", int64(0), int64(0), int64(0), "", "<none>", "<none>", "<none>", int64(0), "<unknown>"},
		{"every", "<none>", int64(0), int64(0), int64(0), "", "<none>", "labels:<all>", "<none>", int64(0), "<unknown>"},
	}
	for i, row := range table.Rows {
		if !reflect.DeepEqual(row.Cells, wantRows[i]) {
			t.Errorf("row %d = %#v\nwant %#v", i, row.Cells, wantRows[i])
		}
	}
	if _, err := tableConvertor.ConvertToTable(context.Background(), &macpool.MacLease{}, nil); err == nil {
		t.Error("a MacLease printed as a pool: want an error")
	}
}
