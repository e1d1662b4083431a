package server

import (
	"context"
	"sync"
)

// budget bounds the memory held by requests across all connections.
// Unlike a FIFO semaphore, a request that fits goes ahead even while a
// larger one waits, so one big claim cannot stall every small request
// behind it.
type budget struct {
	max int64

	mu      sync.Mutex // guards used and changed
	used    int64
	changed chan struct{} // closed and replaced on every release
}

func newBudget(max int64) *budget {
	return &budget{max: max, changed: make(chan struct{})}
}

// acquire takes n bytes (at most max), waiting until they are free.
func (b *budget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.used+n <= b.max {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release returns n bytes.
func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	if b.used < 0 {
		panic("server: budget released more than acquired")
	}
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}
