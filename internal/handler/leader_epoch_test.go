package handler

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/record"
)

// reply returns a Reply's response, running its wait if it has one.
func reply(t *testing.T, r Reply) kmsg.Response {
	t.Helper()
	if r.Wait != nil {
		return r.Wait(context.Background())
	}
	return r.Msg
}

// metadataEpoch returns the leader epoch Metadata advertises for
// topic's partition 0.
func metadataEpoch(t *testing.T, h *Handler, topic string) int32 {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(12)
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp := reply(t, h.Handle(context.Background(), &Request{Msg: req})).(*kmsg.MetadataResponse)
	return resp.Topics[0].Partitions[0].LeaderEpoch
}

// fetchWithEpoch fetches topic's partition 0 from offset 0 with the given
// current leader epoch, without waiting for data.
func fetchWithEpoch(t *testing.T, h *Handler, version int16, topic string, epoch int32) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(version)
	req.MaxBytes, req.MaxWaitMillis = 1<<20, 0
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 1<<20, epoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := reply(t, h.Handle(context.Background(), &Request{Msg: req})).(*FetchResponse)
	defer resp.Release()
	// Encode and decode, so the records are the bytes a client gets.
	decoded := kmsg.NewPtrFetchResponse()
	decoded.SetVersion(version)
	if err := decoded.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	return decoded.Topics[0].Partitions[0]
}

// listWithEpoch asks ListOffsets v7 for topic's partition 0's latest
// offset with the given current leader epoch.
func listWithEpoch(t *testing.T, h *Handler, topic string, epoch int32) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.SetVersion(7)
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp, rp.CurrentLeaderEpoch = -1, epoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return reply(t, h.Handle(context.Background(), &Request{Msg: req})).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
}

// TestLeaderEpochAdvertisedIsChecked: the leader epoch Metadata advertises
// is the one Fetch (v9+) and ListOffsets (v4+) accept, and the one stamped
// on appended batches; a newer one is UNKNOWN_LEADER_EPOCH, and none (-1)
// or a Fetch before v9 is not checked.
func TestLeaderEpochAdvertisedIsChecked(t *testing.T) {
	h := protoHandler(t)
	if st := protoCreate(t, h, "e", 1, 1, false); st.ErrorCode != 0 {
		t.Fatalf("create: %v", kerr.ErrorForCode(st.ErrorCode))
	}
	epoch := metadataEpoch(t, h, "e")

	produce := kmsg.NewPtrProduceRequest()
	produce.SetVersion(9)
	produce.Acks, produce.TimeoutMillis = -1, 1000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "e"
	rp := kmsg.NewProduceRequestTopicPartition()
	batch, err := record.Build(record.Header{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, PartitionLeaderEpoch: -1},
		[]record.Record{{Value: []byte("v")}}, record.CodecNone, 0)
	if err != nil {
		t.Fatal(err)
	}
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	produce.Topics = append(produce.Topics, rt)
	if sp := reply(t, h.Handle(context.Background(), &Request{Msg: produce})).(*kmsg.ProduceResponse).Topics[0].Partitions[0]; sp.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(sp.ErrorCode))
	}

	sp := fetchWithEpoch(t, h, 12, "e", epoch)
	if sp.ErrorCode != 0 || sp.HighWatermark != 1 {
		t.Fatalf("fetch at the advertised epoch %d: %v, high watermark %d", epoch, kerr.ErrorForCode(sp.ErrorCode), sp.HighWatermark)
	}
	if h, err := record.ParseHeader(sp.RecordBatches); err != nil || h.PartitionLeaderEpoch != epoch {
		t.Errorf("fetched batch leader epoch %d (%v), want the advertised %d", h.PartitionLeaderEpoch, err, epoch)
	}
	for _, tc := range []struct {
		name    string
		version int16
		epoch   int32
		want    int16
	}{
		{"none", 12, -1, 0},
		{"newer", 12, epoch + 1, kerr.UnknownLeaderEpoch.Code},
		{"newer before v9", 8, epoch + 1, 0},
	} {
		if sp := fetchWithEpoch(t, h, tc.version, "e", tc.epoch); sp.ErrorCode != tc.want {
			t.Errorf("fetch v%d, %s epoch: %v, want %v", tc.version, tc.name, kerr.ErrorForCode(sp.ErrorCode), kerr.ErrorForCode(tc.want))
		}
	}

	if sp := listWithEpoch(t, h, "e", epoch); sp.ErrorCode != 0 || sp.Offset != 1 {
		t.Errorf("ListOffsets at the advertised epoch: %v, offset %d", kerr.ErrorForCode(sp.ErrorCode), sp.Offset)
	}
	if sp := listWithEpoch(t, h, "e", epoch+1); sp.ErrorCode != kerr.UnknownLeaderEpoch.Code || sp.Offset != -1 {
		t.Errorf("ListOffsets at a newer epoch: %v, offset %d; want UNKNOWN_LEADER_EPOCH, -1", kerr.ErrorForCode(sp.ErrorCode), sp.Offset)
	}
}
