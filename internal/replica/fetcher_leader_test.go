package replica

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/metadata"
)

// inProcessLeader is a Transport to a real leader's Manager in the same
// process: each fetch goes through Manager.Follower and
// Partition.FetchForFollower as the handler's replica fetch does, so the
// leader's high watermark and ISR follow the follower's offsets.
type inProcessLeader struct {
	m *Manager
}

func (l inProcessLeader) Open(leader int32) (FetchConn, error) { return l, nil }
func (l inProcessLeader) Close()                               {}

func (l inProcessLeader) Fetch(ctx context.Context, req *FetchRequest) (*FetchResponse, error) {
	resp := &FetchResponse{}
	for _, fp := range req.Partitions {
		r := FetchedPartition{Topic: fp.Topic, Partition: fp.Partition, HighWatermark: -1, LogStartOffset: -1,
			DivergingEpoch: -1, DivergingEndOffset: -1}
		p, err := l.m.Follower(fp.Topic, fp.Partition, req.ReplicaID, req.BrokerEpoch)
		if err != nil {
			r.Err = err
			resp.Partitions = append(resp.Partitions, r)
			continue
		}
		got, err := p.FetchForFollower(FollowerFetch{Replica: req.ReplicaID, FetchOffset: fp.FetchOffset,
			LastFetchedEpoch: fp.LastFetchedEpoch, CurrentLeaderEpoch: fp.CurrentLeaderEpoch,
			MaxBytes: int(fp.MaxBytes), MinOne: true, Now: time.Now()})
		r.Err, r.HighWatermark, r.LogStartOffset = err, got.HighWatermark, got.LogStartOffset
		if got.Diverging != nil {
			r.DivergingEpoch, r.DivergingEndOffset = got.Diverging.Epoch, got.Diverging.EndOffset
		}
		if got.Records.Len() > 0 {
			r.Records, err = got.Records.AppendTo(nil)
			got.Records.Release()
			if err != nil {
				return nil, err
			}
		}
		resp.Partitions = append(resp.Partitions, r)
	}
	// A short long poll when nothing came, so the loop does not spin.
	if empty := func() bool {
		for _, r := range resp.Partitions {
			if len(r.Records) > 0 {
				return false
			}
		}
		return true
	}(); empty {
		select {
		case <-time.After(pollWait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return resp, nil
}

// leaderFollowerPair is a leader Manager (leaderNode) and a follower
// Manager (testNode) sharing an image, the follower fetching through
// inProcessLeader.
type leaderFollowerPair struct {
	t                *testing.T
	image            atomic.Pointer[metadata.Image]
	leader, follower *Manager
	partitions       int32
}

// newLeaderFollowerPair starts both Managers with topic "t" of the given
// partitions, replicas [leaderNode, testNode], led by leaderNode in
// epoch 1 with both in the ISR.
func newLeaderFollowerPair(t *testing.T, partitions int32, numFetchers int) *leaderFollowerPair {
	lf := &leaderFollowerPair{t: t, partitions: partitions}
	lf.setImage(leaderNode, 1, leaderNode, testNode)
	newManager := func(node int32) *Manager {
		m, err := NewManager(Config{Dirs: []string{t.TempDir()}, NodeID: node, Image: lf.image.Load, Logger: testLogger(),
			BrokerEpoch: func() uint64 { return uint64(9 + node) }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := m.Close(); err != nil {
				t.Errorf("close broker %d: %v", node, err)
			}
		})
		return m
	}
	lf.leader = newManager(leaderNode)
	lf.follower = newManager(testNode)
	cfg := testFetcherConfig(inProcessLeader{lf.leader})
	cfg.BrokerEpoch = func() int64 { return 11 }
	cfg.NumFetchers = numFetchers
	lf.follower.SetFetchers(NewFetchers(cfg))
	lf.reconcile(lf.leader, leaderNode)
	lf.reconcile(lf.follower, testNode)
	return lf
}

// setImage makes every partition of "t" led by leader in epoch with isr.
func (lf *leaderFollowerPair) setImage(leader, epoch int32, isr ...int32) {
	topic := &metadata.Topic{Name: "t", ID: metadata.TopicID{1}, Partitions: lf.partitions}
	for range lf.partitions {
		topic.Assignments = append(topic.Assignments, metadata.Partition{Replicas: []int32{leaderNode, testNode},
			ISR: isr, Leader: leader, LeaderEpoch: epoch, PartitionEpoch: epoch})
	}
	lf.image.Store(&metadata.Image{
		Topics:  map[string]*metadata.Topic{"t": topic},
		Brokers: map[int32]*metadata.Broker{leaderNode: {ID: leaderNode, Epoch: 10}, testNode: {ID: testNode, Epoch: 11}},
	})
}

func (lf *leaderFollowerPair) reconcile(m *Manager, node int32) {
	lf.t.Helper()
	if err := m.Reconcile(lf.image.Load(), node, func(*metadata.Topic) log.Config { return log.DefaultConfig() }); err != nil {
		lf.t.Fatal(err)
	}
}

// TestFollowerWithRealLeader runs a follower Manager against a leader
// Manager through FetchForFollower: the follower copies the leader's log,
// its durable offset is what the leader counts, so the leader's high
// watermark covers a record only once the follower has it on disk, and
// the follower's high watermark is the leader's.
func TestFollowerWithRealLeader(t *testing.T) {
	lf := newLeaderFollowerPair(t, 1, 1)
	leader, err := lf.leader.Leader("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	follower, _ := lf.follower.Get("t", 0)
	for range 3 {
		res, err := leader.Append(testBatch(t, 2, -1, -1), appendOptions())
		if err != nil {
			t.Fatal(err)
		}
		// acks=all: the leader's fsync, then the follower's.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = leader.WaitReplicated(ctx, res.NextOffset, 2)
		cancel()
		if err != nil {
			t.Fatalf("WaitReplicated: %v", err)
		}
		if d := follower.log.Durable(); d < res.NextOffset {
			t.Fatalf("leader's high watermark reached %d with the follower durable to %d", res.NextOffset, d)
		}
	}
	eventually(t, "the follower's high watermark", caughtUp(follower, leader))
	sameLog(t, follower, leader)

	// Leadership moves here in epoch 2: fetching stops, appends work.
	lf.setImage(testNode, 2, testNode, leaderNode)
	lf.reconcile(lf.follower, testNode)
	if _, _, ok := lf.follower.fetchers.following(TP{"t", 0}); ok {
		t.Fatal("still fetching as leader")
	}
	if _, err := lf.follower.Leader("t", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := follower.Append(testBatch(t, 1, -1, -1), appendOptions()); err != nil {
		t.Fatal(err)
	}
}

// TestFollowerManyPartitions: partitions spread over two fetchers, each
// answer's partitions fsynced together, every one copied.
func TestFollowerManyPartitions(t *testing.T) {
	const partitions = 8
	lf := newLeaderFollowerPair(t, partitions, 2)
	lf.follower.fetchers.mu.Lock()
	fetchers := len(lf.follower.fetchers.fetchers)
	lf.follower.fetchers.mu.Unlock()
	if fetchers != 2 {
		t.Errorf("%d fetchers for %d partitions of one leader, want 2", fetchers, partitions)
	}
	for round := range 5 {
		for i := range int32(partitions) {
			p, err := lf.leader.Leader("t", i)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Append(testBatch(t, 1+round, -1, -1), appendOptions()); err != nil {
				t.Fatal(err)
			}
			p.SyncSoon()
		}
	}
	for i := range int32(partitions) {
		leader, _ := lf.leader.Get("t", i)
		follower, _ := lf.follower.Get("t", i)
		eventually(t, "catch-up", caughtUp(follower, leader))
		sameLog(t, follower, leader)
	}
}
