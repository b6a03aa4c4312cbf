package networkattachment

import (
	"sync"
	"time"

	"k8s.io/client-go/util/flowcontrol"
)

// A Pod names up to 32 networks, and its creator chooses the names: each
// one the informer does not hold is read from kube-apiserver during the
// admission. Unbounded, a tenant creating Pods that name definitions that
// do not exist would make this server read kube-apiserver 32 times for
// each, under the server's own identity and priority. Those reads serve
// only definitions created a moment ago (the informer has the others), so
// few are needed.
const (
	// liveReadQPS and liveReadBurst bound the reads of definitions that
	// the informer does not hold, for every namespace together. Past them
	// an admission that needs one is told to try again (503).
	liveReadQPS   = 50
	liveReadBurst = 100
	// missingFor is how long a definition kube-apiserver did not find is
	// taken as missing without asking again: the Pods of one workload name
	// the same networks.
	missingFor = time.Second
	// maxMissing bounds what is remembered; at the read rate above it is
	// never reached.
	maxMissing = 4096
	// requesterReadQPS and requesterReadBurst bound the reads for the
	// objects of one namespace (a Pod names up to 32 networks).
	requesterReadQPS   = 10
	requesterReadBurst = 32
	// maxRequesters bounds the namespaces whose use of their share is
	// remembered: only those that read in the last few seconds are, far
	// fewer at the rate above.
	maxRequesters = 4096
)

// liveReads bounds the reads of definitions that the informer does not
// hold.
type liveReads struct {
	limiter flowcontrol.RateLimiter
	mu      sync.Mutex
	// missing holds when each definition was found missing, by
	// namespace/name.
	missing map[string]time.Time
	// requesters are the shares of the namespaces that read lately: one
	// namespace naming made-up definitions (in any namespace) would
	// otherwise use up the reads of all.
	requesters map[string]share
}

// share is one namespace's token bucket: tokens at at.
type share struct {
	tokens float64
	at     time.Time
}

func (b share) refilled(now time.Time) float64 {
	return min(requesterReadBurst, b.tokens+now.Sub(b.at).Seconds()*requesterReadQPS)
}

// take takes one of requester's reads at now; false when it has none left.
func (r *liveReads) take(requester string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, found := r.requesters[requester]
	if !found {
		if len(r.requesters) >= maxRequesters {
			for other, b := range r.requesters {
				if b.refilled(now) >= requesterReadBurst {
					delete(r.requesters, other)
				}
			}
			if len(r.requesters) >= maxRequesters {
				return false
			}
		}
		b = share{tokens: requesterReadBurst, at: now}
	}
	tokens := b.refilled(now)
	if tokens < 1 {
		return false
	}
	r.requesters[requester] = share{tokens: tokens - 1, at: now}
	return true
}

// giveBack returns the read take took, which was not made.
func (r *liveReads) giveBack(requester string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, found := r.requesters[requester]; found {
		b.tokens = min(requesterReadBurst, b.tokens+1)
		r.requesters[requester] = b
	}
}

func newLiveReads() *liveReads {
	return &liveReads{limiter: flowcontrol.NewTokenBucketRateLimiter(liveReadQPS, liveReadBurst), missing: map[string]time.Time{}, requesters: map[string]share{}}
}

// knownMissing tells a definition found missing less than missingFor ago.
func (r *liveReads) knownMissing(key string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, found := r.missing[key]
	return found && now.Sub(at) < missingFor
}

// foundMissing remembers that key was found missing at now.
func (r *liveReads) foundMissing(key string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.missing) >= maxMissing {
		for other, at := range r.missing {
			if now.Sub(at) >= missingFor {
				delete(r.missing, other)
			}
		}
	}
	if len(r.missing) < maxMissing {
		r.missing[key] = now
	}
}
