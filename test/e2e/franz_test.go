package e2e

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceAll produces recs with an idempotent franz-go producer (the
// default) and fails the test on any error.
func produceAll(t *testing.T, cl *kgo.Client, recs []*kgo.Record) {
	t.Helper()
	ctx := testContext(t, 2*time.Minute)
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v (partition %d offset %d)", err, recs[0].Partition, recs[0].Offset)
	}
}

// consumeN reads n records from the start of topic.
func consumeN(t *testing.T, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testContext(t, 2*time.Minute)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(out), n, err)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s[%d]: %v", topic, p, err)
		})
		out = append(out, fs.Records()...)
	}
	return out
}

func makeRecords(topic string, n int) []*kgo.Record {
	base := time.UnixMilli(1_700_000_000_000)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{
			Topic:     topic,
			Key:       []byte("key-" + strconv.Itoa(i%977)),
			Value:     bytes.Repeat([]byte{byte(i)}, 50+i%150),
			Headers:   []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}, {Key: "empty", Value: []byte{}}},
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
		}
	}
	return recs
}

// checkSame compares produced and consumed records by their "i" header.
func checkSame(t *testing.T, sent, got []*kgo.Record) {
	t.Helper()
	if len(got) != len(sent) {
		t.Fatalf("consumed %d records, produced %d", len(got), len(sent))
	}
	seen := make([]bool, len(sent))
	lastOffset := map[int32]int64{}
	for _, r := range got {
		i, err := strconv.Atoi(string(r.Headers[0].Value))
		if err != nil || i < 0 || i >= len(sent) || seen[i] {
			t.Fatalf("unexpected or repeated record %q", r.Headers[0].Value)
		}
		seen[i] = true
		s := sent[i]
		if !bytes.Equal(r.Key, s.Key) || !bytes.Equal(r.Value, s.Value) || !r.Timestamp.Equal(s.Timestamp) ||
			len(r.Headers) != 2 || r.Headers[1].Key != "empty" || len(r.Headers[1].Value) != 0 {
			t.Fatalf("record %d differs: got key %q ts %v, sent key %q ts %v", i, r.Key, r.Timestamp, s.Key, s.Timestamp)
		}
		if r.Partition != s.Partition || r.Offset != s.Offset {
			t.Fatalf("record %d consumed at %d/%d, acknowledged at %d/%d", i, r.Partition, r.Offset, s.Partition, s.Offset)
		}
		if last, ok := lastOffset[r.Partition]; ok && r.Offset != last+1 {
			t.Fatalf("partition %d offsets jump from %d to %d", r.Partition, last, r.Offset)
		}
		lastOffset[r.Partition] = r.Offset
	}
}

// TestFranzProduceConsume100k: franz-go with default settings (idempotent
// producer) writes 100,000 records over 6 partitions and reads them back
// byte-identical, with each compression codec.
func TestFranzProduceConsume100k(t *testing.T) {
	b := StartBroker(t)
	adm, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
		n     int
	}{
		{"none", kgo.NoCompression(), 100_000},
		{"gzip", kgo.GzipCompression(), 10_000},
		{"snappy", kgo.SnappyCompression(), 10_000},
		{"lz4", kgo.Lz4Compression(), 10_000},
		{"zstd", kgo.ZstdCompression(), 10_000},
	}
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			topic := "franz-" + c.name
			ctx := testContext(t, time.Minute)
			if _, err := kadm.NewClient(adm).CreateTopic(ctx, 6, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ProducerBatchCompression(c.codec))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			sent := makeRecords(topic, c.n)
			produceAll(t, cl, sent)
			checkSame(t, sent, consumeN(t, b.Addr, topic, c.n))
		})
	}
}

// TestFranzRestartKeepsRecords: a clean restart keeps every record and
// the idempotent producer state, so a new producer continues cleanly.
func TestFranzRestartKeepsRecords(t *testing.T) {
	b := StartBroker(t)
	// The topic is auto-created, as Kafka does when the client allows it.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	sent := makeRecords("restart", 5000)
	produceAll(t, cl, sent)
	cl.Close()
	b.Stop()
	if code := b.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, b.Output())
	}
	b.Start()
	checkSame(t, sent, consumeN(t, b.Addr, "restart", len(sent)))

	cl2, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	more := makeRecords("restart", 10)
	produceAll(t, cl2, more)
	for _, r := range more {
		if r.Offset < 0 {
			t.Fatalf("bad offset %d", r.Offset)
		}
	}
}
