package controller

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/metadata"
)

var ctx = context.Background()

// newTestStore is a store on a MemoryLog with brokers registered.
func newTestStore(t *testing.T, node int32, brokers ...int32) *metadata.Store {
	t.Helper()
	s := metadata.NewStore(node, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.SetLog(metadata.NewMemoryLog(s))
	if err := s.InitCluster(ctx, "test-cluster"); err != nil {
		t.Fatal(err)
	}
	for _, id := range brokers {
		if _, err := s.RegisterBroker(ctx, metadata.RegisterBrokerRecord{ID: id,
			Endpoints: []metadata.Endpoint{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9000 + id}}}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestFencingMovesLeaders: with a fake clock, a broker that stops
// heartbeating is fenced after the session timeout and its partitions lose
// their leader; its next heartbeat unfences it and they get it back with a
// higher leader epoch.
func TestFencingMovesLeaders(t *testing.T) {
	s := newTestStore(t, 1, 1, 2)
	c := NewController(s, ControllerConfig{SessionTimeout: 9 * time.Second})
	top, err := s.CreateTopic(ctx, "t", 4, 1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	c.Tick(ctx, now) // takes over: every broker gets a full session
	epoch2 := s.Image().Brokers[2].Epoch
	for step := range 10 {
		now = now.Add(time.Second)
		if err := c.Heartbeat(ctx, 1, s.Image().Brokers[1].Epoch, false, now); err != nil {
			t.Fatal(err)
		}
		c.Tick(ctx, now)
		if fenced := s.Image().Brokers[2].Fenced; fenced != (step >= 9) {
			t.Fatalf("after %d s broker 2 fenced=%v", step+1, fenced)
		}
	}
	for i, a := range s.Image().Topics["t"].Assignments {
		want := top.Assignments[i].Leader
		if want == 2 {
			want = metadata.NoLeader
		}
		if a.Leader != want {
			t.Fatalf("partition %d leader %d, want %d", i, a.Leader, want)
		}
	}
	if s.Image().LiveBrokers()[0].ID != 1 || len(s.Image().LiveBrokers()) != 1 {
		t.Fatalf("live brokers %v", s.Image().LiveBrokers())
	}
	if err := c.Heartbeat(ctx, 2, epoch2+1, false, now); !errors.Is(err, kerr.StaleBrokerEpoch) {
		t.Fatalf("heartbeat with a wrong epoch: %v", err)
	}
	if err := c.Heartbeat(ctx, 2, epoch2, false, now); err != nil {
		t.Fatal(err)
	}
	for i, a := range s.Image().Topics["t"].Assignments {
		before := top.Assignments[i]
		if a.Leader != before.Leader {
			t.Fatalf("partition %d leader %d after unfence, want %d", i, a.Leader, before.Leader)
		}
		if before.Leader == 2 && a.LeaderEpoch != before.LeaderEpoch+2 {
			t.Fatalf("partition %d leader epoch %d, want %d", i, a.LeaderEpoch, before.LeaderEpoch+2)
		}
	}
}

// TestNotLeaderDoesNothing: a controller that does not lead answers
// heartbeats with NOT_CONTROLLER and fences nobody.
func TestNotLeaderDoesNothing(t *testing.T) {
	s := newTestStore(t, 1, 1, 2)
	s.SetLog(followerLog{})
	c := NewController(s, ControllerConfig{SessionTimeout: time.Second})
	if err := c.Heartbeat(ctx, 1, s.Image().Brokers[1].Epoch, false, time.Now()); !errors.Is(err, kerr.NotController) {
		t.Fatalf("heartbeat to a follower: %v", err)
	}
	c.Tick(ctx, time.Now().Add(time.Hour))
	if len(s.Image().LiveBrokers()) != 2 {
		t.Fatal("a follower fenced brokers")
	}
}

// followerLog is the log of a node that follows leader 3.
type followerLog struct{}

func (followerLog) Propose(context.Context, []byte) error { return errors.New("not the leader") }

func (followerLog) Leader() int32 { return 3 }

// TestMemberEpoch: a member's epoch is its registration's, and moves when
// it registers again.
func TestMemberEpoch(t *testing.T) {
	s := newTestStore(t, 1)
	c := NewController(s, ControllerConfig{SessionTimeout: time.Second})
	m := NewMember(s, MemberConfig{HeartbeatInterval: time.Second, Local: c})
	if m.Epoch() != 0 {
		t.Fatalf("epoch %d before registering", m.Epoch())
	}
	var last uint64
	for range 2 {
		if err := m.Register(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := m.Epoch(), s.Image().Brokers[1].Epoch; got != want || got == last {
			t.Fatalf("member epoch %d, image %d, before %d", got, want, last)
		}
		last = m.Epoch()
	}
}

// TestRebalanceBoundedPerTick: a balance check proposes at most
// rebalancePerTickMax preferred elections; the next tick, not the next
// interval, goes on with the rest. With auto.leader.rebalance.enable off
// nothing moves.
func TestRebalanceBoundedPerTick(t *testing.T) {
	const partitions = rebalancePerTickMax + rebalancePerTickMax/2
	for _, enabled := range []bool{false, true} {
		s := newTestStore(t, 1, 1, 2)
		c := NewController(s, ControllerConfig{SessionTimeout: 9 * time.Second, AutoLeaderRebalance: enabled,
			LeaderImbalanceCheckInterval: time.Minute, LeaderImbalancePerBrokerPercentage: 10})
		replicas := make([][]int32, partitions)
		for i := range replicas {
			replicas[i] = []int32{1, 2}
		}
		if _, err := s.CreateTopic(ctx, "t", partitions, 2, replicas, nil); err != nil {
			t.Fatal(err)
		}
		now := time.Unix(1000, 0)
		c.Tick(ctx, now) // takes over: the first check is a minute later
		// Broker 1 restarts: 2 leads everything; 1 catches up everywhere.
		epoch1 := s.Image().Brokers[1].Epoch
		if err := c.Heartbeat(ctx, 1, epoch1, true, now); err != nil {
			t.Fatal(err)
		}
		if err := c.Heartbeat(ctx, 1, epoch1, false, now); err != nil {
			t.Fatal(err)
		}
		top := s.Image().Topics["t"]
		for i, p := range top.Assignments {
			if _, err := s.AlterPartition(ctx, metadata.AlterPartitionRecord{TopicID: top.ID, Partition: int32(i), Leader: 2,
				BrokerEpoch: s.Image().Brokers[2].Epoch, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: []int32{1, 2}}); err != nil {
				t.Fatal(err)
			}
		}
		ledBy1 := func() int {
			n := 0
			for _, p := range s.Image().Topics["t"].Assignments {
				if p.Leader == 1 {
					n++
				}
			}
			return n
		}
		step := func(d time.Duration, want int) {
			t.Helper()
			now = now.Add(d)
			for _, id := range []int32{1, 2} {
				if err := c.Heartbeat(ctx, id, s.Image().Brokers[id].Epoch, false, now); err != nil {
					t.Fatal(err)
				}
			}
			c.Tick(ctx, now)
			if !enabled {
				want = 0
			}
			if got := ledBy1(); got != want {
				t.Fatalf("enabled=%v: after %v broker 1 leads %d partitions, want %d", enabled, d, got, want)
			}
		}
		step(59*time.Second, 0)
		step(time.Second, rebalancePerTickMax)
		step(250*time.Millisecond, partitions)
	}
}

// TestMemberWaitCaughtUp: a member is caught up once its image has
// applied its registration and shows it unfenced: not before it
// registered, not while fenced, not while its image lags the record.
func TestMemberWaitCaughtUp(t *testing.T) {
	s := newTestStore(t, 1)
	c := NewController(s, ControllerConfig{SessionTimeout: time.Second})
	m := NewMember(s, MemberConfig{HeartbeatInterval: time.Second, Local: c})
	waitShort := func(m *Member) error {
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		return m.WaitCaughtUp(ctx)
	}
	if err := waitShort(m); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caught up before registering: %v", err)
	}
	if err := m.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if err := waitShort(m); err != nil {
		t.Fatalf("not caught up after registering through the local controller: %v", err)
	}
	if err := s.FenceBroker(ctx, 1, m.Epoch(), true); err != nil {
		t.Fatal(err)
	}
	if err := waitShort(m); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caught up while fenced: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.WaitCaughtUp(ctx) }()
	time.Sleep(20 * time.Millisecond)
	if err := s.FenceBroker(ctx, 1, m.Epoch(), false); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("not caught up once unfenced: %v", err)
	}

	// A node whose image lags (an observer, a Raft follower): caught up
	// only once it applied the registration.
	lagging := metadata.NewStore(1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	lagging.SetLog(followerLog{})
	late := NewMember(lagging, MemberConfig{HeartbeatInterval: time.Second})
	late.epoch.Store(m.Epoch())
	if err := waitShort(late); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caught up with an empty image: %v", err)
	}
	index, data, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := lagging.Restore(index, data); err != nil {
		t.Fatal(err)
	}
	if err := waitShort(late); err != nil {
		t.Fatalf("not caught up after applying the registration: %v", err)
	}
}
