package broker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/controller"
	"github.com/sluice-dev/sluice/internal/metadata"
)

// TestControlledShutdownMovesLeadership: a stopping broker tells the
// controller and returns once the image shows it leads nothing; the
// partitions it led moved to the other ISR member.
func TestControlledShutdownMovesLeadership(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := metadata.NewStore(1, logger)
	store.SetLog(metadata.NewMemoryLog(store))
	if err := store.InitCluster(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	ctrl := controller.NewController(store, controller.ControllerConfig{SessionTimeout: time.Minute})
	member := controller.NewMember(store, controller.MemberConfig{HeartbeatInterval: time.Second, Local: ctrl})
	if err := member.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.RegisterBroker(ctx, metadata.RegisterBrokerRecord{ID: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateTopic(ctx, "t", 2, 2, [][]int32{{1, 2}, {2, 1}}, nil); err != nil {
		t.Fatal(err)
	}
	if ledBy(store.Image(), 1) != 1 {
		t.Fatalf("node 1 leads %d partitions, want 1", ledBy(store.Image(), 1))
	}
	// Nothing moves leadership yet: the wait ends with its context.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := waitLeadsNothing(short, store, time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait while leading: %v", err)
	}
	// A wait under way ends when the leadership moves.
	waited := make(chan error, 1)
	go func() {
		long, cancel := context.WithTimeout(ctx, shutdownWait)
		defer cancel()
		waited <- waitLeadsNothing(long, store, time.Millisecond)
	}()
	c := &cluster{store: store, member: member, logger: logger}
	start := time.Now()
	c.shutdown()
	if err := <-waited; err != nil {
		t.Fatalf("wait under way: %v", err)
	}
	if took := time.Since(start); took > shutdownWait/2 {
		t.Fatalf("shutdown took %v", took)
	}
	im := store.Image()
	if !im.Brokers[1].Fenced || ledBy(im, 1) != 0 || im.Topics["t"].Assignments[0].Leader != 2 {
		t.Fatalf("after shutdown: broker 1 fenced=%v, leads %d, partition 0 %+v",
			im.Brokers[1].Fenced, ledBy(im, 1), im.Topics["t"].Assignments[0])
	}
}
