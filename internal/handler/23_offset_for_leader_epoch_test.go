package handler

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// roundTrip encodes req at its version and decodes it again, as the
// server would hand it over, then encodes and decodes the answer, so that
// fields a version does not carry are gone on both ways.
func roundTrip[Resp kmsg.Response](t *testing.T, h *Handler, req kmsg.Request) Resp {
	t.Helper()
	sent := req.AppendTo(nil)
	got := kmsg.RequestForKey(req.Key())
	got.SetVersion(req.GetVersion())
	if err := got.ReadFrom(sent); err != nil {
		t.Fatal(err)
	}
	resp := reply(t, h.Handle(context.Background(), &Request{Msg: got}))
	back := got.ResponseKind()
	if err := back.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	return back.(Resp)
}

// produceAt appends one batch of records with the given timestamps to
// topic's partition 0.
func produceAt(t *testing.T, h *Handler, topic string, timestamps ...int64) {
	t.Helper()
	var recs []testutil.Record
	for _, ts := range timestamps {
		recs = append(recs, testutil.Record{Timestamp: ts, Value: "v"})
	}
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = testutil.Batch(-1, -1, -1, recs...)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	if sp := reply(t, h.Handle(context.Background(), &Request{Msg: req})).(*kmsg.ProduceResponse).Topics[0].Partitions[0]; sp.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(sp.ErrorCode))
	}
}

// fence fences or unfences this broker in the metadata, which moves the
// leadership of its partitions and bumps their leader epochs.
func fence(t *testing.T, h *Handler, fenced bool) {
	t.Helper()
	b := h.b.Meta.Image().Brokers[h.b.NodeID]
	if err := h.b.Meta.FenceBroker(context.Background(), b.ID, b.Epoch, fenced); err != nil {
		t.Fatal(err)
	}
}

// offsetForEpoch asks OffsetForLeaderEpoch at version for one partition.
func offsetForEpoch(t *testing.T, h *Handler, version int16, topic string, partition, current, requested int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.SetVersion(version)
	req.ReplicaID = -1
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = partition, current, requested
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := roundTrip[*kmsg.OffsetForLeaderEpochResponse](t, h, req)
	if len(resp.Topics) != 1 || resp.Topics[0].Topic != topic || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("v%d answer %+v", version, resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// TestOffsetForLeaderEpoch: every advertised version answers, from the
// leader epoch cache, the end offset of the largest epoch <= the one
// asked (the next epoch's start, or the log end for the latest), -1, -1
// for an undefined or newer epoch; checks the current leader epoch from
// v2 on as Fetch does; and gives the errors of the other partition APIs.
func TestOffsetForLeaderEpoch(t *testing.T) {
	h := protoHandler(t)
	if st := protoCreate(t, h, "oe", 1, 1, false); st.ErrorCode != 0 {
		t.Fatalf("create: %v", kerr.ErrorForCode(st.ErrorCode))
	}
	e0 := metadataEpoch(t, h, "oe")
	produceAt(t, h, "oe", 1000, 1001)
	produceAt(t, h, "oe", 1002)
	fence(t, h, true)
	fence(t, h, false)
	e1 := metadataEpoch(t, h, "oe")
	if e1 <= e0+1 {
		t.Fatalf("leader epoch %d after fencing and unfencing, from %d", e1, e0)
	}
	produceAt(t, h, "oe", 1003)

	const none = -1
	cases := []struct {
		name               string
		current, requested int32
		wantCode           int16
		epoch              int32
		end                int64
	}{
		{"earlier epoch ends where the next starts", none, e0, 0, e0, 3},
		{"latest epoch ends at the log end", none, e1, 0, e1, 4},
		{"an epoch between: the largest below it", none, e0 + 1, 0, e0, 3},
		{"newer than the latest", none, e1 + 1, 0, none, none},
		{"undefined", none, none, 0, none, none},
		{"current epoch matches", e1, e0, 0, e0, 3},
		{"current epoch older", e0, e0, kerr.FencedLeaderEpoch.Code, none, none},
		{"current epoch newer", e1 + 1, e0, kerr.UnknownLeaderEpoch.Code, none, none},
	}
	for v := int16(0); v <= 4; v++ {
		if !protocol.Supported(kmsg.OffsetForLeaderEpoch.Int16(), v) {
			t.Errorf("OffsetForLeaderEpoch v%d not advertised", v)
		}
		for _, tc := range cases {
			want, epoch := tc.wantCode, tc.epoch
			if v < 2 && tc.current != none {
				want = 0 // no CurrentLeaderEpoch before v2: nothing to check
				epoch, _ = h.endOffsetFor(t, "oe", tc.requested)
			}
			if v < 1 {
				epoch = none // v0 answers no epoch
			}
			sp := offsetForEpoch(t, h, v, "oe", 0, tc.current, tc.requested)
			end := tc.end
			if want == 0 && tc.wantCode != 0 {
				_, end = h.endOffsetFor(t, "oe", tc.requested)
			}
			if sp.ErrorCode != want || sp.LeaderEpoch != epoch || sp.EndOffset != end || sp.Partition != 0 {
				t.Errorf("v%d %s: %v, epoch %d, end offset %d; want %v, %d, %d",
					v, tc.name, kerr.ErrorForCode(sp.ErrorCode), sp.LeaderEpoch, sp.EndOffset, kerr.ErrorForCode(want), epoch, end)
			}
		}
		for _, tp := range []struct {
			topic     string
			partition int32
		}{{"oe", 5}, {"oe", -1}, {"nosuch", 0}} {
			sp := offsetForEpoch(t, h, v, tp.topic, tp.partition, none, e0)
			if sp.ErrorCode != kerr.UnknownTopicOrPartition.Code || sp.EndOffset != none {
				t.Errorf("v%d %s-%d: %v, end offset %d; want UNKNOWN_TOPIC_OR_PARTITION, -1", v, tp.topic, tp.partition, kerr.ErrorForCode(sp.ErrorCode), sp.EndOffset)
			}
		}
	}

	// Authorization: CLUSTER_ACTION, or else DESCRIBE on the topic.
	deny := func(describe, cluster bool) Authorizer {
		return func(_ context.Context, _ protocol.Principal, op kmsg.ACLOperation, _ kmsg.ACLResourceType, _ string) bool {
			return op == kmsg.ACLOperationDescribe && describe || op == kmsg.ACLOperationClusterAction && cluster
		}
	}
	for _, a := range []struct {
		describe, cluster bool
		want              int16
	}{{false, false, kerr.TopicAuthorizationFailed.Code}, {true, false, 0}, {false, true, 0}} {
		h.b.Authorize = deny(a.describe, a.cluster)
		for _, topic := range []string{"oe", "nosuch"} {
			want := a.want
			if want == 0 && topic == "nosuch" {
				want = kerr.UnknownTopicOrPartition.Code
			}
			if sp := offsetForEpoch(t, h, 4, topic, 0, none, e0); sp.ErrorCode != want {
				t.Errorf("%s with DESCRIBE %v, CLUSTER_ACTION %v: %v, want %v", topic, a.describe, a.cluster, kerr.ErrorForCode(sp.ErrorCode), kerr.ErrorForCode(want))
			}
		}
	}
	h.b.Authorize = nil

	// A partition without a leader here.
	fence(t, h, true)
	if sp := offsetForEpoch(t, h, 4, "oe", 0, none, e0); sp.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Errorf("fenced leader: %v, want NOT_LEADER_OR_FOLLOWER", kerr.ErrorForCode(sp.ErrorCode))
	}
}

// endOffsetFor asks the partition directly, for the cases where the
// version makes the answer the unchecked one.
func (h *Handler) endOffsetFor(t *testing.T, topic string, requested int32) (int32, int64) {
	t.Helper()
	p, err := h.b.Replicas.Leader(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p.EndOffsetForEpoch(requested)
}

// TestListOffsetsLeaderEpoch: from v4 ListOffsets answers the leader epoch
// of the offset found, as Kafka does: latest, the current epoch;
// earliest, the epoch covering the log start; by timestamp and max
// timestamp, the epoch of the batch found; -1 when nothing is found.
func TestListOffsetsLeaderEpoch(t *testing.T) {
	h := protoHandler(t)
	if st := protoCreate(t, h, "le", 1, 1, false); st.ErrorCode != 0 {
		t.Fatalf("create: %v", kerr.ErrorForCode(st.ErrorCode))
	}
	e0 := metadataEpoch(t, h, "le")
	produceAt(t, h, "le", 1000, 1001) // offsets 0-1 at e0
	fence(t, h, true)
	fence(t, h, false)
	e1 := metadataEpoch(t, h, "le")
	produceAt(t, h, "le", 2000, 5000) // offsets 2-3 at e1
	fence(t, h, true)
	fence(t, h, false)
	e2 := metadataEpoch(t, h, "le") // no data in e2

	list := func(version int16, timestamp int64) kmsg.ListOffsetsResponseTopicPartition {
		req := kmsg.NewPtrListOffsetsRequest()
		req.SetVersion(version)
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "le"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = timestamp
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return roundTrip[*kmsg.ListOffsetsResponse](t, h, req).Topics[0].Partitions[0]
	}
	type lc = struct {
		timestamp, offset int64
		epoch             int32
	}
	// Latest: the current epoch; earliest: the epoch at the log start;
	// max timestamp (v7+): offset 3 at 5000; by timestamp: the batch's.
	for _, v := range []int16{4, 7, 8} {
		for _, tc := range []lc{{-1, 4, e2}, {-2, 0, e0}, {-3, 3, e1}, {1001, 1, e0}, {2000, 2, e1}, {9999, -1, -1}} {
			if tc.timestamp == -3 && v < 7 {
				continue // max timestamp is v7+
			}
			sp := list(v, tc.timestamp)
			if sp.ErrorCode != 0 || sp.Offset != tc.offset || sp.LeaderEpoch != tc.epoch {
				t.Errorf("v%d timestamp %d: %v, offset %d, epoch %d; want offset %d, epoch %d",
					v, tc.timestamp, kerr.ErrorForCode(sp.ErrorCode), sp.Offset, sp.LeaderEpoch, tc.offset, tc.epoch)
			}
		}
	}
	if sp := list(3, -1); sp.Offset != 4 || sp.LeaderEpoch != -1 {
		t.Errorf("v3 latest: offset %d, decoded epoch %d; want 4 and none on the wire", sp.Offset, sp.LeaderEpoch)
	}
	if sp := list(8, -4); sp.Offset != 0 || sp.LeaderEpoch != e0 {
		t.Errorf("earliest local: offset %d, epoch %d; want 0, %d", sp.Offset, sp.LeaderEpoch, e0)
	}

	// DeleteRecords to offset 3: the log start's epoch is e1 now.
	del := kmsg.NewPtrDeleteRecordsRequest()
	dt := kmsg.NewDeleteRecordsRequestTopic()
	dt.Topic = "le"
	dp := kmsg.NewDeleteRecordsRequestTopicPartition()
	dp.Offset = 3
	dt.Partitions = append(dt.Partitions, dp)
	del.Topics = append(del.Topics, dt)
	if sp := reply(t, h.Handle(context.Background(), &Request{Msg: del})).(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0]; sp.ErrorCode != 0 {
		t.Fatalf("delete records: %v", kerr.ErrorForCode(sp.ErrorCode))
	}
	if sp := list(8, -2); sp.Offset != 3 || sp.LeaderEpoch != e1 {
		t.Errorf("earliest after DeleteRecords: offset %d, epoch %d; want 3, %d", sp.Offset, sp.LeaderEpoch, e1)
	}
	if sp := offsetForEpoch(t, h, 4, "le", 0, -1, e0); sp.LeaderEpoch != e0 || sp.EndOffset != 3 {
		t.Errorf("OffsetForLeaderEpoch(%d) after the log start passed it: %d, %d; want %d, 3 (the first entry's start)",
			e0, sp.LeaderEpoch, sp.EndOffset, e0)
	}
}
