package replica

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// WaitDurable waits until offsets below next are fsynced, or ctx ends
// (the client went away or its deadline passed) and returns ctx.Err().
// Concurrent waiters share fsyncs. A waiter that gives up leaves its
// records to a background fsync, so they still reach the disk and the
// high watermark.
func (p *Partition) WaitDurable(ctx context.Context, next int64) error {
	err := p.log.WaitDurableContext(ctx, next)
	if err == nil || (ctx.Err() != nil && errors.Is(err, ctx.Err())) {
		return err
	}
	return fmt.Errorf("%w: %w", kerr.KafkaStorageError, err)
}

// SyncSoon starts an fsync of everything appended so far in the
// background: appends nobody waits for (acks=0) still reach the disk and
// the high watermark.
func (p *Partition) SyncSoon() { p.log.SyncSoon() }

// Waiter waits for the high watermark of any partition it watches to move:
// a fetch long poll. The caller reads, Watches the partitions it read,
// reads again, then Waits: a move before Watch is seen by the second read,
// a move after it wakes Wait, so no wake-up is lost.
type Waiter struct {
	// woken holds at most one pending wake-up: moves while nobody waits
	// are remembered, many moves count as one.
	woken   chan struct{}
	watched []*Partition
}

// NewWaiter returns a Waiter watching nothing yet.
func NewWaiter() *Waiter {
	return &Waiter{woken: make(chan struct{}, 1)}
}

// Watch adds p: a later move of its high watermark, or its closing, wakes
// Wait.
func (w *Waiter) Watch(p *Partition) {
	p.watch(w.woken)
	w.watched = append(w.watched, p)
}

// Wait returns nil once a watched partition's high watermark moved since
// Watch or the last Wait, or ctx.Err() when ctx ends first.
func (w *Waiter) Wait(ctx context.Context) error {
	select {
	case <-w.woken:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops watching every partition. The Waiter may Watch again.
func (w *Waiter) Close() {
	for _, p := range w.watched {
		p.unwatch(w.woken)
	}
	w.watched = nil
}

// WatchLogEnd adds p as Watch does, and makes appends to it wake Wait
// too: a replica's fetch long poll waits for records past the high
// watermark.
func (w *Waiter) WatchLogEnd(p *Partition) {
	p.watch(w.woken)
	p.watchLogEnd(w.woken)
	w.watched = append(w.watched, p)
}
