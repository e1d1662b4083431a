package metadata

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// proposeWaitSlack is how late past its context's end a mutator may
// return: the wait ends on ctx.Done, not on a poll.
const proposeWaitSlack = time.Second

// TestMutatorsEndWithTheirContext: a change the log never commits returns
// when its context ends, with an error that is both REQUEST_TIMED_OUT
// (what clients hear) and the context's error; a context already done
// proposes nothing.
func TestMutatorsEndWithTheirContext(t *testing.T) {
	s := newTestStore(t, 1, 1)
	if _, err := s.CreateTopic(ctx, "existing", 1, 1, nil, nil); err != nil {
		t.Fatal(err)
	}
	log := &testutil.StuckLog{LeaderID: 1}
	s.SetLog(log)
	mutators := map[string]func(context.Context) error{
		"CreateTopic": func(ctx context.Context) error {
			_, err := s.CreateTopic(ctx, "t", 1, 1, nil, nil)
			return err
		},
		"DeleteTopic":   func(ctx context.Context) error { return s.DeleteTopic(ctx, "existing") },
		"SetConfigs":    func(ctx context.Context) error { return s.SetConfigs(ctx, "existing", map[string]string{"a": "b"}) },
		"SetPartitions": func(ctx context.Context) error { return s.SetPartitions(ctx, "existing", 2) },
		"AllocateProducerIDs": func(ctx context.Context) error {
			_, err := s.AllocateProducerIDs(ctx, 10)
			return err
		},
		"ImportTopic": func(ctx context.Context) error {
			return s.ImportTopic(ctx, CreateTopicRecord{Name: "imported", ID: newID(), Replicas: [][]int32{{1}}})
		},
	}
	for name, mutate := range mutators {
		t.Run(name+"/deadline", func(t *testing.T) {
			const wait = 50 * time.Millisecond
			// start is taken before the deadline is set, so a return at
			// the deadline is never measured as early.
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			before := log.Proposals.Load()
			err := mutate(ctx)
			took := time.Since(start)
			if !errors.Is(err, kerr.RequestTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %v, want REQUEST_TIMED_OUT wrapping the deadline", err)
			}
			if took < wait || took > wait+proposeWaitSlack {
				t.Fatalf("returned after %v with a %v deadline", took, wait)
			}
			if log.Proposals.Load() != before+1 {
				t.Fatalf("%d proposals, want 1", log.Proposals.Load()-before)
			}
		})
		t.Run(name+"/cancelled", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			before := log.Proposals.Load()
			err := mutate(ctx)
			if !errors.Is(err, kerr.RequestTimedOut) || !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want REQUEST_TIMED_OUT wrapping the cancellation", err)
			}
			if log.Proposals.Load() != before {
				t.Fatal("a change was proposed under a context already done")
			}
		})
	}
	if len(s.Image().Topics) != 1 {
		t.Fatalf("topics %v changed with nothing committed", s.Image().Topics)
	}
	s.mu.Lock()
	waiting := len(s.waiters)
	s.mu.Unlock()
	if waiting != 0 {
		t.Fatalf("%d proposals still waiting after their contexts ended", waiting)
	}
}

// TestCancelWhileWaiting: cancelling a waiting change ends it at once.
func TestCancelWhileWaiting(t *testing.T) {
	s := newTestStore(t, 1, 1)
	log := &testutil.StuckLog{LeaderID: 1}
	s.SetLog(log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.CreateTopic(ctx, "t", 1, 1, nil, nil)
		done <- err
	}()
	testutil.Eventually(t, proposeWaitSlack, "the change to be proposed", func() bool { return log.Proposals.Load() > 0 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, kerr.RequestTimedOut) || !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want REQUEST_TIMED_OUT wrapping the cancellation", err)
		}
	case <-time.After(proposeWaitSlack):
		t.Fatal("a cancelled change kept waiting")
	}
}
