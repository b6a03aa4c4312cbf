package certificate

import (
	"bytes"
	"sync"

	"k8s.io/apiserver/pkg/server/dynamiccertificates"
)

// ServingContent is the serving certificate the secure port presents. The
// manager fills it from the Secret; k8s.io/apiserver's dynamic serving
// controller reads it on every change, so a renewal needs no restart.
type ServingContent struct {
	mu        sync.RWMutex
	cert, key []byte
	listeners []dynamiccertificates.Listener
}

var _ dynamiccertificates.CertKeyContentProvider = &ServingContent{}

// Name identifies the content in the server's logs.
func (s *ServingContent) Name() string { return "kubemacpool-managed-serving-certificate" }

// CurrentCertKeyContent returns the PEM certificate and key.
func (s *ServingContent) CurrentCertKeyContent() ([]byte, []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cert, s.key
}

// AddListener registers l to hear about every change.
func (s *ServingContent) AddListener(l dynamiccertificates.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners = append(s.listeners, l)
}

// set replaces the content and tells the listeners; it reports whether the
// content changed.
func (s *ServingContent) set(cert, key []byte) bool {
	s.mu.Lock()
	if bytes.Equal(cert, s.cert) && bytes.Equal(key, s.key) {
		s.mu.Unlock()
		return false
	}
	s.cert, s.key = bytes.Clone(cert), bytes.Clone(key)
	listeners := append([]dynamiccertificates.Listener(nil), s.listeners...)
	s.mu.Unlock()
	for _, l := range listeners {
		l.Enqueue()
	}
	return true
}

// loaded tells whether the content has ever been set.
func (s *ServingContent) loaded() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.cert) > 0
}
