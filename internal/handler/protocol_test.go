package handler

// Protocol conformance at the handler level: the advertised table and the
// Kafka answers that the e2e differential test (test/e2e/
// protocol_diff_test.go) found wrong, pinned down next to the code.

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil/brokertest"
)

// protoHandler builds a handler over a temporary log dir, as
// internal/broker does.
func protoHandler(t testing.TB) *Handler {
	t.Helper()
	p := brokertest.Open(t, nil)
	return New(Broker{NodeID: p.Config.NodeID(), Host: brokertest.Host, Port: brokertest.Port, Config: p.Config,
		Meta: p.Meta, Replicas: p.Replicas, ProducerIDs: p.ProducerIDs, Topics: p.Topics, Logger: p.Logger})
}

func protoCreate(t testing.TB, h *Handler, topic string, partitions int32, rf int16, validateOnly bool) kmsg.CreateTopicsResponseTopic {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.SetVersion(7)
	req.ValidateOnly = validateOnly
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, rf
	req.Topics = append(req.Topics, rt)
	// CreateTopics answers off the reader goroutine: run its Wait.
	return h.Handle(context.Background(), &Request{Msg: req}).Wait(context.Background()).(*kmsg.CreateTopicsResponse).Topics[0]
}

// TestProtocolCreateTopicsExistingFirst: Kafka checks a name's existence
// before its partitions, replication factor and configs
// (ReplicationControlManager.createTopics: validateNewTopicNames, then
// "Identify topics that already exist", then computeConfigChanges, then
// createTopic), so an existing topic is TOPIC_ALREADY_EXISTS whatever the
// rest of the request says. Tools that "create if missing" rely on it.
//
// BUG: createTopicFrom (19_create_topics.go) runs topics.Check first.
func TestProtocolCreateTopicsExistingFirst(t *testing.T) {
	h := protoHandler(t)
	if st := protoCreate(t, h, "exists", 1, 1, false); st.ErrorCode != 0 {
		t.Fatalf("create: %v", kerr.ErrorForCode(st.ErrorCode))
	}
	cases := []struct {
		name       string
		partitions int32
		rf         int16
	}{
		{"same settings", 1, 1},
		{"partitions 0", 0, 1},
		{"replication factor 3", 1, 3},
		{"replication factor 0", 1, 0},
	}
	for _, tc := range cases {
		for _, validateOnly := range []bool{false, true} {
			st := protoCreate(t, h, "exists", tc.partitions, tc.rf, validateOnly)
			if st.ErrorCode != kerr.TopicAlreadyExists.Code {
				t.Errorf("existing topic, %s (validateOnly %v): %v, want TOPIC_ALREADY_EXISTS", tc.name, validateOnly, kerr.ErrorForCode(st.ErrorCode))
			}
		}
	}
}

// TestProtocolProduceErrorOffsets: a partition answered with an error
// carries base offset -1 and log start offset -1, as Kafka's
// ProduceResponse.PartitionResponse(Errors) sets INVALID_OFFSET for both.
//
// BUG: produce (00_produce.go) sets only ErrorCode and ErrorMessage on an
// error, leaving kmsg's default BaseOffset 0, which reads as "appended at
// offset 0".
func TestProtocolProduceErrorOffsets(t *testing.T) {
	h := protoHandler(t)
	if st := protoCreate(t, h, "p", 1, 1, false); st.ErrorCode != 0 {
		t.Fatalf("create: %v", kerr.ErrorForCode(st.ErrorCode))
	}
	cases := []struct {
		name      string
		topic     string
		partition int32
		records   []byte
	}{
		{"unknown topic", "nope", 0, []byte{}},
		{"unknown partition", "p", 5, []byte{}},
		{"not a record batch", "p", 0, []byte{1, 2, 3}},
	}
	for _, tc := range cases {
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(9)
		req.Acks, req.TimeoutMillis = 1, 1000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = tc.topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = tc.partition, tc.records
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		reply := h.Handle(context.Background(), &Request{Msg: req})
		resp, ok := reply.Msg.(*kmsg.ProduceResponse)
		if !ok {
			t.Fatalf("%s: reply %+v is not an immediate ProduceResponse", tc.name, reply)
		}
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode == 0 {
			t.Errorf("%s: no error", tc.name)
		}
		if sp.BaseOffset != -1 || sp.LogStartOffset != -1 || sp.LogAppendTime != -1 {
			t.Errorf("%s (%v): base offset %d, log start offset %d, log append time %d; Kafka answers -1 for each",
				tc.name, kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset, sp.LogStartOffset, sp.LogAppendTime)
		}
	}
}

// TestProtocolProduceRecordErrors: the error code for records that are not
// one complete RecordBatch v2. Kafka's KafkaApis.handleProduceRequest runs
// ProduceRequest.validateRecords on every known partition: no complete
// batch (empty, under 12 bytes, or a batch length past the end: the
// ByteBufferLogInputStream yields nothing) and a magic other than 2 are
// INVALID_RECORD, which clients do not retry; CORRUPT_MESSAGE is
// retriable in the Java client, and UNKNOWN_SERVER_ERROR says the broker
// failed.
//
// BUG: in replica.Partition.Append (internal/replica/partition.go) a short
// or cut batch is record.Next's ErrTruncated, which record.KafkaError maps
// to CORRUPT_MESSAGE, and magic 0/1 is ErrUnsupportedMagic,
// UNSUPPORTED_FOR_MESSAGE_FORMAT. (Empty records were UNKNOWN_SERVER_ERROR,
// from record.Next's io.EOF, until Append learned to refuse them.)
func TestProtocolProduceRecordErrors(t *testing.T) {
	h := protoHandler(t)
	if st := protoCreate(t, h, "r", 1, 1, false); st.ErrorCode != 0 {
		t.Fatalf("create: %v", kerr.ErrorForCode(st.ErrorCode))
	}
	// A 61-byte v2 header claiming 100 bytes after the length field.
	cut := make([]byte, 61)
	cut[11], cut[16] = 100, 2
	// The same header with magic 1 and a length that fits.
	magic1 := make([]byte, 61)
	magic1[11], magic1[16] = 49, 1
	cases := []struct {
		name    string
		records []byte
		want    int16
	}{
		{"empty", []byte{}, kerr.InvalidRecord.Code},
		{"11 bytes", make([]byte, 11), kerr.InvalidRecord.Code},
		{"batch length past the end", cut, kerr.InvalidRecord.Code},
		{"magic 1", magic1, kerr.InvalidRecord.Code},
	}
	for _, tc := range cases {
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(9)
		req.Acks, req.TimeoutMillis = -1, 1000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "r"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = tc.records
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := h.Handle(context.Background(), &Request{Msg: req}).Msg.(*kmsg.ProduceResponse)
		if got := resp.Topics[0].Partitions[0].ErrorCode; got != tc.want {
			t.Errorf("produce %s: %v, Kafka answers %v", tc.name, kerr.ErrorForCode(got), kerr.ErrorForCode(tc.want))
		}
	}
}
