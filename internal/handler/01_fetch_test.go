package handler

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// followerID is the second broker of the replicated tests' topic.
const followerID int32 = 2

// replicatedTopic registers broker 2 beside the handler's broker, creates
// topic with partition 0 on replicas [handler's node, 2] and configs,
// makes both its ISR, and returns broker 2's registration epoch.
func replicatedTopic(t *testing.T, h *Handler, topic string, configs map[string]string) int64 {
	t.Helper()
	ctx := context.Background()
	epoch, err := h.b.Meta.RegisterBroker(ctx, metadata.RegisterBrokerRecord{ID: followerID,
		Endpoints: []metadata.Endpoint{{Name: "PLAINTEXT", Host: "127.0.0.2", Port: 9092}}})
	if err != nil {
		t.Fatal(err)
	}
	tp, err := h.b.Meta.CreateTopic(ctx, topic, 1, 2, [][]int32{{h.b.NodeID, followerID}}, configs)
	if err != nil {
		t.Fatal(err)
	}
	if a := tp.Assignments[0]; !slices.Equal(a.ISR, []int32{h.b.NodeID, followerID}) {
		me := h.b.Meta.Image().Brokers[h.b.NodeID]
		if _, err := h.b.Meta.AlterPartition(ctx, metadata.AlterPartitionRecord{TopicID: tp.ID, Partition: 0,
			Leader: h.b.NodeID, BrokerEpoch: me.Epoch, LeaderEpoch: a.LeaderEpoch, PartitionEpoch: a.PartitionEpoch,
			ISR: []int32{h.b.NodeID, followerID}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.b.Topics.Reconcile(); err != nil {
		t.Fatal(err)
	}
	return int64(epoch)
}

// replicaFetch is a Fetch of topic's partition 0 at offset from broker
// replica at version (ReplicaState from v15, ReplicaID before).
func replicaFetch(version int16, replica int32, brokerEpoch int64, topic string, offset int64, lastEpoch int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(version)
	if version >= 15 {
		req.ReplicaState.ID, req.ReplicaState.Epoch = replica, brokerEpoch
	} else {
		req.ReplicaID = replica
	}
	req.MaxBytes, req.MinBytes, req.MaxWaitMillis = 1<<20, 0, 0
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes, rp.LastFetchedEpoch = offset, 1<<20, lastEpoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// fetchPartitionOf runs req, by topic name (versions before 13), and
// returns its one partition's answer with the record bytes.
func fetchPartitionOf(t *testing.T, h *Handler, req *kmsg.FetchRequest) (kmsg.FetchResponseTopicPartition, int) {
	t.Helper()
	if req.Version >= 13 {
		t.Fatalf("v%d fetches by topic id", req.Version)
	}
	resp := reply(t, h.Handle(context.Background(), &Request{Msg: req})).(*FetchResponse)
	defer resp.Release()
	return resp.Topics[0].Partitions[0], resp.SectionBytes()
}

// TestReplicaFetch: a fetch from a replica (ReplicaState.ID from v15,
// ReplicaID before) reads past the high watermark, up to the log end, and
// its offset moves the high watermark, below which alone consumers read.
// A broker that is not a valid replica, or fetches with a stale broker
// epoch, is refused.
func TestReplicaFetch(t *testing.T) {
	h := protoHandler(t)
	epoch := replicatedTopic(t, h, "r", nil)
	produced(t, h, "r", 1, 3)
	consumer := replicaFetch(12, -1, -1, "r", 0, -1)
	sp, n := fetchPartitionOf(t, h, consumer)
	if sp.ErrorCode != 0 || sp.HighWatermark != 0 || n != 0 {
		t.Fatalf("consumer before the follower fetched: %v, high watermark %d, %d bytes", kerr.ErrorForCode(sp.ErrorCode), sp.HighWatermark, n)
	}

	for _, version := range []int16{11, 12} {
		sp, n = fetchPartitionOf(t, h, replicaFetch(version, followerID, -1, "r", 0, -1))
		if sp.ErrorCode != 0 || n == 0 || sp.HighWatermark != 0 {
			t.Errorf("v%d replica fetch at 0: %v, %d bytes, high watermark %d; want the records past the high watermark",
				version, kerr.ErrorForCode(sp.ErrorCode), n, sp.HighWatermark)
		}
	}
	// v15 names the replica in ReplicaState, with its broker epoch.
	sp, _ = fetchPartitionOf(t, h, replicaFetch(12, followerID, -1, "r", 3, -1))
	if sp.ErrorCode != 0 || sp.HighWatermark != 3 {
		t.Errorf("replica fetch at the log end: %v, high watermark %d, want 3", kerr.ErrorForCode(sp.ErrorCode), sp.HighWatermark)
	}
	if sp, n = fetchPartitionOf(t, h, consumer); sp.HighWatermark != 3 || n == 0 {
		t.Errorf("consumer after the follower fetched: high watermark %d, %d bytes", sp.HighWatermark, n)
	}

	v15 := func(replica int32, brokerEpoch int64) kmsg.FetchResponseTopicPartition {
		req := replicaFetch(15, replica, brokerEpoch, "r", 3, 0)
		req.Topics[0].TopicID = h.b.Meta.Image().Topics["r"].ID
		resp := roundTrip[*kmsg.FetchResponse](t, h, req)
		return resp.Topics[0].Partitions[0]
	}
	if sp := v15(followerID, epoch); sp.ErrorCode != 0 || sp.HighWatermark != 3 {
		t.Errorf("v15 replica fetch: %v, high watermark %d", kerr.ErrorForCode(sp.ErrorCode), sp.HighWatermark)
	}
	refused := []struct {
		name    string
		replica int32
		epoch   int64
	}{
		{"a stale broker epoch", followerID, epoch - 1},
		{"a broker outside the replica set", 7, -1},
		{"the leader itself", h.b.NodeID, -1},
	}
	for _, tc := range refused {
		if sp := v15(tc.replica, tc.epoch); sp.ErrorCode != kerr.NotLeaderForPartition.Code {
			t.Errorf("%s: %v, want NOT_LEADER_OR_FOLLOWER", tc.name, kerr.ErrorForCode(sp.ErrorCode))
		}
	}
}

// TestReplicaFetchDivergingEpoch: a follower whose last fetched epoch
// ends earlier on the leader than its fetch offset gets DivergingEpoch
// (v12+) with the leader's end of that epoch, no records, at once even
// when it asked to wait.
func TestReplicaFetchDivergingEpoch(t *testing.T) {
	h := protoHandler(t)
	replicatedTopic(t, h, "d", nil)
	produced(t, h, "d", 1, 2)
	epoch := h.b.Meta.Image().Topics["d"].Assignments[0].LeaderEpoch
	req := replicaFetch(12, followerID, -1, "d", 5, epoch)
	req.MinBytes, req.MaxWaitMillis = 1, 10_000
	start := time.Now()
	resp := roundTrip[*kmsg.FetchResponse](t, h, req)
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 || sp.DivergingEpoch.Epoch != epoch || sp.DivergingEpoch.EndOffset != 2 || len(sp.RecordBatches) != 0 {
		t.Errorf("diverging follower: %v, diverging epoch %+v, %d bytes; want epoch %d ending at 2 and no records",
			kerr.ErrorForCode(sp.ErrorCode), sp.DivergingEpoch, len(sp.RecordBatches), epoch)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("a diverging answer waited %v", waited)
	}
	req = replicaFetch(12, followerID, -1, "d", 2, epoch)
	resp = roundTrip[*kmsg.FetchResponse](t, h, req)
	if sp := resp.Topics[0].Partitions[0]; sp.DivergingEpoch.Epoch != -1 || sp.DivergingEpoch.EndOffset != -1 {
		t.Errorf("consistent follower answered diverging epoch %+v", sp.DivergingEpoch)
	}
}

// TestReplicaFetchWakesOnAppend: a follower's long poll at the log end
// answers when a batch is appended, though the high watermark cannot move
// before the follower fetches it.
func TestReplicaFetchWakesOnAppend(t *testing.T) {
	h := protoHandler(t)
	replicatedTopic(t, h, "w", nil)
	req := replicaFetch(12, followerID, -1, "w", 0, -1)
	req.MinBytes, req.MaxWaitMillis = 1, 20_000
	got := make(chan int, 1)
	start := time.Now()
	go func() {
		resp := reply(t, h.Handle(context.Background(), &Request{Msg: req})).(*FetchResponse)
		defer resp.Release()
		got <- resp.SectionBytes()
	}()
	produced(t, h, "w", 1, 1)
	if n := <-got; n == 0 {
		t.Errorf("the long poll answered without the record")
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("the append did not wake the long poll: it answered after %v", waited)
	}
}

// TestReplicaFetchNeedsClusterAction: a replica fetch without
// CLUSTER_ACTION on the cluster is TOPIC_AUTHORIZATION_FAILED for every
// partition, as Kafka answers, whatever the topic ACLs allow.
func TestReplicaFetchNeedsClusterAction(t *testing.T) {
	h := protoHandler(t)
	replicatedTopic(t, h, "a", nil)
	h.b.Authorize = func(_ context.Context, _ protocol.Principal, op kmsg.ACLOperation, resource kmsg.ACLResourceType, _ string) bool {
		return resource != kmsg.ACLResourceTypeCluster
	}
	sp, _ := fetchPartitionOf(t, h, replicaFetch(12, followerID, -1, "a", 0, -1))
	if sp.ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("replica fetch without CLUSTER_ACTION: %v", kerr.ErrorForCode(sp.ErrorCode))
	}
	if sp, _ := fetchPartitionOf(t, h, replicaFetch(12, -1, -1, "a", 0, -1)); sp.ErrorCode != 0 {
		t.Errorf("consumer fetch: %v", kerr.ErrorForCode(sp.ErrorCode))
	}
}
