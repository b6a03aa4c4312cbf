package apiserver

import (
	"context"
	"io"
	"sync"

	"k8s.io/klog/v2"
)

// termGroup counts the lease controller's terms that run in this process,
// so that what they use outlives them: a term saves the Pod watch
// checkpoint once more as it ends (leasecontroller's saveCheckpoints),
// after the server's context is done. Once the server stops no term
// begins: client-go's leader election starts a term in a goroutine of its
// own, which may run only after the server stopped.
type termGroup struct {
	mu      sync.Mutex
	stopped bool
	// running counts the terms that began; Add only under mu and before
	// stopped, so that stop's Wait never races an Add.
	running sync.WaitGroup
}

// begin registers a term; false once the server stopped, and then the term
// must not run.
func (g *termGroup) begin() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	g.running.Add(1)
	return true
}

// end is the return of a term that began.
func (g *termGroup) end() { g.running.Done() }

// stop lets no term begin and waits for those that run to end.
func (g *termGroup) stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	g.running.Wait()
}

// closeAfterTerms closes c once ctx is done and the last term has ended
// (its last checkpoint saved).
func closeAfterTerms(ctx context.Context, terms *termGroup, c io.Closer) {
	<-ctx.Done()
	terms.stop()
	if err := c.Close(); err != nil {
		klog.V(2).InfoS("Closing the Pod watch checkpoints' etcd client", "err", err)
	}
}
