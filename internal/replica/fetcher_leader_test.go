package replica

import (
	"context"
	"errors"
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

// TestFollowerWithRealLeader runs a follower Manager against a leader
// Manager through FetchForFollower: the follower copies the leader's log,
// its durable offset is what the leader counts, so the leader's high
// watermark covers a record only once the follower has it on disk, and
// the follower's high watermark is the leader's.
func TestFollowerWithRealLeader(t *testing.T) {
	var image atomic.Pointer[metadata.Image]
	setImage := func(leader, epoch int32, isr ...int32) {
		image.Store(&metadata.Image{
			Topics: map[string]*metadata.Topic{"t": {Name: "t", ID: metadata.TopicID{1}, Partitions: 1,
				Assignments: []metadata.Partition{{Replicas: []int32{leaderNode, testNode}, ISR: isr,
					Leader: leader, LeaderEpoch: epoch, PartitionEpoch: epoch}}}},
			Brokers: map[int32]*metadata.Broker{leaderNode: {ID: leaderNode, Epoch: 10}, testNode: {ID: testNode, Epoch: 11}},
		})
	}
	setImage(leaderNode, 1, leaderNode, testNode)
	newManager := func(node int32) *Manager {
		m, err := NewManager(Config{Dirs: []string{t.TempDir()}, NodeID: node, Image: image.Load, Logger: testLogger(),
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
	reconcile := func(m *Manager, node int32) {
		t.Helper()
		if err := m.Reconcile(image.Load(), node, func(*metadata.Topic) log.Config { return log.DefaultConfig() }); err != nil {
			t.Fatal(err)
		}
	}
	leaderMgr := newManager(leaderNode)
	followerMgr := newManager(testNode)
	cfg := testFetcherConfig(inProcessLeader{leaderMgr})
	cfg.BrokerEpoch = func() int64 { return 11 }
	followerMgr.SetFetchers(NewFetchers(cfg))
	reconcile(leaderMgr, leaderNode)
	reconcile(followerMgr, testNode)

	leader, err := leaderMgr.Leader("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	follower, _ := followerMgr.Get("t", 0)
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
	setImage(testNode, 2, testNode, leaderNode)
	reconcile(followerMgr, testNode)
	if _, _, ok := followerMgr.fetchers.following(TP{"t", 0}); ok {
		t.Fatal("still fetching as leader")
	}
	if _, err := followerMgr.Leader("t", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := follower.Append(testBatch(t, 1, -1, -1), appendOptions()); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
