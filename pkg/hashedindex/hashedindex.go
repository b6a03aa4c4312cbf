package hashedindex

import (
	"hash/maphash"
	"strconv"

	"k8s.io/client-go/tools/cache"
)

// buckets is the number of index values. At 100,000 objects a lookup reads
// about 25 objects; a small store keeps one object per bucket, as a plain
// index would.
const buckets = 4096

// bucketNames are the index values, made once so that indexing an object
// allocates no string.
var bucketNames = func() [buckets]string {
	var names [buckets]string
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	return names
}()

// ValueFunc is the value an object is indexed and looked up by; ok is false
// for an object without one, which is not indexed.
type ValueFunc func(obj interface{}) (value string, ok bool)

// seed makes the buckets differ from one process to the next. The values
// are names a tenant chooses (a Pod's, a requested MAC); with a hash known
// in advance, a tenant could put all of its leases into the bucket of
// another tenant's owner and make each of that owner's lookups read them.
var seed = maphash.MakeSeed()

// bucket is the index value of value.
func bucket(value string) string {
	return bucketNames[maphash.String(seed, value)%buckets]
}

// IndexFunc indexes an object by the bucket of its value.
func IndexFunc(value ValueFunc) cache.IndexFunc {
	return func(obj interface{}) ([]string, error) {
		v, ok := value(obj)
		if !ok {
			return nil, nil
		}
		return []string{bucket(v)}, nil
	}
}

// ByValue returns the objects of indexer whose value is want, in the index
// indexName built with IndexFunc(value).
func ByValue(indexer cache.Indexer, indexName string, value ValueFunc, want string) ([]interface{}, error) {
	candidates, err := indexer.ByIndex(indexName, bucket(want))
	if err != nil {
		return nil, err
	}
	// ByIndex returns a slice of its own: filter it in place.
	matches := candidates[:0]
	for _, obj := range candidates {
		if v, ok := value(obj); ok && v == want {
			matches = append(matches, obj)
		}
	}
	return matches, nil
}
