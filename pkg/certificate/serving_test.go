package certificate

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
)

// countingListener counts how often the dynamic serving controller would
// have been told to reload.
type countingListener struct{ n atomic.Int32 }

func (l *countingListener) Enqueue() { l.n.Add(1) }

func expectContent(t *testing.T, s *ServingContent, wantCert, wantKey []byte) {
	t.Helper()
	cert, key := s.CurrentCertKeyContent()
	if !bytes.Equal(cert, wantCert) || !bytes.Equal(key, wantKey) {
		t.Errorf("CurrentCertKeyContent() = %q, %q; want %q, %q", cert, key, wantCert, wantKey)
	}
}

func TestServingContent(t *testing.T) {
	s := &ServingContent{}
	if s.Name() == "" {
		t.Error("the serving content has no name for the server's logs")
	}
	if s.loaded() {
		t.Error("an empty serving content says it is loaded")
	}
	expectContent(t, s, nil, nil)

	first, second := &countingListener{}, &countingListener{}
	s.AddListener(first)
	s.AddListener(second)
	expectListened := func(step string, want int32) {
		t.Helper()
		if got1, got2 := first.n.Load(), second.n.Load(); got1 != want || got2 != want {
			t.Errorf("%s: the listeners were told %d and %d times, want %d each", step, got1, got2, want)
		}
	}

	cert, key := []byte("cert-1"), []byte("key-1")
	if !s.set(cert, key) {
		t.Error("the first content was not reported as a change")
	}
	expectContent(t, s, []byte("cert-1"), []byte("key-1"))
	expectListened("first content", 1)
	if !s.loaded() {
		t.Error("the serving content does not say it is loaded after it was set")
	}

	// The content is a copy: a caller reusing its buffers changes nothing.
	cert[0], key[0] = 'X', 'X'
	expectContent(t, s, []byte("cert-1"), []byte("key-1"))

	if s.set([]byte("cert-1"), []byte("key-1")) {
		t.Error("the same content again was reported as a change")
	}
	expectListened("the same content again", 1)

	// A new key alone is a change: the pair must reload together.
	if !s.set([]byte("cert-1"), []byte("key-2")) {
		t.Error("a new key was not reported as a change")
	}
	expectContent(t, s, []byte("cert-1"), []byte("key-2"))
	expectListened("a new key", 2)

	if !s.set([]byte("cert-2"), []byte("key-2")) {
		t.Error("a new certificate was not reported as a change")
	}
	expectContent(t, s, []byte("cert-2"), []byte("key-2"))
	expectListened("a new certificate", 3)
}

// The secure port reads the content while the manager renews it; the
// reader must always get a pair that was set together.
func TestServingContentConcurrentReaders(t *testing.T) {
	s := &ServingContent{}
	pairs := [][2][]byte{{[]byte("cert-a"), []byte("key-a")}, {[]byte("cert-b"), []byte("key-b")}}
	s.set(pairs[0][0], pairs[0][1])
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var torn atomic.Int32
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				cert, key := s.CurrentCertKeyContent()
				if cert[len(cert)-1] != key[len(key)-1] {
					torn.Add(1)
				}
			}
		})
	}
	for i := range 1000 {
		p := pairs[i%2]
		s.set(p[0], p[1])
		s.AddListener(&countingListener{})
	}
	close(stop)
	wg.Wait()
	if n := torn.Load(); n > 0 {
		t.Errorf("%d reads returned a certificate and a key of different pairs", n)
	}
}
