package e2e

// A differential oracle: the same requests go to kfake (franz-go's
// in-memory Kafka) and to a real sluice process, through kgo at the same
// versions (sluice's table caps both), and the answers are compared.
//
// Kafka is the spec. Each error-code case states the code Apache Kafka
// (3.x/4.x, KRaft) answers, from the Kafka sources cited in the case;
// sluice must give that code. kfake is a second opinion: where it agrees
// with Kafka it is compared too, and where it does not (kfake validates
// less than Kafka) the difference is logged, not failed. Fields without a
// hard-coded expectation (offsets, timestamps, base offsets, partition
// counts) are compared between the two directly.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// diffRequestTimeout bounds one request to either side.
const diffRequestTimeout = 10 * time.Second

// diffSide is one of the two brokers under comparison.
type diffSide struct {
	name string
	cl   *kgo.Client
}

// request sends req straight to the side's one broker (no sharding or
// controller routing by kgo) and returns the response.
func (s diffSide) request(t testing.TB, req kmsg.Request) kmsg.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), diffRequestTimeout)
	defer cancel()
	seeds := s.cl.SeedBrokers()
	if len(seeds) == 0 {
		t.Fatalf("%s: no seed broker", s.name)
	}
	resp, err := seeds[0].Request(ctx, req)
	if err != nil {
		t.Fatalf("%s: %s: %v", s.name, kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// diffSetup starts kfake and sluice and returns a client for each, both
// capped at sluice's advertised versions so that the same version of each
// request goes to both.
func diffSetup(t *testing.T) (kafka, sluice diffSide) {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "diff-seed"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	b := StartBroker(t)
	versions := kversion.FromApiVersionsResponse(protocol.UnsupportedApiVersions())
	client := func(addr string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(versions), kgo.RequestRetries(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	return diffSide{"kfake", client(cluster.ListenAddrs()[0])}, diffSide{"sluice", client(b.Addr)}
}

// diffCode compares one error code: sluice must answer Kafka's code;
// kfake's answer is checked against Kafka and only logged when it
// differs (a limit of the oracle, not of sluice).
func diffCode(t testing.TB, what string, kafka int16, kfakeGot, sluiceGot int16) {
	t.Helper()
	name := func(code int16) string {
		if code == 0 {
			return "NONE"
		}
		if e := kerr.ErrorForCode(code); e != nil {
			if ke, ok := e.(*kerr.Error); ok {
				return fmt.Sprintf("%d %s", code, ke.Message)
			}
		}
		return fmt.Sprint(code)
	}
	if sluiceGot != kafka {
		t.Errorf("%s: sluice answers %s, Kafka %s (kfake %s)", what, name(sluiceGot), name(kafka), name(kfakeGot))
	}
	if kfakeGot != kafka {
		t.Logf("%s: kfake answers %s where Kafka answers %s; compared against Kafka", what, name(kfakeGot), name(kafka))
	}
}

// diffBoth runs fn against each side.
func diffBoth[T any](t testing.TB, kafka, sluice diffSide, fn func(diffSide) T) (T, T) {
	t.Helper()
	return fn(kafka), fn(sluice)
}

func diffCreateTopics(s diffSide, t testing.TB, validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsResponse {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis, req.ValidateOnly, req.Topics = 10000, validateOnly, topics
	return s.request(t, req).(*kmsg.CreateTopicsResponse)
}

func diffTopic(name string, partitions int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
	for i := 0; i+1 < len(configs); i += 2 {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = configs[i], testutil.Str(configs[i+1])
		rt.Configs = append(rt.Configs, c)
	}
	return rt
}

// diffMustCreate creates a topic on both sides.
func diffMustCreate(t testing.TB, kafka, sluice diffSide, rt kmsg.CreateTopicsRequestTopic) {
	t.Helper()
	for _, s := range []diffSide{kafka, sluice} {
		resp := diffCreateTopics(s, t, false, rt)
		if code := resp.Topics[0].ErrorCode; code != 0 {
			t.Fatalf("%s: create %s: %v", s.name, rt.Topic, kerr.ErrorForCode(code))
		}
	}
}

func diffMetadata(s diffSide, t testing.TB, topics ...string) *kmsg.MetadataResponse {
	req := protoMetadata(12, topics)
	req.AllowAutoTopicCreation = false
	return s.request(t, req).(*kmsg.MetadataResponse)
}

func diffTopicID(s diffSide, t testing.TB, topic string) [16]byte {
	t.Helper()
	resp := diffMetadata(s, t, topic)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("%s: metadata for %s: %+v", s.name, topic, resp.Topics)
	}
	return resp.Topics[0].TopicID
}

func TestProtocolDiff(t *testing.T) {
	kafka, sluice := diffSetup(t)
	t.Run("CreateTopics", func(t *testing.T) { diffTestCreateTopics(t, kafka, sluice) })
	t.Run("DeleteTopics", func(t *testing.T) { diffTestDeleteTopics(t, kafka, sluice) })
	t.Run("MetadataNoAutoCreate", func(t *testing.T) { diffTestMetadataNoAutoCreate(t, kafka, sluice) })
	t.Run("ListOffsets", func(t *testing.T) { diffTestListOffsets(t, kafka, sluice) })
	t.Run("ProduceUnknownPartition", func(t *testing.T) { diffTestProduceUnknown(t, kafka, sluice) })
	t.Run("ProduceInvalidRecords", func(t *testing.T) { diffTestProduceInvalidRecords(t, kafka, sluice) })
	t.Run("FetchOutOfRange", func(t *testing.T) { diffTestFetchOutOfRange(t, kafka, sluice) })
	t.Run("InitProducerID", func(t *testing.T) { diffTestInitProducerID(t, kafka, sluice) })
	t.Run("DescribeConfigs", func(t *testing.T) { diffTestDescribeConfigs(t, kafka, sluice) })
	t.Run("Idempotence", func(t *testing.T) { diffTestIdempotence(t, kafka, sluice) })
	t.Run("OffsetForLeaderEpoch", func(t *testing.T) { diffTestOffsetForLeaderEpoch(t, kafka, sluice) })
}

func diffTestCreateTopics(t *testing.T, kafka, sluice diffSide) {
	// Error codes per Kafka's ReplicationControlManager.createTopics
	// (KRaft) and KafkaApis.handleCreateTopicsRequest: names checked
	// first (Topic.validate: INVALID_TOPIC_EXCEPTION), then existence
	// (TOPIC_ALREADY_EXISTS), then configs (INVALID_CONFIG for unknown
	// keys), then partitions (INVALID_PARTITIONS for <= 0 other than -1)
	// and replication factor (INVALID_REPLICATION_FACTOR for <= 0 other
	// than -1, or more than the registered brokers).
	cases := []struct {
		name         string
		topic        kmsg.CreateTopicsRequestTopic
		validateOnly bool
		kafka        int16
	}{
		{"valid", diffTopic("diff-ct", 3, 1), false, 0},
		{"existing name", diffTopic("diff-ct", 3, 1), false, kerr.TopicAlreadyExists.Code},
		{"invalid name a/b", diffTopic("a/b", 1, 1), false, kerr.InvalidTopicException.Code},
		{"name ..", diffTopic("..", 1, 1), false, kerr.InvalidTopicException.Code},
		{"name of 250 chars", diffTopic(string(make250()), 1, 1), false, kerr.InvalidTopicException.Code},
		{"partitions 0", diffTopic("diff-ct-p0", 0, 1), false, kerr.InvalidPartitions.Code},
		{"partitions -2", diffTopic("diff-ct-pm2", -2, 1), false, kerr.InvalidPartitions.Code},
		{"replication factor 3", diffTopic("diff-ct-rf3", 1, 3), false, kerr.InvalidReplicationFactor.Code},
		{"replication factor 0", diffTopic("diff-ct-rf0", 1, 0), false, kerr.InvalidReplicationFactor.Code},
		{"unknown config key", diffTopic("diff-ct-cfg", 1, 1, "no.such.config", "1"), false, kerr.InvalidConfig.Code},
		{"invalid config value", diffTopic("diff-ct-cfgv", 1, 1, "retention.ms", "soon"), false, kerr.InvalidConfig.Code},
		{"broker defaults -1 -1", diffTopic("diff-ct-defaults", -1, -1), false, 0},
		{"validateOnly", diffTopic("diff-ct-validate", 2, 1), true, 0},
		{"validateOnly existing", diffTopic("diff-ct", 2, 1), true, kerr.TopicAlreadyExists.Code},
		// Existence is checked before partitions, replication factor
		// and configs: "create if missing" tools rely on
		// TOPIC_ALREADY_EXISTS whatever else the request says.
		{"existing name, partitions 0", diffTopic("diff-ct", 0, 1), false, kerr.TopicAlreadyExists.Code},
		{"existing name, replication factor 3", diffTopic("diff-ct", 1, 3), false, kerr.TopicAlreadyExists.Code},
	}
	for _, tc := range cases {
		k, s := diffBoth(t, kafka, sluice, func(side diffSide) *kmsg.CreateTopicsResponse {
			return diffCreateTopics(side, t, tc.validateOnly, tc.topic)
		})
		if len(k.Topics) != 1 || len(s.Topics) != 1 {
			t.Fatalf("%s: %d and %d topics answered", tc.name, len(k.Topics), len(s.Topics))
		}
		kt, st := k.Topics[0], s.Topics[0]
		diffCode(t, "CreateTopics "+tc.name, tc.kafka, kt.ErrorCode, st.ErrorCode)
		if st.Topic != tc.topic.Topic {
			t.Errorf("%s: sluice answered for topic %q", tc.name, st.Topic)
		}
		if tc.kafka == 0 && kt.ErrorCode == 0 {
			if st.ReplicationFactor != kt.ReplicationFactor {
				t.Errorf("%s: replication factor %d, kfake %d", tc.name, st.ReplicationFactor, kt.ReplicationFactor)
			}
			if tc.topic.NumPartitions > 0 && st.NumPartitions != kt.NumPartitions {
				t.Errorf("%s: %d partitions, kfake %d", tc.name, st.NumPartitions, kt.NumPartitions)
			}
		}
		if tc.kafka != 0 && st.ErrorCode != 0 && (st.NumPartitions != -1 || st.ReplicationFactor != -1) {
			// Kafka answers -1 for both on error (CreatableTopicResult
			// defaults).
			t.Errorf("%s: error answer has %d partitions, replication factor %d; Kafka answers -1", tc.name, st.NumPartitions, st.ReplicationFactor)
		}
	}
	// validateOnly created nothing.
	k, s := diffBoth(t, kafka, sluice, func(side diffSide) *kmsg.MetadataResponse { return diffMetadata(side, t, "diff-ct-validate") })
	diffCode(t, "Metadata after validateOnly", kerr.UnknownTopicOrPartition.Code, k.Topics[0].ErrorCode, s.Topics[0].ErrorCode)

	// One name twice in a request: Kafka answers INVALID_REQUEST for that
	// name, once (KafkaApis.handleCreateTopicsRequest "dupes"; checked
	// against Kafka 4.4 by TestKafkaOracle), and creates the others; kfake
	// refuses the whole request.
	kr, sr := diffBoth(t, kafka, sluice, func(side diffSide) *kmsg.CreateTopicsResponse {
		return diffCreateTopics(side, t, false, diffTopic("diff-ct-dup", 1, 1), diffTopic("diff-ct-dup", 1, 1), diffTopic("diff-ct-other", 1, 1))
	})
	if len(sr.Topics) != 2 {
		t.Errorf("CreateTopics with a duplicate: %d answers, want one per distinct name (2)", len(sr.Topics))
	}
	for _, st := range sr.Topics {
		want := kerr.InvalidRequest.Code
		if st.Topic == "diff-ct-other" {
			want = 0
		}
		kcode := int16(-1) // kfake may leave a name out
		for _, kt := range kr.Topics {
			if kt.Topic == st.Topic {
				kcode = kt.ErrorCode
			}
		}
		diffCode(t, "CreateTopics duplicate in request: "+st.Topic, want, kcode, st.ErrorCode)
	}
}

func make250() []byte {
	b := make([]byte, 250)
	for i := range b {
		b[i] = 'x'
	}
	return b
}

func diffTestDeleteTopics(t *testing.T, kafka, sluice diffSide) {
	k, s := diffBoth(t, kafka, sluice, func(side diffSide) *kmsg.DeleteTopicsResponse {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TimeoutMillis = 10000
		req.TopicNames = []string{"diff-no-such-topic"}
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = testutil.Str("diff-no-such-topic")
		req.Topics = append(req.Topics, rt)
		return side.request(t, req).(*kmsg.DeleteTopicsResponse)
	})
	// Kafka: UNKNOWN_TOPIC_OR_PARTITION for an unknown name
	// (ReplicationControlManager.deleteTopics via findTopicIds).
	diffCode(t, "DeleteTopics unknown name", kerr.UnknownTopicOrPartition.Code, k.Topics[0].ErrorCode, s.Topics[0].ErrorCode)

	k, s = diffBoth(t, kafka, sluice, func(side diffSide) *kmsg.DeleteTopicsResponse {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TimeoutMillis = 10000
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.TopicID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
		req.Topics = append(req.Topics, rt)
		return side.request(t, req).(*kmsg.DeleteTopicsResponse)
	})
	// Kafka: UNKNOWN_TOPIC_ID for an unknown id (v6+).
	diffCode(t, "DeleteTopics unknown id", kerr.UnknownTopicID.Code, k.Topics[0].ErrorCode, s.Topics[0].ErrorCode)

	// Delete a real topic, then Metadata without auto-creation does not
	// bring it back.
	diffMustCreate(t, kafka, sluice, diffTopic("diff-del", 1, 1))
	k, s = diffBoth(t, kafka, sluice, func(side diffSide) *kmsg.DeleteTopicsResponse {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TimeoutMillis = 10000
		req.TopicNames = []string{"diff-del"}
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = testutil.Str("diff-del")
		req.Topics = append(req.Topics, rt)
		return side.request(t, req).(*kmsg.DeleteTopicsResponse)
	})
	diffCode(t, "DeleteTopics existing", 0, k.Topics[0].ErrorCode, s.Topics[0].ErrorCode)
	km, sm := diffBoth(t, kafka, sluice, func(side diffSide) *kmsg.MetadataResponse { return diffMetadata(side, t, "diff-del") })
	diffCode(t, "Metadata after delete", kerr.UnknownTopicOrPartition.Code, km.Topics[0].ErrorCode, sm.Topics[0].ErrorCode)
}

func diffTestMetadataNoAutoCreate(t *testing.T, kafka, sluice diffSide) {
	for range 2 { // the second look proves the first did not create it
		k, s := diffBoth(t, kafka, sluice, func(side diffSide) *kmsg.MetadataResponse { return diffMetadata(side, t, "diff-unknown") })
		// KafkaApis.getTopicMetadata: not auto-creating, a valid
		// unknown name is UNKNOWN_TOPIC_OR_PARTITION.
		diffCode(t, "Metadata unknown topic, AllowAutoTopicCreation=false", kerr.UnknownTopicOrPartition.Code, k.Topics[0].ErrorCode, s.Topics[0].ErrorCode)
		if st := s.Topics[0]; st.Topic == nil || *st.Topic != "diff-unknown" || len(st.Partitions) != 0 {
			t.Errorf("sluice unknown topic entry: %+v", st)
		}
	}
	// An invalid name is INVALID_TOPIC_EXCEPTION (Topic.validate in
	// getTopicMetadata).
	k, s := diffBoth(t, kafka, sluice, func(side diffSide) *kmsg.MetadataResponse { return diffMetadata(side, t, "a/b") })
	diffCode(t, "Metadata invalid name", kerr.InvalidTopicException.Code, k.Topics[0].ErrorCode, s.Topics[0].ErrorCode)
}

// diffProduce sends one batch with acks=-1 (the clients' RequiredAcks)
// and returns the partition answer.
func diffProduce(s diffSide, t testing.TB, topic string, partition int32, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	resp := s.request(t, protoProduce(9, -1, topic, partition, batch)).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("%s: produce answer %+v", s.name, resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

func diffTestListOffsets(t *testing.T, kafka, sluice diffSide) {
	diffMustCreate(t, kafka, sluice, diffTopic("diff-lo", 1, 1))
	base := time.Now().Add(-time.Hour).UnixMilli()
	// Batch A: offsets 0-2, timestamps base, base+4000, base+2000.
	// Batch B: offsets 3-4, timestamps base+1000, base+3000.
	batchA := testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: base, Value: "a0"}, testutil.Record{Timestamp: base + 4000, Value: "a1"}, testutil.Record{Timestamp: base + 2000, Value: "a2"})
	batchB := testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: base + 1000, Value: "b0"}, testutil.Record{Timestamp: base + 3000, Value: "b1"})
	for _, batch := range [][]byte{batchA, batchB} {
		k, s := diffBoth(t, kafka, sluice, func(side diffSide) kmsg.ProduceResponseTopicPartition {
			return diffProduce(side, t, "diff-lo", 0, batch)
		})
		diffCode(t, "produce", 0, k.ErrorCode, s.ErrorCode)
		if k.BaseOffset != s.BaseOffset {
			t.Errorf("produce base offset %d, kfake %d", s.BaseOffset, k.BaseOffset)
		}
	}
	// Kafka's answers (UnifiedLog.fetchOffsetByTimestamp): earliest 0;
	// latest the high watermark 5; max timestamp the record holding it
	// (offset 1, since KAFKA-16310); by timestamp the first record, in
	// the first batch whose max timestamp reaches the target, whose own
	// timestamp does (so base+1000 finds offset 1, not 3); none found is
	// offset -1, timestamp -1, no error.
	cases := []struct {
		name       string
		timestamp  int64
		offset, ts int64
	}{
		{"earliest", -2, 0, -1},
		{"latest", -1, 5, -1},
		{"max timestamp", -3, 1, base + 4000},
		{"earliest local", -4, 0, -1},
		{"by timestamp base", base, 0, base},
		{"by timestamp base-1", base - 1, 0, base},
		{"by timestamp base+1000", base + 1000, 1, base + 4000},
		{"by timestamp base+4000", base + 4000, 1, base + 4000},
		{"by timestamp base+4001", base + 4001, -1, -1},
		{"by timestamp 0", 0, 0, base},
	}
	for _, tc := range cases {
		k, s := diffBoth(t, kafka, sluice, func(side diffSide) kmsg.ListOffsetsResponseTopicPartition {
			req := kmsg.NewPtrListOffsetsRequest()
			req.ReplicaID = -1
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = "diff-lo"
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = 0, tc.timestamp
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := side.request(t, req).(*kmsg.ListOffsetsResponse)
			return resp.Topics[0].Partitions[0]
		})
		diffCode(t, "ListOffsets "+tc.name, 0, k.ErrorCode, s.ErrorCode)
		if s.Offset != tc.offset || s.Timestamp != tc.ts {
			t.Errorf("ListOffsets %s: sluice offset %d timestamp %d, Kafka %d %d (kfake %d %d)", tc.name, s.Offset, s.Timestamp, tc.offset, tc.ts, k.Offset, k.Timestamp)
		}
		if k.Offset != tc.offset || k.Timestamp != tc.ts {
			t.Logf("ListOffsets %s: kfake offset %d timestamp %d, Kafka %d %d", tc.name, k.Offset, k.Timestamp, tc.offset, tc.ts)
		}
		// From v4 the leader epoch of the offset found: every batch
		// here was appended in the topic's first epoch, 0; none found
		// is -1.
		epoch := int32(0)
		if tc.offset < 0 {
			epoch = -1
		}
		if s.LeaderEpoch != epoch {
			t.Errorf("ListOffsets %s: sluice leader epoch %d, Kafka %d", tc.name, s.LeaderEpoch, epoch)
		}
		if k.LeaderEpoch != epoch {
			t.Logf("ListOffsets %s: kfake leader epoch %d, Kafka %d", tc.name, k.LeaderEpoch, epoch)
		}
	}
	// Unknown partition and topic.
	for _, tt := range []struct {
		topic     string
		partition int32
	}{{"diff-lo", 9}, {"diff-lo-missing", 0}} {
		k, s := diffBoth(t, kafka, sluice, func(side diffSide) kmsg.ListOffsetsResponseTopicPartition {
			req := kmsg.NewPtrListOffsetsRequest()
			req.ReplicaID = -1
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = tt.topic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = tt.partition, -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return side.request(t, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
		})
		diffCode(t, fmt.Sprintf("ListOffsets %s-%d", tt.topic, tt.partition), kerr.UnknownTopicOrPartition.Code, k.ErrorCode, s.ErrorCode)
	}
}

func diffTestProduceUnknown(t *testing.T, kafka, sluice diffSide) {
	batch := testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: time.Now().UnixMilli(), Value: "x"})
	for _, tt := range []struct {
		topic     string
		partition int32
	}{{"diff-seed", 7}, {"diff-seed", -1}, {"diff-produce-missing", 0}} {
		k, s := diffBoth(t, kafka, sluice, func(side diffSide) kmsg.ProduceResponseTopicPartition {
			return diffProduce(side, t, tt.topic, tt.partition, batch)
		})
		// Kafka: UNKNOWN_TOPIC_OR_PARTITION (ReplicaManager.appendToLocalLog,
		// getPartitionOrException), with base offset and log start
		// offset -1: ProduceResponse.PartitionResponse(Errors) uses
		// INVALID_OFFSET for both.
		diffCode(t, fmt.Sprintf("Produce %s-%d", tt.topic, tt.partition), kerr.UnknownTopicOrPartition.Code, k.ErrorCode, s.ErrorCode)
		if s.BaseOffset != -1 || s.LogStartOffset != -1 {
			t.Errorf("Produce %s-%d: base offset %d, log start offset %d; Kafka answers -1, -1 (kfake %d, %d)",
				tt.topic, tt.partition, s.BaseOffset, s.LogStartOffset, k.BaseOffset, k.LogStartOffset)
		}
	}
}

func diffTestProduceInvalidRecords(t *testing.T, kafka, sluice diffSide) {
	diffMustCreate(t, kafka, sluice, diffTopic("diff-records", 1, 1))
	good := testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: time.Now().UnixMilli(), Value: "x"})
	mutate := func(fn func(b []byte) []byte) []byte {
		return fn(append([]byte(nil), good...))
	}
	// Kafka: KafkaApis.handleProduceRequest runs
	// ProduceRequest.validateRecords on each known partition, which
	// answers INVALID_RECORD when there is no complete batch ("must have
	// at least one record batch per partition"; ByteBufferLogInputStream
	// yields none for fewer than 12 bytes or a batch longer than what
	// follows), when the magic is not 2, and when more than one batch
	// follows; a batch length below 14 is CorruptRecordException from
	// the same iterator, and a bad CRC is CORRUPT_MESSAGE from
	// LogValidator (batch.ensureValid()). Base offset -1 each time.
	cases := []struct {
		name    string
		records []byte
		kafka   int16
	}{
		{"empty", []byte{}, kerr.InvalidRecord.Code},
		{"11 bytes", make([]byte, 11), kerr.InvalidRecord.Code},
		{"batch cut short", good[:len(good)-1], kerr.InvalidRecord.Code},
		{"two batches", append(append([]byte(nil), good...), good...), kerr.InvalidRecord.Code},
		{"magic 1", mutate(func(b []byte) []byte { b[16] = 1; return b }), kerr.InvalidRecord.Code},
		{"batch length 13", mutate(func(b []byte) []byte { b[8], b[9], b[10], b[11] = 0, 0, 0, 13; return b }), kerr.CorruptMessage.Code},
		{"bad crc", mutate(func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }), kerr.CorruptMessage.Code},
	}
	for _, tc := range cases {
		k, s := diffBoth(t, kafka, sluice, func(side diffSide) kmsg.ProduceResponseTopicPartition {
			return diffProduce(side, t, "diff-records", 0, tc.records)
		})
		diffCode(t, "Produce records "+tc.name, tc.kafka, k.ErrorCode, s.ErrorCode)
	}
	// Nothing was appended.
	k, s := diffBoth(t, kafka, sluice, func(side diffSide) kmsg.FetchResponseTopicPartition {
		req := protoFetch(16, "diff-records", 0, 0, 0, 0)
		req.Topics[0].TopicID = diffTopicID(side, t, "diff-records")
		return side.request(t, req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	})
	if s.HighWatermark != 0 || k.HighWatermark != 0 {
		t.Errorf("after invalid produces the high watermark is %d (kfake %d), want 0", s.HighWatermark, k.HighWatermark)
	}
}

func diffTestFetchOutOfRange(t *testing.T, kafka, sluice diffSide) {
	diffMustCreate(t, kafka, sluice, diffTopic("diff-fetch", 1, 1))
	now := time.Now().UnixMilli()
	for i := range 3 {
		batch := testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: now, Value: fmt.Sprint("f", i)})
		k, s := diffBoth(t, kafka, sluice, func(side diffSide) kmsg.ProduceResponseTopicPartition {
			return diffProduce(side, t, "diff-fetch", 0, batch)
		})
		diffCode(t, "produce", 0, k.ErrorCode, s.ErrorCode)
	}
	// Kafka: OFFSET_OUT_OF_RANGE above the high watermark or below the
	// log start; at the high watermark, no error and no records.
	cases := []struct {
		offset int64
		kafka  int16
	}{{100, kerr.OffsetOutOfRange.Code}, {4, kerr.OffsetOutOfRange.Code}, {-1, kerr.OffsetOutOfRange.Code}, {3, 0}, {0, 0}}
	for _, tc := range cases {
		k, s := diffBoth(t, kafka, sluice, func(side diffSide) kmsg.FetchResponseTopicPartition {
			req := protoFetch(16, "diff-fetch", 0, tc.offset, 100, 0)
			req.Topics[0].TopicID = diffTopicID(side, t, "diff-fetch")
			resp := side.request(t, req).(*kmsg.FetchResponse)
			return resp.Topics[0].Partitions[0]
		})
		diffCode(t, fmt.Sprintf("Fetch offset %d", tc.offset), tc.kafka, k.ErrorCode, s.ErrorCode)
		// On an error Apache Kafka answers the offsets -1
		// (FetchResponse.partitionResponse; TestKafkaOracle checks it
		// against Kafka itself); kfake answers the real ones. Where
		// the two disagree, Kafka wins.
		wantHW, wantStart := k.HighWatermark, k.LogStartOffset
		if tc.kafka != 0 {
			wantHW, wantStart = -1, -1
		}
		if s.HighWatermark != wantHW || s.LogStartOffset != wantStart {
			t.Errorf("Fetch offset %d: high watermark %d log start %d, want %d %d", tc.offset, s.HighWatermark, s.LogStartOffset, wantHW, wantStart)
		}
		if (len(s.RecordBatches) > 0) != (len(k.RecordBatches) > 0) {
			t.Errorf("Fetch offset %d: %d record bytes, kfake %d", tc.offset, len(s.RecordBatches), len(k.RecordBatches))
		}
	}
	// An unknown topic id is UNKNOWN_TOPIC_ID (v13+).
	k, s := diffBoth(t, kafka, sluice, func(side diffSide) kmsg.FetchResponseTopicPartition {
		req := protoFetch(16, "", 0, 0, 100, 0)
		req.Topics[0].TopicID = [16]byte{9, 9, 9}
		return side.request(t, req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	})
	diffCode(t, "Fetch unknown topic id", kerr.UnknownTopicID.Code, k.ErrorCode, s.ErrorCode)
}

func diffTestOffsetForLeaderEpoch(t *testing.T, kafka, sluice diffSide) {
	diffMustCreate(t, kafka, sluice, diffTopic("diff-ofle", 1, 1))
	now := time.Now().UnixMilli()
	for i := range 2 {
		batch := testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: now, Value: fmt.Sprint("e", i)})
		k, s := diffBoth(t, kafka, sluice, func(side diffSide) kmsg.ProduceResponseTopicPartition {
			return diffProduce(side, t, "diff-ofle", 0, batch)
		})
		diffCode(t, "produce", 0, k.ErrorCode, s.ErrorCode)
	}
	epochOf := func(side diffSide) int32 {
		return diffMetadata(side, t, "diff-ofle").Topics[0].Partitions[0].LeaderEpoch
	}
	ke, se := diffBoth(t, kafka, sluice, epochOf)
	// Kafka (LeaderEpochFileCache.endOffsetFor, Partition.getLocalLog):
	// the latest epoch ends at the log end; a newer or undefined epoch is
	// -1, -1 without an error; a newer current epoch is
	// UNKNOWN_LEADER_EPOCH; an unknown topic or partition
	// UNKNOWN_TOPIC_OR_PARTITION.
	cases := []struct {
		name               string
		topic              string
		partition          int32
		current, requested func(epoch int32) int32
		kafka              int16
		epoch              func(epoch int32) int32
		end                int64
	}{
		{"latest epoch", "diff-ofle", 0, same(-1), same(0), 0, same(0), 2},
		{"latest epoch, current given", "diff-ofle", 0, same(0), same(0), 0, same(0), 2},
		{"newer epoch", "diff-ofle", 0, same(-1), same(1), 0, fixed(-1), -1},
		{"undefined epoch", "diff-ofle", 0, same(-1), fixed(-1), 0, fixed(-1), -1},
		{"newer current epoch", "diff-ofle", 0, same(1), same(0), kerr.UnknownLeaderEpoch.Code, fixed(-1), -1},
		{"unknown partition", "diff-ofle", 7, same(-1), same(0), kerr.UnknownTopicOrPartition.Code, fixed(-1), -1},
		{"unknown topic", "diff-ofle-missing", 0, same(-1), same(0), kerr.UnknownTopicOrPartition.Code, fixed(-1), -1},
	}
	for _, tc := range cases {
		ask := func(side diffSide, epoch int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
			req := kmsg.NewPtrOffsetForLeaderEpochRequest()
			req.ReplicaID = -1
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = tc.topic
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = tc.partition, tc.current(epoch), tc.requested(epoch)
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return side.request(t, req).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]
		}
		k, s := ask(kafka, ke), ask(sluice, se)
		diffCode(t, "OffsetForLeaderEpoch "+tc.name, tc.kafka, k.ErrorCode, s.ErrorCode)
		if s.LeaderEpoch != tc.epoch(se) || s.EndOffset != tc.end {
			t.Errorf("OffsetForLeaderEpoch %s: sluice epoch %d end offset %d, Kafka %d %d", tc.name, s.LeaderEpoch, s.EndOffset, tc.epoch(se), tc.end)
		}
		if k.LeaderEpoch != tc.epoch(ke) || k.EndOffset != tc.end {
			t.Logf("OffsetForLeaderEpoch %s: kfake epoch %d end offset %d, Kafka %d %d", tc.name, k.LeaderEpoch, k.EndOffset, tc.epoch(ke), tc.end)
		}
	}
}

// same is an epoch relative to the partition's; fixed is an absolute one.
func same(delta int32) func(int32) int32 {
	return func(epoch int32) int32 {
		if delta < 0 {
			return -1 // none
		}
		return epoch + delta
	}
}

func fixed(v int32) func(int32) int32 { return func(int32) int32 { return v } }

func diffInitProducerID(s diffSide, t testing.TB) *kmsg.InitProducerIDResponse {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionTimeoutMillis = 60000
	return s.request(t, req).(*kmsg.InitProducerIDResponse)
}

func diffTestInitProducerID(t *testing.T, kafka, sluice diffSide) {
	k, s := diffBoth(t, kafka, sluice, func(side diffSide) *kmsg.InitProducerIDResponse { return diffInitProducerID(side, t) })
	// Kafka (TransactionCoordinator.handleInitProducerId with a null
	// transactional id): a fresh producer id at epoch 0.
	diffCode(t, "InitProducerId", 0, k.ErrorCode, s.ErrorCode)
	if s.ProducerID < 0 || s.ProducerEpoch != 0 || k.ProducerEpoch != 0 {
		t.Errorf("InitProducerId: sluice id %d epoch %d, kfake epoch %d", s.ProducerID, s.ProducerEpoch, k.ProducerEpoch)
	}
	if again := diffInitProducerID(sluice, t); again.ProducerID == s.ProducerID {
		t.Errorf("InitProducerId twice gave producer id %d both times", s.ProducerID)
	}
}

func diffTestDescribeConfigs(t *testing.T, kafka, sluice diffSide) {
	diffMustCreate(t, kafka, sluice, diffTopic("diff-dc", 1, 1, "retention.ms", "123456", "cleanup.policy", "compact"))
	describe := func(side diffSide, name string) kmsg.DescribeConfigsResponseResource {
		req := kmsg.NewPtrDescribeConfigsRequest()
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, name
		req.Resources = append(req.Resources, rr)
		resp := side.request(t, req).(*kmsg.DescribeConfigsResponse)
		return resp.Resources[0]
	}
	k, s := diffBoth(t, kafka, sluice, func(side diffSide) kmsg.DescribeConfigsResponseResource { return describe(side, "diff-dc") })
	diffCode(t, "DescribeConfigs topic", 0, k.ErrorCode, s.ErrorCode)
	kc := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
	for _, c := range k.Configs {
		kc[c.Name] = c
	}
	compared := 0
	for _, c := range s.Configs {
		kv, ok := kc[c.Name]
		if !ok {
			continue
		}
		compared++
		// Kafka's sources: DYNAMIC_TOPIC_CONFIG for the overrides,
		// DEFAULT_CONFIG for the rest (the test broker sets no topic
		// defaults).
		want := kmsg.ConfigSourceDefaultConfig
		if c.Name == "retention.ms" || c.Name == "cleanup.policy" {
			want = kmsg.ConfigSourceDynamicTopicConfig
		}
		if c.Source != want {
			t.Errorf("DescribeConfigs %s: source %v, Kafka %v (kfake %v)", c.Name, c.Source, want, kv.Source)
		}
		if kv.Source != c.Source {
			t.Logf("DescribeConfigs %s: kfake source %v, sluice %v", c.Name, kv.Source, c.Source)
		}
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig && (c.Value == nil || kv.Value == nil || *c.Value != *kv.Value) {
			t.Errorf("DescribeConfigs %s: value %v, kfake %v", c.Name, c.Value, kv.Value)
		}
	}
	if compared < 2 {
		t.Errorf("DescribeConfigs: only %d keys in common (kfake %d keys, sluice %d)", compared, len(k.Configs), len(s.Configs))
	}
	t.Logf("DescribeConfigs: compared %d keys (kfake lists %d, sluice %d)", compared, len(k.Configs), len(s.Configs))
	for _, name := range []string{"retention.ms", "cleanup.policy"} {
		found := false
		for _, c := range s.Configs {
			found = found || c.Name == name
		}
		if !found {
			t.Errorf("DescribeConfigs: sluice does not list %s", name)
		}
	}
	k, s = diffBoth(t, kafka, sluice, func(side diffSide) kmsg.DescribeConfigsResponseResource { return describe(side, "diff-dc-missing") })
	// Kafka: UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist.
	diffCode(t, "DescribeConfigs unknown topic", kerr.UnknownTopicOrPartition.Code, k.ErrorCode, s.ErrorCode)
}

func diffTestIdempotence(t *testing.T, kafka, sluice diffSide) {
	diffMustCreate(t, kafka, sluice, diffTopic("diff-idem", 1, 1))
	ids := map[string]*kmsg.InitProducerIDResponse{}
	for _, side := range []diffSide{kafka, sluice} {
		ids[side.name] = diffInitProducerID(side, t)
	}
	now := time.Now().UnixMilli()
	three := []testutil.Record{{Timestamp: now, Value: "r0"}, {Timestamp: now, Value: "r1"}, {Timestamp: now, Value: "r2"}}
	// Sequence checks per Kafka's ProducerStateManager / ProducerAppendInfo
	// and UnifiedLog.analyzeAndValidateProducerState: a retry of one of
	// the last five batches is answered with its original base offset and
	// no error; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is
	// INVALID_PRODUCER_EPOCH (since 2.7, for client produce); a new epoch
	// must start at sequence 0 (else OUT_OF_ORDER_SEQUENCE_NUMBER).
	steps := []struct {
		name   string
		epoch  int16
		seq    int32
		kafka  int16
		offset int64 // Kafka's base offset when kafka == 0
	}{
		{"first batch", 0, 0, 0, 0},
		{"same batch again (retry)", 0, 0, 0, 0},
		{"next batch", 0, 3, 0, 3},
		{"first batch again, not the last one", 0, 0, 0, 0},
		{"next batch again", 0, 3, 0, 3},
		{"sequence gap", 0, 10, kerr.OutOfOrderSequenceNumber.Code, -1},
		{"sequence overlap", 0, 4, kerr.OutOfOrderSequenceNumber.Code, -1},
		{"in sequence after the errors", 0, 6, 0, 6},
		{"new epoch not at sequence 0", 1, 5, kerr.OutOfOrderSequenceNumber.Code, -1},
		{"new epoch at sequence 0", 1, 0, 0, 9},
		{"stale epoch", 0, 9, kerr.InvalidProducerEpoch.Code, -1},
		{"stale epoch retry of an old batch", 0, 6, kerr.InvalidProducerEpoch.Code, -1},
		{"current epoch continues", 1, 3, 0, 12},
	}
	for _, st := range steps {
		k, s := diffBoth(t, kafka, sluice, func(side diffSide) kmsg.ProduceResponseTopicPartition {
			id := ids[side.name]
			return diffProduce(side, t, "diff-idem", 0, testutil.Batch(id.ProducerID, id.ProducerEpoch+st.epoch, st.seq, three...))
		})
		diffCode(t, "idempotent produce: "+st.name, st.kafka, k.ErrorCode, s.ErrorCode)
		if st.kafka != 0 && s.BaseOffset != -1 {
			// ProduceResponse.PartitionResponse(Errors): INVALID_OFFSET.
			t.Errorf("idempotent produce %s: error answer with base offset %d, Kafka answers -1 (kfake %d)", st.name, s.BaseOffset, k.BaseOffset)
		}
		if st.kafka == 0 && s.BaseOffset != st.offset {
			t.Errorf("idempotent produce %s: base offset %d, Kafka %d (kfake %d)", st.name, s.BaseOffset, st.offset, k.BaseOffset)
		}
		if st.kafka == 0 && k.ErrorCode == 0 && k.BaseOffset != s.BaseOffset {
			t.Errorf("idempotent produce %s: base offset %d, kfake %d", st.name, s.BaseOffset, k.BaseOffset)
		}
	}
	// What was appended: 5 batches of 3 records, no duplicates.
	k, s := diffBoth(t, kafka, sluice, func(side diffSide) kmsg.ListOffsetsResponseTopicPartition {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "diff-idem"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return side.request(t, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	})
	if s.Offset != 15 || k.Offset != s.Offset {
		t.Errorf("after the idempotent steps the log ends at %d, kfake %d, want 15", s.Offset, k.Offset)
	}
}
