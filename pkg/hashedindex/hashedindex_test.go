package hashedindex

import (
	"fmt"
	"runtime"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

const byName = "name"

// nameOf indexes objects by name, as the lease controller indexes leases;
// an object named "-" has no value.
func nameOf(obj interface{}) (string, bool) {
	name := obj.(*metav1.ObjectMeta).Name
	return name, name != "-"
}

func newIndexer(t *testing.T, objects ...*metav1.ObjectMeta) cache.Indexer {
	t.Helper()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{byName: IndexFunc(nameOf)})
	for _, obj := range objects {
		if err := indexer.Add(obj); err != nil {
			t.Fatal(err)
		}
	}
	return indexer
}

func keys(t *testing.T, objects []interface{}) []string {
	t.Helper()
	var out []string
	for _, obj := range objects {
		key, err := cache.MetaNamespaceKeyFunc(obj)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, key)
	}
	slices.Sort(out)
	return out
}

// ByValue answers what a plain index by the value answers, through updates
// and deletes, whatever shares the value's bucket.
func TestByValueIsAPlainIndex(t *testing.T) {
	var objects []*metav1.ObjectMeta
	// Far more objects than buckets, so that every bucket is shared.
	for i := range 3 * buckets {
		objects = append(objects, &metav1.ObjectMeta{Namespace: fmt.Sprintf("ns-%d", i%7), Name: fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff)})
	}
	// Two objects of one name in two namespaces, and one without a value.
	objects = append(objects, &metav1.ObjectMeta{Namespace: "other", Name: "02:00:00:00:00:05"}, &metav1.ObjectMeta{Namespace: "a", Name: "-"})
	indexer := newIndexer(t, objects...)
	plain := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{byName: func(obj interface{}) ([]string, error) {
		if name, ok := nameOf(obj); ok {
			return []string{name}, nil
		}
		return nil, nil
	}})
	for _, obj := range objects {
		_ = plain.Add(obj)
	}
	// Move one object to another name, delete another.
	moved := &metav1.ObjectMeta{Namespace: objects[10].Namespace, Name: objects[10].Name}
	deleted := objects[11]
	for _, store := range []cache.Indexer{indexer, plain} {
		renamed := *moved
		_ = store.Delete(moved)
		renamed.Name = "02:ff:00:00:00:00"
		_ = store.Add(&renamed)
		_ = store.Delete(deleted)
	}

	for _, name := range []string{"02:00:00:00:00:05", "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:ff:00:00:00:00", "02:00:00:00:2f:ff", "02:12:34:56:78:9a", "-", ""} {
		got, err := ByValue(indexer, byName, nameOf, name)
		if err != nil {
			t.Fatalf("ByValue(%q): %v", name, err)
		}
		want, err := plain.ByIndex(byName, name)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := keys(t, got), keys(t, want); !slices.Equal(g, w) {
			t.Errorf("ByValue(%q) = %v, a plain index has %v", name, g, w)
		}
	}
	if got, _ := ByValue(indexer, byName, nameOf, "02:00:00:00:00:05"); len(got) != 2 {
		t.Errorf("ByValue of a name in two namespaces found %d objects, want 2", len(got))
	}
}

// ByValue of an index that does not exist fails as ByIndex does.
func TestByValueOfAnUnknownIndex(t *testing.T) {
	if _, err := ByValue(newIndexer(t), "nope", nameOf, "x"); err == nil {
		t.Error("ByValue of an index that does not exist succeeded")
	}
}

// A value has one bucket, and values spread over the buckets as a random
// hash would: 10 values per bucket on average, and no bucket with more than
// 30 (for a random hash, the chance that some bucket has is about 1 in 3,000).
func TestBucketsSpread(t *testing.T) {
	counts := map[string]int{}
	for i := range 10 * buckets {
		value := fmt.Sprintf("02-00-00-%02x-%02x-%02x", i>>16, (i>>8)&0xff, i&0xff)
		if bucket(value) != bucket(value) {
			t.Fatalf("%s has two buckets", value)
		}
		counts[bucket(value)]++
	}
	if len(counts) < buckets-20 {
		t.Errorf("%d of %d buckets used", len(counts), buckets)
	}
	for name, count := range counts {
		if count > 30 {
			t.Errorf("bucket %s holds %d values, want at most 30", name, count)
		}
	}
}

// The reason for the package: 100,000 objects, each with a value of its
// own, cost a plain index several times what they cost here.
func TestMemoryOfAnIndexOfUniqueValues(t *testing.T) {
	const objects = 100_000
	build := func(indexers cache.Indexers) uint64 {
		before := heapInUse()
		indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, indexers)
		for i := range objects {
			_ = indexer.Add(&metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("02:00:00:%02x:%02x:%02x", i>>16, (i>>8)&0xff, i&0xff)})
		}
		used := heapInUse() - before
		runtime.KeepAlive(indexer)
		return used
	}
	none := build(cache.Indexers{})
	plain := build(cache.Indexers{byName: func(obj interface{}) ([]string, error) {
		return []string{obj.(*metav1.ObjectMeta).Name}, nil
	}})
	hashed := build(cache.Indexers{byName: IndexFunc(nameOf)})
	plainCost, hashedCost := plain-min(plain, none), hashed-min(hashed, none)
	t.Logf("per object: store %d B, plain index %d B, hashed index %d B", none/objects, plainCost/objects, hashedCost/objects)
	if hashedCost*4 > plainCost {
		t.Errorf("the hashed index costs %d B per object, a plain one %d B: want at most a quarter", hashedCost/objects, plainCost/objects)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return stats.HeapAlloc
}
