package macindex

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

var errAlreadyExists = errors.New("lease already exists")

func isAlreadyExists(err error) bool { return errors.Is(err, errAlreadyExists) }

// fakeStorage stands in for the lease store: creating a second lease for the
// same address fails with errAlreadyExists, as the API server does.
type fakeStorage struct {
	mu      sync.Mutex
	leases  map[mac.Address]bool
	creates int
}

func newFakeStorage() *fakeStorage { return &fakeStorage{leases: map[mac.Address]bool{}} }

func (s *fakeStorage) create(_ context.Context, a mac.Address) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creates++
	if s.leases[a] {
		return fmt.Errorf("lease %s: %w", a.Name(), errAlreadyExists)
	}
	s.leases[a] = true
	return nil
}

func TestAllocateRetriesPastConflicts(t *testing.T) {
	r := rng("02:00:00:00:00:00", "02:00:00:00:00:07")
	storage := newFakeStorage()
	// Another replica has leased five of the eight addresses, and our watch
	// has not seen any of them yet.
	for a := r.Start; a < r.Start+5; a++ {
		storage.leases[a] = true
	}
	taken := NewTakenSet()
	p := newPool(t, "racy", taken, r)

	got := map[mac.Address]bool{}
	for i := 0; i < 3; i++ {
		a, err := Allocate(context.Background(), p, storage.create, isAlreadyExists)
		if err != nil {
			t.Fatalf("Allocate %d: %v", i, err)
		}
		if a < r.Start+5 || got[a] {
			t.Fatalf("Allocate %d returned %s, which was already leased", i, a)
		}
		got[a] = true
	}
	if storage.creates != 8 {
		t.Fatalf("%d creates, want 8: each conflict is tried once and then remembered", storage.creates)
	}
	if taken.Len() != 8 {
		t.Fatalf("taken set holds %d addresses, want all 8 (conflicts are marked taken)", taken.Len())
	}
	_, err := Allocate(context.Background(), p, storage.create, isAlreadyExists)
	if !errors.As(err, new(*ExhaustedError)) {
		t.Fatalf("fourth Allocate error = %v, want *ExhaustedError", err)
	}
}

func TestAllocateErrors(t *testing.T) {
	r := rng("02:00:00:00:00:00", "02:00:00:00:03:ff")
	boom := errors.New("etcd unavailable")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		create    func(context.Context, mac.Address) error
		wantIs    error
		wantText  string
		wantTaken uint64
	}{
		{
			name:      "other error releases the candidate",
			ctx:       context.Background(),
			create:    func(context.Context, mac.Address) error { return boom },
			wantIs:    boom,
			wantText:  `MAC pool "p": creating the lease for 02:00:00:00:`,
			wantTaken: 0,
		},
		{
			name:      "every candidate conflicts",
			ctx:       context.Background(),
			create:    func(_ context.Context, a mac.Address) error { return fmt.Errorf("%s: %w", a, errAlreadyExists) },
			wantIs:    ErrTooManyConflicts,
			wantText:  `MAC pool "p": gave up after 64 candidates in a row were already leased`,
			wantTaken: 64,
		},
		{
			name:      "canceled context",
			ctx:       canceled,
			create:    func(context.Context, mac.Address) error { return errors.New("create called") },
			wantIs:    context.Canceled,
			wantText:  `allocating a MAC from pool "p"`,
			wantTaken: 0,
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			taken := NewTakenSet()
			p := newPool(t, "p", taken, r)
			_, err := Allocate(test.ctx, p, test.create, isAlreadyExists)
			if !errors.Is(err, test.wantIs) || !strings.Contains(err.Error(), test.wantText) {
				t.Fatalf("error = %v, want one wrapping %v and containing %q", err, test.wantIs, test.wantText)
			}
			if taken.Len() != test.wantTaken {
				t.Fatalf("taken set holds %d addresses, want %d", taken.Len(), test.wantTaken)
			}
		})
	}
}

func TestAllocateConcurrent(t *testing.T) {
	const goroutines, each = 16, 500
	r := rng("02:00:00:00:00:00", "02:00:00:00:27:0f") // 10,000 addresses
	if r.Size() != 10000 {
		t.Fatalf("test range has %d addresses", r.Size())
	}
	storage := newFakeStorage()
	p := newPool(t, "busy", NewTakenSet(), r)

	results := make([][]mac.Address, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				a, err := Allocate(context.Background(), p, storage.create, isAlreadyExists)
				if err != nil {
					t.Errorf("Allocate: %v", err)
					return
				}
				results[g] = append(results[g], a)
			}
		})
	}
	wg.Wait()

	distinct := map[mac.Address]bool{}
	for _, rs := range results {
		for _, a := range rs {
			if !r.Contains(a) {
				t.Fatalf("%s is outside the pool", a)
			}
			distinct[a] = true
		}
	}
	if len(distinct) != goroutines*each {
		t.Fatalf("%d distinct addresses, want %d", len(distinct), goroutines*each)
	}
	if storage.creates != goroutines*each {
		t.Fatalf("%d creates for %d allocations: one process never conflicts with itself", storage.creates, goroutines*each)
	}
	if capacity, allocated, free := p.Stats(); capacity != 10000 || allocated != 8000 || free != 2000 {
		t.Fatalf("Stats() = %d, %d, %d", capacity, allocated, free)
	}
}

// TestAllocateTwoReplicas runs two replicas, each with its own TakenSet and
// cursor, against one storage, with a stand-in watch feeding each replica's
// set from the other's successful creates. Storage uniqueness plus the
// AlreadyExists retry must give every allocation a distinct address.
func TestAllocateTwoReplicas(t *testing.T) {
	r := rng("02:00:00:00:00:00", "02:00:00:00:01:ff") // 512 addresses
	storage := newFakeStorage()
	sets := []*TakenSet{NewTakenSet(), NewTakenSet()}
	var wg sync.WaitGroup
	results := make([][]mac.Address, 2)
	for replica := range 2 {
		// Both replicas start from the same seed, so they race for the same
		// addresses as hard as possible.
		p, err := NewPool("shared", []mac.Range{r}, sets[replica], seeded(42))
		if err != nil {
			t.Fatal(err)
		}
		watchOther := func(ctx context.Context, a mac.Address) error {
			err := storage.create(ctx, a)
			if err == nil {
				sets[1-replica].Add(a)
			}
			return err
		}
		wg.Go(func() {
			for range 200 {
				a, err := Allocate(context.Background(), p, watchOther, isAlreadyExists)
				if err != nil {
					t.Errorf("replica %d: %v", replica, err)
					return
				}
				results[replica] = append(results[replica], a)
			}
		})
	}
	wg.Wait()
	distinct := map[mac.Address]bool{}
	for _, rs := range results {
		for _, a := range rs {
			if distinct[a] {
				t.Fatalf("%s allocated twice", a)
			}
			distinct[a] = true
		}
	}
	if len(distinct) != 400 {
		t.Fatalf("%d distinct allocations, want 400", len(distinct))
	}
	t.Logf("%d creates lost the race to the other replica", storage.creates-400)
}
