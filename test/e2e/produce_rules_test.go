package e2e

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTopicCompressionAndTimestampBounds: a topic's compression.type makes
// the broker re-encode batches (read back byte-identical records, stored
// with the topic's codec), and message.timestamp.before/after.max.ms
// refuse CreateTime records outside the window with INVALID_TIMESTAMP.
func TestTopicCompressionAndTimestampBounds(t *testing.T) {
	b := StartBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ProducerBatchCompression(kgo.SnappyCompression()), kgo.RecordRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := testContext(t, time.Minute)
	zstd, hour := "zstd", "3600000"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"compression.type": &zstd}, "recompress"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{
		"message.timestamp.before.max.ms": &hour, "message.timestamp.after.max.ms": &hour}, "bounded"); err != nil {
		t.Fatal(err)
	}

	sent := makeRecords("recompress", 300)
	for _, r := range sent {
		r.Timestamp = time.Now()
	}
	produceAll(t, cl, sent)
	checkSame(t, sent, consumeN(t, b.Addr, "recompress", len(sent)))
	for _, batch := range readDiskBatches(t, b.DataDir, "recompress", 0) {
		if batch.Codec != codecIDs["zstd"] {
			t.Fatalf("batch at offset %d stored with codec %d, want zstd (%d): the broker did not re-encode", batch.BaseOffset, batch.Codec, codecIDs["zstd"])
		}
	}

	ok := &kgo.Record{Topic: "bounded", Value: []byte("now"), Timestamp: time.Now()}
	if err := cl.ProduceSync(ctx, ok).FirstErr(); err != nil {
		t.Fatalf("record stamped now: %v", err)
	}
	for _, ts := range []time.Time{time.Now().Add(-2 * time.Hour), time.Now().Add(2 * time.Hour)} {
		r := &kgo.Record{Topic: "bounded", Value: []byte("skewed"), Timestamp: ts}
		if err := cl.ProduceSync(ctx, r).FirstErr(); !errors.Is(err, kerr.InvalidTimestamp) {
			t.Fatalf("record stamped %v: %v, want INVALID_TIMESTAMP", ts, err)
		}
	}
}

// TestCompactedTopicRequiresKeys: a compacted topic refuses a record
// without a key with INVALID_RECORD, as Kafka does, and takes keyed ones.
func TestCompactedTopicRequiresKeys(t *testing.T) {
	b := StartBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RecordRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testContext(t, time.Minute)
	compact := "compact"
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": &compact}, "compacted"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "compacted", Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("keyed record: %v", err)
	}
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "compacted", Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("record without a key: %v, want INVALID_RECORD", err)
	}
}
