package table

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Convertor prints objects of type T, for lists of type L, one row each.
type Convertor[T runtime.Object, L runtime.Object] struct {
	Columns []metav1.TableColumnDefinition
	// Cells returns the cells of one object, in column order.
	Cells func(object T) []interface{}
}

// ConvertToTable implements rest.TableConvertor.
func (c Convertor[T, L]) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: c.Columns}
	var items []T
	switch typed := object.(type) {
	case L:
		listed, err := meta.ExtractList(typed)
		if err != nil {
			return nil, fmt.Errorf("reading items of %T: %w", object, err)
		}
		for _, item := range listed {
			itemOfT, ok := item.(T)
			if !ok {
				return nil, fmt.Errorf("cannot print %T in this table", item)
			}
			items = append(items, itemOfT)
		}
		if accessor, err := meta.ListAccessor(typed); err == nil {
			table.ResourceVersion = accessor.GetResourceVersion()
			table.Continue = accessor.GetContinue()
			table.RemainingItemCount = accessor.GetRemainingItemCount()
		}
	case T:
		items = []T{typed}
		if accessor, err := meta.Accessor(typed); err == nil {
			table.ResourceVersion = accessor.GetResourceVersion()
		}
	default:
		return nil, fmt.Errorf("cannot print %T in this table", object)
	}
	for _, item := range items {
		table.Rows = append(table.Rows, metav1.TableRow{
			Object: runtime.RawExtension{Object: item},
			Cells:  c.Cells(item),
		})
	}
	return table, nil
}

// NameColumn is the first column of every table. A priority above zero
// hides it unless -o wide, for tables whose other columns say it better.
func NameColumn(description string, priority int32) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Priority: priority, Description: description}
}

// AgeColumn is the last column of every table.
var AgeColumn = metav1.TableColumnDefinition{Name: "Age", Type: "date", Description: "Time since the object was created."}

// Age renders a creation time like kubectl does.
func Age(created metav1.Time) string {
	if created.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(created.Time))
}

// OrNone renders an empty value as <none>.
func OrNone(value string) string {
	if value == "" {
		return "<none>"
	}
	return value
}
