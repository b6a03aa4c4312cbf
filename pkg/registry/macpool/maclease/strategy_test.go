package maclease

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

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	return scheme
}

func boundLease() *macpool.MacLease {
	return &macpool.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: "02-00-00-00-00-0a", Namespace: "lab", ResourceVersion: "7",
			Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"note": "a"}},
		Spec: macpool.MacLeaseSpec{
			MACAddress: "02:00:00:00:00:0a",
			Pool:       "default",
			Owner:      &macpool.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "web"},
			Interface:  "lab/br1",
		},
		Status: macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseBound},
	}
}

func TestStrategyScope(t *testing.T) {
	strategy := NewStrategy(newScheme(t))
	ctx := genericapirequest.NewDefaultContext()
	if !strategy.NamespaceScoped() {
		t.Error("MacLease must be namespaced")
	}
	if strategy.AllowCreateOnUpdate(ctx) {
		t.Error("an update must never create a lease: creation is where uniqueness is decided")
	}
	if !strategy.AllowUnconditionalUpdate(ctx) {
		t.Error("unconditional updates (kubectl apply without resourceVersion) must be allowed")
	}
}

func TestPrepareForCreateKeepsStatus(t *testing.T) {
	strategy := NewStrategy(newScheme(t))
	expires := metav1.NewTime(time.Unix(1700000000, 0))
	lease := boundLease()
	lease.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseReserved, ExpiresAt: &expires}
	want := lease.DeepCopy()
	strategy.PrepareForCreate(context.Background(), lease)
	if !reflect.DeepEqual(lease, want) {
		t.Errorf("PrepareForCreate changed the lease: the webhook creates leases Reserved with an expiry\n got  %+v\n want %+v", lease, want)
	}
}

func TestPrepareForUpdate(t *testing.T) {
	strategy := NewStrategy(newScheme(t))
	expires := metav1.NewTime(time.Unix(1700000000, 0))

	t.Run("main resource keeps the stored status", func(t *testing.T) {
		old := boundLease()
		lease := boundLease()
		lease.Spec.Owner = nil
		lease.Labels = map[string]string{"app": "db"}
		lease.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseReserved, ExpiresAt: &expires}
		strategy.PrepareForUpdate(context.Background(), lease, old)
		if !reflect.DeepEqual(lease.Status, old.Status) {
			t.Errorf("status = %+v, want the stored %+v", lease.Status, old.Status)
		}
		if lease.Spec.Owner != nil || lease.Labels["app"] != "db" {
			t.Errorf("the spec and labels of the update were lost: %+v", lease)
		}
	})

	t.Run("status subresource keeps the stored spec, labels and annotations", func(t *testing.T) {
		old := boundLease()
		old.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseReserved, ExpiresAt: &expires}
		lease := old.DeepCopy()
		lease.Spec = macpool.MacLeaseSpec{MACAddress: "02:00:00:00:00:0b"}
		lease.Labels, lease.Annotations = map[string]string{"x": "y"}, nil
		lease.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseBound}
		NewStatusStrategy(strategy).PrepareForUpdate(context.Background(), lease, old)
		if !reflect.DeepEqual(lease.Spec, old.Spec) || !reflect.DeepEqual(lease.Labels, old.Labels) || !reflect.DeepEqual(lease.Annotations, old.Annotations) {
			t.Errorf("status update changed more than the status:\n got  %+v\n want %+v", lease.ObjectMeta, old.ObjectMeta)
		}
		if lease.Status.Phase != macpool.MacLeasePhaseBound || lease.Status.ExpiresAt != nil {
			t.Errorf("status = %+v, want the new Bound status", lease.Status)
		}
	})
}

func TestResetFields(t *testing.T) {
	version := fieldpath.APIVersion(v1alpha1.SchemeGroupVersion.String())
	strategy := NewStrategy(newScheme(t))
	main := strategy.GetResetFields()[version]
	if main == nil || !main.Has(fieldpath.MakePathOrDie("status")) || main.Has(fieldpath.MakePathOrDie("spec")) {
		t.Errorf("main resource reset fields = %v, want status only", main)
	}
	sub := NewStatusStrategy(strategy).GetResetFields()[version]
	for _, path := range []fieldpath.Path{
		fieldpath.MakePathOrDie("spec"),
		fieldpath.MakePathOrDie("metadata", "labels"),
		fieldpath.MakePathOrDie("metadata", "annotations"),
	} {
		if sub == nil || !sub.Has(path) {
			t.Errorf("status subresource reset fields = %v, missing %s", sub, path)
		}
	}
	if sub.Has(fieldpath.MakePathOrDie("status")) {
		t.Errorf("the status subresource must not reset status")
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

// TestValidateWiring checks that each strategy calls the validation of its
// operation; the rules themselves are tested in package validation.
func TestValidateWiring(t *testing.T) {
	ctx := genericapirequest.NewDefaultContext()
	strategy := NewStrategy(newScheme(t))
	statusStrategy := NewStatusStrategy(strategy)
	expires := metav1.NewTime(time.Unix(1700000000, 0))

	if errs := strategy.Validate(ctx, boundLease()); len(errs) != 0 {
		t.Errorf("Validate of a valid lease: %v", errs)
	}
	wrongName := boundLease()
	wrongName.Name = "02:00:00:00:00:0a"
	if got := fieldKeys(strategy.Validate(ctx, wrongName)); !reflect.DeepEqual(got, []string{"FieldValueInvalid metadata.name", "FieldValueInvalid spec.macAddress"}) {
		t.Errorf("Validate of a colon-form name = %v", got)
	}

	old := boundLease()
	old.Spec.MACAddress = "02:00:00:00:00:0b"
	if got := fieldKeys(strategy.ValidateUpdate(ctx, boundLease(), old)); !reflect.DeepEqual(got, []string{"FieldValueInvalid spec.macAddress"}) {
		t.Errorf("ValidateUpdate changing the address = %v, want spec.macAddress immutable", got)
	}
	invalidSpec := boundLease()
	invalidSpec.Spec.Pool = "Not_A_Pool"
	if got := fieldKeys(strategy.ValidateUpdate(ctx, invalidSpec, boundLease())); !reflect.DeepEqual(got, []string{"FieldValueInvalid spec.pool"}) {
		t.Errorf("ValidateUpdate with an invalid pool = %v", got)
	}
	// The status strategy validates the status and ignores the spec, which
	// PrepareForUpdate has restored from storage.
	if errs := statusStrategy.ValidateUpdate(ctx, invalidSpec, boundLease()); len(errs) != 0 {
		t.Errorf("status ValidateUpdate checked the spec: %v", errs)
	}
	badStatus := boundLease()
	badStatus.Status.ExpiresAt = &expires
	if got := fieldKeys(statusStrategy.ValidateUpdate(ctx, badStatus, boundLease())); !reflect.DeepEqual(got, []string{"FieldValueForbidden status.expiresAt"}) {
		t.Errorf("status ValidateUpdate of a Bound lease with expiry = %v", got)
	}
	if w := strategy.WarningsOnCreate(ctx, boundLease()); w != nil {
		t.Errorf("WarningsOnCreate = %v", w)
	}
	if w := strategy.WarningsOnUpdate(ctx, boundLease(), boundLease()); w != nil {
		t.Errorf("WarningsOnUpdate = %v", w)
	}
}

// TestDefaultingThenValidation decodes leases as the server does (v1alpha1
// JSON, defaulted, converted to the internal version) and validates them:
// the dash-form name and the colon-form address fill each other in, and the
// address is stored in one canonical spelling.
func TestDefaultingThenValidation(t *testing.T) {
	scheme := newScheme(t)
	decoder := serializer.NewCodecFactory(scheme).UniversalDecoder(macpool.SchemeGroupVersion)
	strategy := NewStrategy(scheme)
	tests := []struct {
		name        string
		json        string
		wantName    string
		wantAddress string
		wantErrors  []string
	}{
		{name: "name only: a static reservation",
			json:     `{"metadata":{"name":"02-00-00-00-00-0a"}}`,
			wantName: "02-00-00-00-00-0a", wantAddress: "02:00:00:00:00:0a"},
		{name: "address only, upper case",
			json:     `{"metadata":{},"spec":{"macAddress":"02:00:00:00:00:0A"}}`,
			wantName: "02-00-00-00-00-0a", wantAddress: "02:00:00:00:00:0a"},
		{name: "address in dash form",
			json:     `{"metadata":{"name":"02-00-00-00-00-0a"},"spec":{"macAddress":"02-00-00-00-00-0A"}}`,
			wantName: "02-00-00-00-00-0a", wantAddress: "02:00:00:00:00:0a"},
		// The name is never rewritten: a second spelling of the same
		// address must not become a second object.
		{name: "upper-case name is refused",
			json:     `{"metadata":{"name":"02-00-00-00-00-0A"}}`,
			wantName: "02-00-00-00-00-0A", wantAddress: "02:00:00:00:00:0a",
			wantErrors: []string{"FieldValueInvalid metadata.name", "FieldValueInvalid spec.macAddress"}},
		{name: "colon-form name is refused",
			json:     `{"metadata":{"name":"02:00:00:00:00:0a"}}`,
			wantName: "02:00:00:00:00:0a", wantAddress: "02:00:00:00:00:0a",
			wantErrors: []string{"FieldValueInvalid metadata.name", "FieldValueInvalid spec.macAddress"}},
		{name: "name and address disagree",
			json:     `{"metadata":{"name":"02-00-00-00-00-0a"},"spec":{"macAddress":"02:00:00:00:00:0b"}}`,
			wantName: "02-00-00-00-00-0a", wantAddress: "02:00:00:00:00:0b",
			wantErrors: []string{"FieldValueInvalid spec.macAddress"}},
		{name: "garbage is left for validation to name",
			json:     `{"metadata":{"name":"02-00-00-00-00-0a"},"spec":{"macAddress":"02:00:00:00:00"}}`,
			wantName: "02-00-00-00-00-0a", wantAddress: "02:00:00:00:00",
			wantErrors: []string{"FieldValueInvalid spec.macAddress"}},
		{name: "multicast from the name",
			json:     `{"metadata":{"name":"01-00-5e-00-00-01"}}`,
			wantName: "01-00-5e-00-00-01", wantAddress: "01:00:5e:00:00:01",
			wantErrors: []string{"FieldValueInvalid spec.macAddress"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := `{"apiVersion":"macpool.kubemacpool.io/v1alpha1","kind":"MacLease",` + tc.json[1:]
			obj, _, err := decoder.Decode([]byte(data), nil, nil)
			if err != nil {
				t.Fatalf("decoding %s: %v", data, err)
			}
			lease, ok := obj.(*macpool.MacLease)
			if !ok {
				t.Fatalf("decoded %T, want the internal *macpool.MacLease", obj)
			}
			lease.Namespace = "lab"
			if lease.Name != tc.wantName || lease.Spec.MACAddress != tc.wantAddress {
				t.Errorf("after defaulting: name %q, address %q; want %q, %q", lease.Name, lease.Spec.MACAddress, tc.wantName, tc.wantAddress)
			}
			strategy.PrepareForCreate(context.Background(), lease)
			if got := fieldKeys(strategy.Validate(context.Background(), lease)); !reflect.DeepEqual(got, tc.wantErrors) {
				t.Errorf("Validate = %v, want %v", got, tc.wantErrors)
			}
		})
	}
}

func TestGetAttrs(t *testing.T) {
	lease := boundLease()
	lease.Status.Phase = macpool.MacLeasePhaseReserved
	gotLabels, gotFields, err := GetAttrs(lease)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotLabels, labels.Set{"app": "web"}) {
		t.Errorf("labels = %v", gotLabels)
	}
	wantFields := fields.Set{
		"metadata.name":      "02-00-00-00-00-0a",
		"metadata.namespace": "lab",
		"spec.macAddress":    "02:00:00:00:00:0a",
		"spec.owner.kind":    "Pod",
		"spec.owner.name":    "web",
		"spec.pool":          "default",
		"status.phase":       "Reserved",
	}
	if !reflect.DeepEqual(gotFields, wantFields) {
		t.Errorf("fields = %v\nwant %v", gotFields, wantFields)
	}

	reservation := boundLease()
	reservation.Spec.Owner = nil
	if _, f, _ := GetAttrs(reservation); f["spec.owner.kind"] != "" || f["spec.owner.name"] != "" {
		t.Errorf("a static reservation has owner fields %v", f)
	}
	if _, _, err := GetAttrs(&macpool.MacPool{}); err == nil {
		t.Error("GetAttrs of a MacPool: want an error")
	}
}

// TestSelectableFieldsMatchTheScheme checks that the request decoding
// accepts every field the storage filters on, and no other.
func TestSelectableFieldsMatchTheScheme(t *testing.T) {
	scheme := newScheme(t)
	kind := v1alpha1.SchemeGroupVersion.WithKind("MacLease")
	var stored []string
	for name := range SelectableFields(boundLease()) {
		stored = append(stored, name)
		if _, _, err := scheme.ConvertFieldLabel(kind, name, "x"); err != nil {
			t.Errorf("the storage filters on %s but the API refuses it as a field selector: %v", name, err)
		}
	}
	sort.Strings(stored)
	want := append([]string{"metadata.name", "metadata.namespace"}, macpool.MacLeaseFieldNames...)
	sort.Strings(want)
	if !reflect.DeepEqual(stored, want) {
		t.Errorf("selectable fields = %v, v1alpha1 declares %v", stored, want)
	}
	if _, _, err := scheme.ConvertFieldLabel(kind, "spec.interface", "x"); err == nil {
		t.Error("spec.interface is not selectable, yet the scheme accepts it")
	}
}

func TestMatch(t *testing.T) {
	vmLease := boundLease()
	vmLease.Spec.Owner = &macpool.LeaseOwner{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "vm1"}
	reservation := boundLease()
	reservation.Spec.Owner = nil
	reservation.Status.Phase = ""
	tests := []struct {
		selector string
		labels   string
		lease    *macpool.MacLease
		want     bool
	}{
		{selector: "spec.owner.kind=VirtualMachine", lease: vmLease, want: true},
		{selector: "spec.owner.kind=VirtualMachine", lease: boundLease(), want: false},
		{selector: "spec.owner.name=vm1,spec.pool=default", lease: vmLease, want: true},
		{selector: "spec.owner.kind=", lease: reservation, want: true},
		{selector: "status.phase=Bound", lease: reservation, want: false},
		{selector: "spec.macAddress=02:00:00:00:00:0a", lease: boundLease(), want: true},
		{selector: "metadata.namespace=other", lease: boundLease(), want: false},
		{selector: "metadata.name=02-00-00-00-00-0a", labels: "app=web", lease: boundLease(), want: true},
		{labels: "app=db", lease: boundLease(), want: false},
	}
	for _, tc := range tests {
		fieldSelector, err := fields.ParseSelector(tc.selector)
		if err != nil {
			t.Fatal(err)
		}
		labelSelector, err := labels.Parse(tc.labels)
		if err != nil {
			t.Fatal(err)
		}
		predicate := Match(labelSelector, fieldSelector)
		got, err := predicate.Matches(tc.lease)
		if err != nil {
			t.Fatalf("Match(%q, %q): %v", tc.labels, tc.selector, err)
		}
		if got != tc.want {
			t.Errorf("Match(%q, %q) of %s owned by %+v = %v, want %v", tc.labels, tc.selector, tc.lease.Name, tc.lease.Spec.Owner, got, tc.want)
		}
	}
}

func TestConvertToTable(t *testing.T) {
	lease := boundLease()
	lease.CreationTimestamp = metav1.NewTime(time.Now().Add(-2 * time.Hour))
	reservation := &macpool.MacLease{ObjectMeta: metav1.ObjectMeta{Name: "02-00-00-00-00-0b", Namespace: "lab"},
		Spec: macpool.MacLeaseSpec{MACAddress: "02:00:00:00:00:0b"}}
	retained := boundLease()
	retained.Name, retained.Spec.MACAddress = "02-00-00-00-00-0c", "02:00:00:00:00:0c"
	retainedUntil := metav1.NewTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	retained.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseRetained, ExpiresAt: &retainedUntil}
	retained.CreationTimestamp = lease.CreationTimestamp
	list := &macpool.MacLeaseList{ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "next"},
		Items: []macpool.MacLease{*lease, *reservation, *retained}}

	table, err := tableConvertor.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	var columns []string
	for _, c := range table.ColumnDefinitions {
		columns = append(columns, c.Name)
	}
	if want := []string{"Name", "MAC", "Owner", "Interface", "Pool", "Phase", "Expires", "Age"}; !reflect.DeepEqual(columns, want) {
		t.Errorf("columns = %v, want %v", columns, want)
	}
	// The dash-form name repeats the MAC column: shown only with -o wide.
	if table.ColumnDefinitions[0].Priority == 0 {
		t.Error("the Name column should be hidden unless -o wide")
	}
	if table.ResourceVersion != "42" || table.Continue != "next" || len(table.Rows) != 3 {
		t.Fatalf("table = rv %q, continue %q, %d rows", table.ResourceVersion, table.Continue, len(table.Rows))
	}
	wantRows := [][]interface{}{
		{"02-00-00-00-00-0a", "02:00:00:00:00:0a", "Pod/web", "lab/br1", "default", "Bound", "<none>", "120m"},
		{"02-00-00-00-00-0b", "02:00:00:00:00:0b", "<none>", "<none>", "<none>", "<none>", "<none>", "<unknown>"},
		{"02-00-00-00-00-0c", "02:00:00:00:00:0c", "Pod/web", "lab/br1", "default", "Retained", "2026-12-01T10:00:00Z", "120m"},
	}
	for i, row := range table.Rows {
		if !reflect.DeepEqual(row.Cells, wantRows[i]) {
			t.Errorf("row %d = %v, want %v", i, row.Cells, wantRows[i])
		}
		if len(row.Cells) != len(table.ColumnDefinitions) {
			t.Errorf("row %d has %d cells for %d columns", i, len(row.Cells), len(table.ColumnDefinitions))
		}
	}

	single, err := tableConvertor.ConvertToTable(context.Background(), lease, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(single.Rows) != 1 || single.ResourceVersion != "7" || single.Rows[0].Cells[2] != "Pod/web" {
		t.Errorf("table of one lease = %+v", single)
	}
	if _, err := tableConvertor.ConvertToTable(context.Background(), &macpool.MacPool{}, nil); err == nil {
		t.Error("a MacPool printed as a lease: want an error")
	}
}
