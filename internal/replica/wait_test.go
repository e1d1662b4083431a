package replica

import (
	"context"
	"errors"
	"testing"
	"time"
)

// waitTimeout bounds a wait the test expects to end at once: long enough
// for a loaded machine, short enough to fail fast.
const waitTimeout = 10 * time.Second

// appendDurable appends n records and waits for their fsync.
func appendDurable(t *testing.T, p *Partition, n int) {
	t.Helper()
	res, err := p.Append(testBatch(t, n, -1, -1), appendOptions())
	if err != nil {
		t.Error(err)
		return
	}
	if err := p.WaitDurable(context.Background(), res.NextOffset); err != nil {
		t.Error(err)
	}
}

// TestWaiterWakesOnAppend: a Waiter blocked in Wait wakes when a watched
// partition's high watermark moves, and not for an unwatched one.
func TestWaiterWakesOnAppend(t *testing.T) {
	c := newTestCluster(t)
	c.setTopic("u", 2, 1, testNode, 0)
	p := c.partition(0)
	other, err := c.m.Leader("u", 0)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWaiter()
	defer w.Close()
	w.Watch(p)

	appendDurable(t, other, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := w.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("an unwatched partition woke the waiter: %v", err)
	}
	cancel()

	woken := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		woken <- w.Wait(ctx)
	}()
	appendDurable(t, p, 1)
	if err := <-woken; err != nil {
		t.Errorf("Wait after an append = %v, want woken", err)
	}
}

// TestWaiterNoLostWakeUp: a move between Watch and Wait is remembered, so
// the read-Watch-read-Wait pattern never sleeps through new data: each
// round appends concurrently with the watcher's second read.
func TestWaiterNoLostWakeUp(t *testing.T) {
	c := newTestCluster(t)
	p := c.partition(0)
	for round := range 20 {
		seen := p.HighWatermark() // the first read
		w := NewWaiter()
		w.Watch(p)
		done := make(chan struct{})
		go func() {
			defer close(done)
			appendDurable(t, p, 1)
		}()
		if p.HighWatermark() == seen { // the second read found nothing new: wait
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			if err := w.Wait(ctx); err != nil {
				t.Fatalf("round %d: the append's wake-up was lost: %v", round, err)
			}
			cancel()
		}
		<-done
		w.Close()
	}
}

// TestWaiterContext: Wait returns the context's error when it ends first.
func TestWaiterContext(t *testing.T) {
	c := newTestCluster(t)
	p := c.partition(0)
	w := NewWaiter()
	defer w.Close()
	w.Watch(p)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Wait(ctx) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled context = %v", err)
	}
}

// TestWaiterWakesOnClose: a partition that closes (its topic deleted)
// wakes its waiters, whose next read finds it gone; after Close the
// Waiter hears nothing more.
func TestWaiterWakesOnClose(t *testing.T) {
	c := newTestCluster(t)
	p := c.partition(0)
	w := NewWaiter()
	w.Watch(p)
	c.deleteTopic("t")
	c.reconcile()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := w.Wait(ctx); err != nil {
		t.Fatalf("closing the partition did not wake the waiter: %v", err)
	}
	w.Close()
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if len(p.watchers) != 0 {
		t.Errorf("%d watchers left after Close", len(p.watchers))
	}
}
