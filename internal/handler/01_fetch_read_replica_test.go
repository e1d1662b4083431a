package handler

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/testutil/brokertest"
)

// rackAwareHandler is protoHandler with replica.selector.class set to
// Kafka's rack-aware selector.
func rackAwareHandler(t *testing.T) *Handler {
	t.Helper()
	p := brokertest.Open(t, map[string]string{
		"replica.selector.class": "org.apache.kafka.common.replica.RackAwareReplicaSelector"})
	return New(Broker{NodeID: p.Config.NodeID(), Host: brokertest.Host, Port: brokertest.Port, Config: p.Config,
		Meta: p.Meta, Replicas: p.Replicas, ProducerIDs: p.ProducerIDs, Topics: p.Topics, Logger: p.Logger})
}

// registerInRack registers broker id in rack, unfenced.
func registerInRack(t *testing.T, h *Handler, id int32, rack string) {
	t.Helper()
	ctx := context.Background()
	epoch, err := h.b.Meta.RegisterBroker(ctx, metadata.RegisterBrokerRecord{ID: id, Rack: &rack,
		Endpoints: []metadata.Endpoint{{Name: "PLAINTEXT", Host: "127.0.0.2", Port: 9092}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.b.Meta.FenceBroker(ctx, id, epoch, false); err != nil {
		t.Fatal(err)
	}
}

// consumerFetch is a consumer's Fetch of topic's partition 0 at offset
// at version, from rack (v11+), answering at once.
func consumerFetch(version int16, rack, topic string, offset int64, currentEpoch int32) *kmsg.FetchRequest {
	req := replicaFetch(version, -1, -1, topic, offset, -1)
	req.Rack = rack
	req.Topics[0].Partitions[0].CurrentLeaderEpoch = currentEpoch
	return req
}

// TestFetchPreferredReadReplica: with the rack-aware selector, a v11+
// consumer in the rack of an in-sync follower, that holds the fetch
// offset, is sent to it (PreferredReadReplica, no records, the offsets,
// at once though it asked to wait); a consumer in another rack, without
// a rack, or before v11 reads from the leader.
func TestFetchPreferredReadReplica(t *testing.T) {
	h := rackAwareHandler(t)
	registerInRack(t, h, followerID, "r2")
	tp, err := h.b.Meta.CreateTopic(context.Background(), "x", 1, 2, [][]int32{{h.b.NodeID, followerID}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if isr := tp.Assignments[0].ISR; len(isr) != 2 {
		t.Fatalf("x-0 has ISR %v, want both replicas", isr)
	}
	if err := h.b.Topics.Reconcile(); err != nil {
		t.Fatal(err)
	}
	produced(t, h, "x", 1, 3)
	// The follower has everything: the high watermark is 3.
	if sp, _ := fetchPartitionOf(t, h, replicaFetch(12, followerID, -1, "x", 3, -1)); sp.ErrorCode != 0 || sp.HighWatermark != 3 {
		t.Fatalf("follower fetch: %v, high watermark %d", kerr.ErrorForCode(sp.ErrorCode), sp.HighWatermark)
	}
	epoch := h.b.Meta.Image().Topics["x"].Assignments[0].LeaderEpoch

	req := consumerFetch(11, "r2", "x", 0, epoch)
	req.MinBytes, req.MaxWaitMillis = 1<<20, 10_000
	start := time.Now()
	sp, n := fetchPartitionOf(t, h, req)
	if sp.ErrorCode != 0 || sp.PreferredReadReplica != followerID || n != 0 || sp.HighWatermark != 3 || sp.LogStartOffset != 0 {
		t.Errorf("consumer in r2: %v, preferred replica %d, %d bytes, high watermark %d, log start %d; want replica %d, no records, 3, 0",
			kerr.ErrorForCode(sp.ErrorCode), sp.PreferredReadReplica, n, sp.HighWatermark, sp.LogStartOffset, followerID)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("the redirect waited %v", waited)
	}

	for _, tc := range []struct {
		name    string
		version int16
		rack    string
		offset  int64
	}{
		{"another rack", 12, "r9", 0},
		{"no rack", 12, "", 0},
		{"before v11", 10, "r2", 0},
		{"an offset the follower has not fetched", 12, "r2", 4},
	} {
		sp, n := fetchPartitionOf(t, h, consumerFetch(tc.version, tc.rack, "x", tc.offset, epoch))
		if sp.PreferredReadReplica != -1 || n == 0 && tc.offset < 3 {
			t.Errorf("%s: %v, preferred replica %d, %d bytes; want the leader's records", tc.name,
				kerr.ErrorForCode(sp.ErrorCode), sp.PreferredReadReplica, n)
		}
	}
}

// TestFetchFromFollower: a partition followed here answers a v11+
// consumer fetch, with the follower's offsets and Kafka's checks of the
// current leader epoch, and an offset past its log end is
// OFFSET_OUT_OF_RANGE; before v11 it is NOT_LEADER_OR_FOLLOWER. (An
// older epoch, FENCED_LEADER_EPOCH, is replica's TestFollowerRead: the
// partition here is in epoch 0.)
func TestFetchFromFollower(t *testing.T) {
	h := rackAwareHandler(t)
	registerInRack(t, h, followerID, "r2")
	if _, err := h.b.Meta.CreateTopic(context.Background(), "f", 1, 2, [][]int32{{followerID, h.b.NodeID}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.b.Topics.Reconcile(); err != nil {
		t.Fatal(err)
	}
	a := h.b.Meta.Image().Topics["f"].Assignments[0]
	if a.Leader != followerID {
		t.Fatalf("f-0 is led by %d, want %d", a.Leader, followerID)
	}
	for _, tc := range []struct {
		name    string
		version int16
		offset  int64
		epoch   int32
		want    error
	}{
		{"v11 at the log end", 11, 0, a.LeaderEpoch, nil},
		{"v12 without an epoch", 12, 0, -1, nil},
		{"v10", 10, 0, -1, kerr.NotLeaderForPartition},
		{"past the log end", 12, 1, a.LeaderEpoch, kerr.OffsetOutOfRange},
		{"a newer epoch", 12, 0, a.LeaderEpoch + 1, kerr.UnknownLeaderEpoch},
	} {
		sp, n := fetchPartitionOf(t, h, consumerFetch(tc.version, "r2", "f", tc.offset, tc.epoch))
		if got := kerr.ErrorForCode(sp.ErrorCode); got != tc.want || n != 0 || sp.PreferredReadReplica != -1 {
			t.Errorf("%s: %v, %d bytes, preferred replica %d; want %v", tc.name, got, n, sp.PreferredReadReplica, tc.want)
		}
	}
}
