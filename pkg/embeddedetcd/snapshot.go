package embeddedetcd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

const (
	// keyBucket is the bucket of etcd's backend that holds every revision
	// of every key, keyed by revision.
	keyBucket = "key"
	// revisionKeyLength is the length of a revision key (8 bytes main,
	// '_', 8 bytes sub); a tombstone adds one byte, 't'.
	revisionKeyLength = 17
	tombstoneMark     = 't'
	// putsPerTxn stays under etcd's default limit of 128 operations.
	putsPerTxn = 100
	// requestTimeout bounds one write of a restore.
	requestTimeout = time.Minute
)

// SaveSnapshot streams a snapshot of the etcd member at endpoint, a
// consistent copy of its backend with etcd's sha256 appended, to w. It is
// an online copy: the member keeps serving meanwhile.
func SaveSnapshot(ctx context.Context, endpoint string, w io.Writer) (int64, error) {
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 10 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return 0, fmt.Errorf("connecting to etcd at %s: %w", endpoint, err)
	}
	defer client.Close()
	// The snapshot stream may rightly take minutes; reaching the member
	// must not. Without this, an unreachable endpoint waits forever.
	statusCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = client.Status(statusCtx, endpoint)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("reaching etcd at %s: %w", endpoint, err)
	}
	stream, err := client.Snapshot(ctx)
	if err != nil {
		return 0, fmt.Errorf("requesting a snapshot from etcd at %s: %w", endpoint, err)
	}
	defer stream.Close()
	size, err := io.Copy(w, stream)
	if err != nil {
		return size, fmt.Errorf("reading the snapshot from etcd at %s: %w", endpoint, err)
	}
	if size%512 != sha256.Size {
		return size, fmt.Errorf("the snapshot from etcd at %s is incomplete (%d bytes, no checksum)", endpoint, size)
	}
	return size, nil
}

// RestoreResult says what a restore loaded.
type RestoreResult struct {
	// Keys is the number of keys written.
	Keys int
	// SkippedLeased is the number of keys attached to an etcd lease (a
	// TTL), which a restore leaves out: they would have expired.
	SkippedLeased int
}

// RestoreSnapshot writes the keys of the snapshot in r into a new member
// whose data directory is o.DataDir, which must not exist yet or be empty.
// It checks the snapshot's checksum first. The keys keep their values; their
// revisions start anew, which clients of a fresh store see as a new
// resourceVersion history. The member is started on o's loopback URLs for the
// load and stopped again: kubemacpool-apiserver must not run on o.DataDir.
func RestoreSnapshot(ctx context.Context, r io.Reader, o *Options) (RestoreResult, error) {
	var result RestoreResult
	if err := emptyOrMissing(o.DataDir); err != nil {
		return result, err
	}
	parent := filepath.Dir(filepath.Clean(o.DataDir))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return result, fmt.Errorf("creating %s: %w", parent, err)
	}
	// The snapshot is read into a file next to the data directory: the
	// root filesystem is read-only and /tmp small in the Pod.
	db, err := os.CreateTemp(parent, ".kubemacpool-snapshot-*.db")
	if err != nil {
		return result, fmt.Errorf("storing the snapshot: %w", err)
	}
	defer os.Remove(db.Name())
	if err := copyVerified(db, r); err != nil {
		db.Close()
		return result, err
	}
	if err := db.Close(); err != nil {
		return result, fmt.Errorf("storing the snapshot: %w", err)
	}

	backend, err := bolt.Open(db.Name(), 0o600, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		return result, fmt.Errorf("opening the snapshot's backend: %w", err)
	}
	defer backend.Close()
	latest, err := latestRevisions(backend)
	if err != nil {
		return result, err
	}

	server, err := Start(ctx, o)
	if err != nil {
		return result, err
	}
	defer server.Stop()
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{o.ClientURL}, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return result, fmt.Errorf("connecting to the new member: %w", err)
	}
	defer client.Close()

	var batch []clientv3.Op
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		requestCtx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		if _, err := client.Txn(requestCtx).Then(batch...).Commit(); err != nil {
			return fmt.Errorf("writing keys into the new member: %w", err)
		}
		result.Keys += len(batch)
		batch = batch[:0]
		return nil
	}
	err = backend.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(keyBucket)).ForEach(func(revision, value []byte) error {
			if len(revision) != revisionKeyLength {
				return nil
			}
			kv := &mvccpb.KeyValue{}
			if err := proto.Unmarshal(value, kv); err != nil {
				return fmt.Errorf("decoding revision %x of the snapshot: %w", revision, err)
			}
			if !bytes.Equal(latest[string(kv.Key)], revision) {
				return nil
			}
			if kv.Lease != 0 {
				result.SkippedLeased++
				return nil
			}
			batch = append(batch, clientv3.OpPut(string(kv.Key), string(kv.Value)))
			if len(batch) == putsPerTxn {
				return flush()
			}
			return nil
		})
	})
	if err == nil {
		err = flush()
	}
	return result, err
}

// latestRevisions maps every key alive at the snapshot's revision to the
// revision key of its value. Only key names and revisions are held, not
// values, so memory grows with the key count alone.
func latestRevisions(backend *bolt.DB) (map[string][]byte, error) {
	latest := map[string][]byte{}
	err := backend.View(func(tx *bolt.Tx) error {
		bucket := tx.Bucket([]byte(keyBucket))
		if bucket == nil {
			return errors.New("the snapshot has no key bucket: not an etcd v3 snapshot")
		}
		// Revision keys sort in revision order: the last one of a key
		// wins, and a tombstone removes it.
		return bucket.ForEach(func(revision, value []byte) error {
			kv := &mvccpb.KeyValue{}
			if err := proto.Unmarshal(value, kv); err != nil {
				return fmt.Errorf("decoding revision %x of the snapshot: %w", revision, err)
			}
			switch {
			case len(revision) == revisionKeyLength+1 && revision[revisionKeyLength] == tombstoneMark:
				delete(latest, string(kv.Key))
			case len(revision) == revisionKeyLength:
				latest[string(kv.Key)] = bytes.Clone(revision)
			}
			return nil
		})
	})
	return latest, err
}

// copyVerified copies a snapshot from r to file without the checksum etcd
// appends, and fails unless the checksum matches.
func copyVerified(file *os.File, r io.Reader) error {
	size, err := io.Copy(file, r)
	if err != nil {
		return fmt.Errorf("reading the snapshot: %w", err)
	}
	if size%512 != sha256.Size {
		return fmt.Errorf("the snapshot has %d bytes and no etcd checksum: not a complete `kubemacpool-apiserver snapshot save` file", size)
	}
	want := make([]byte, sha256.Size)
	if _, err := file.ReadAt(want, size-sha256.Size); err != nil {
		return fmt.Errorf("reading the snapshot's checksum: %w", err)
	}
	hash := sha256.New()
	if _, err := io.Copy(hash, io.NewSectionReader(file, 0, size-sha256.Size)); err != nil {
		return fmt.Errorf("checking the snapshot: %w", err)
	}
	if !bytes.Equal(hash.Sum(nil), want) {
		return errors.New("the snapshot's checksum does not match: the file is damaged")
	}
	if err := file.Truncate(size - sha256.Size); err != nil {
		return fmt.Errorf("storing the snapshot: %w", err)
	}
	return nil
}

// emptyOrMissing refuses to restore over data.
func emptyOrMissing(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("reading %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("%s is not empty: restore into a new data directory, or move this one away first", dir)
	}
	return nil
}
