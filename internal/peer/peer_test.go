package peer

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/replica"
)

// TestRequestToKafka: every field a leader needs reaches the wire, with
// the replica's identity in both the old and the v15 places.
func TestRequestToKafka(t *testing.T) {
	req := &replica.FetchRequest{ReplicaID: 3, BrokerEpoch: 42, MaxWait: 500 * time.Millisecond,
		MinBytes: 1, MaxBytes: 10 << 20, Partitions: []replica.FetchPartition{
			{Topic: "a", TopicID: metadata.TopicID{1}, Partition: 0, CurrentLeaderEpoch: 7, FetchOffset: 100,
				LastFetchedEpoch: 6, LogStartOffset: 5, MaxBytes: 1 << 20},
			{Topic: "b", TopicID: metadata.TopicID{2}, Partition: 1, CurrentLeaderEpoch: 1, FetchOffset: 0,
				LastFetchedEpoch: -1, MaxBytes: 1 << 20},
			{Topic: "a", TopicID: metadata.TopicID{1}, Partition: 2, CurrentLeaderEpoch: 7, FetchOffset: 9,
				LastFetchedEpoch: 7, MaxBytes: 1 << 20},
		}}
	k, names := toKafka(req)
	if k.ReplicaID != 3 || k.ReplicaState.ID != 3 || k.ReplicaState.Epoch != 42 || k.MaxWaitMillis != 500 ||
		k.MinBytes != 1 || k.MaxBytes != 10<<20 || k.SessionEpoch != -1 || k.IsolationLevel != 0 {
		t.Errorf("request %+v", k)
	}
	if len(k.Topics) != 2 || k.Topics[0].Topic != "a" || len(k.Topics[0].Partitions) != 2 || k.Topics[1].TopicID != [16]byte{2} {
		t.Fatalf("topics %+v", k.Topics)
	}
	if p := k.Topics[0].Partitions[0]; p.CurrentLeaderEpoch != 7 || p.FetchOffset != 100 || p.LastFetchedEpoch != 6 ||
		p.LogStartOffset != 5 || p.PartitionMaxBytes != 1<<20 {
		t.Errorf("partition %+v", p)
	}
	if names[metadata.TopicID{2}] != "b" {
		t.Errorf("names %v", names)
	}
	// The request encodes at v15 and reads back the same.
	k.SetVersion(15)
	back := kmsg.NewPtrFetchRequest()
	back.SetVersion(15)
	if err := back.ReadFrom(k.AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	if back.ReplicaState.ID != 3 || back.Topics[0].TopicID != [16]byte{1} || back.Topics[0].Partitions[1].FetchOffset != 9 {
		t.Errorf("decoded %+v", back)
	}
}

// TestResponseFromKafka: topics named by id at v13+, errors as kerr
// values, a diverging epoch only when the leader set one.
func TestResponseFromKafka(t *testing.T) {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 15
	topic := kmsg.NewFetchResponseTopic()
	topic.TopicID = [16]byte{1}
	p0 := kmsg.NewFetchResponseTopicPartition()
	p0.Partition, p0.HighWatermark, p0.LogStartOffset, p0.RecordBatches = 0, 50, 3, []byte{1, 2}
	p1 := kmsg.NewFetchResponseTopicPartition()
	p1.Partition, p1.ErrorCode = 1, kerr.OffsetOutOfRange.Code
	p1.HighWatermark, p1.LogStartOffset = 20, 10
	p2 := kmsg.NewFetchResponseTopicPartition()
	p2.Partition = 2
	p2.DivergingEpoch.Epoch, p2.DivergingEpoch.EndOffset = 4, 77
	topic.Partitions = []kmsg.FetchResponseTopicPartition{p0, p1, p2}
	resp.Topics = append(resp.Topics, topic)
	got, err := fromKafka(resp, map[metadata.TopicID]string{{1}: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Partitions) != 3 {
		t.Fatalf("partitions %+v", got.Partitions)
	}
	if g := got.Partitions[0]; g.Topic != "a" || g.Err != nil || g.HighWatermark != 50 || g.LogStartOffset != 3 ||
		len(g.Records) != 2 || g.DivergingEpoch != -1 {
		t.Errorf("p0 %+v", g)
	}
	if g := got.Partitions[1]; !errors.Is(g.Err, kerr.OffsetOutOfRange) || g.HighWatermark != 20 || g.LogStartOffset != 10 {
		t.Errorf("p1 %+v", g)
	}
	if g := got.Partitions[2]; g.DivergingEpoch != 4 || g.DivergingEndOffset != 77 {
		t.Errorf("p2 %+v", g)
	}

	if _, err := fromKafka(resp, map[metadata.TopicID]string{}); err == nil {
		t.Error("a topic id not asked for was accepted")
	}
	resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
	if _, err := fromKafka(resp, nil); !errors.Is(err, kerr.FetchSessionIDNotFound) {
		t.Errorf("top-level error: %v", err)
	}
}

// TestOpenUnknownBroker: a leader without a live endpoint is an error
// for the fetcher to back off on.
func TestOpenUnknownBroker(t *testing.T) {
	tr := New(Config{NodeID: 1, Image: func() *metadata.Image { return &metadata.Image{} }})
	if _, err := tr.Open(2); err == nil {
		t.Error("opened a connection to a broker the image does not know")
	}
}
