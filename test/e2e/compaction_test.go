package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// compactionModel is what a compacted topic must end with: the value each
// record was written with, by offset, and the latest offset of each key.
type compactionModel struct {
	byOffset map[int64][]byte // nil value: a tombstone
	latest   map[string]int64
	end      int64 // log end offset
}

// produceUpdates writes recs in chunks and records their offsets.
func (m *compactionModel) produceUpdates(t *testing.T, cl *kgo.Client, recs []*kgo.Record) {
	t.Helper()
	for i := 0; i < len(recs); i += 1000 {
		chunk := recs[i:min(i+1000, len(recs))]
		produceAll(t, cl, chunk)
		for _, r := range chunk {
			m.byOffset[r.Offset] = r.Value
			m.latest[string(r.Key)] = r.Offset
			m.end = max(m.end, r.Offset+1)
		}
	}
}

// consumeAll reads the partition from its start to offset end-1.
func consumeAll(t *testing.T, addr, topic string, end int64) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testContext(t, time.Minute)
	var out []*kgo.Record
	for len(out) == 0 || out[len(out)-1].Offset < end-1 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d records, not up to offset %d: %v", len(out), end-1, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// check compares what a consumer reads with the model. It returns a reason
// the topic is not compacted yet, or "" once it holds exactly the latest
// value of each live key (plus what the active segment still holds).
func (m *compactionModel) check(t *testing.T, recs []*kgo.Record, activeRecordsMax int) string {
	t.Helper()
	last := map[string]*kgo.Record{}
	for i, r := range recs {
		want, ok := m.byOffset[r.Offset]
		if !ok || !bytes.Equal(want, r.Value) || (want == nil) != (r.Value == nil) {
			t.Fatalf("record at offset %d reads %q, was written %q (written: %v)", r.Offset, r.Value, want, ok)
		}
		if i > 0 && r.Offset <= recs[i-1].Offset {
			t.Fatalf("offset %d after %d", r.Offset, recs[i-1].Offset)
		}
		last[string(r.Key)] = r
	}
	for key, offset := range m.latest {
		r, ok := last[key]
		if m.byOffset[offset] == nil {
			if ok && r.Offset == offset {
				return fmt.Sprintf("tombstone of %s at %d still there", key, offset)
			}
			if ok {
				t.Fatalf("deleted key %s reads back %q at %d, its tombstone is at %d", key, r.Value, r.Offset, offset)
			}
			continue
		}
		if !ok || r.Offset != offset {
			t.Fatalf("key %s: latest read at %v, written at %d", key, r, offset)
		}
	}
	if live := len(last); len(recs) > live+activeRecordsMax {
		// Records the active segment still holds are not cleanable yet.
		return fmt.Sprintf("%d records for %d keys", len(recs), live)
	}
	return ""
}

// waitCompacted polls until check passes.
func (m *compactionModel) waitCompacted(t *testing.T, b *Broker, topic string, activeRecordsMax int) []*kgo.Record {
	t.Helper()
	var recs []*kgo.Record
	var reason string
	if !testutil.WaitForEvery(60*time.Second, 200*time.Millisecond, func() bool {
		recs = consumeAll(t, b.Addr, topic, m.end)
		reason = m.check(t, recs, activeRecordsMax)
		return reason == ""
	}) {
		t.Fatalf("topic not compacted after 60s: %s; broker's cleaner log:\n%s", reason, cleanerLines(b.Output()))
	}
	return recs
}

// rollActive writes two records, under their own key, each larger than
// segment.bytes: each rolls a segment, so every update before them is in
// a cleanable segment and the first of them is superseded by the second.
func (m *compactionModel) rollActive(t *testing.T, cl *kgo.Client, topic string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(m.end), 7))
	for range 2 {
		value := make([]byte, 100<<10) // incompressible, over segment.bytes
		for i := range value {
			value[i] = byte(rng.Uint32())
		}
		m.produceUpdates(t, cl, []*kgo.Record{{Topic: topic, Key: []byte("filler"), Value: value, Timestamp: time.Now()}})
	}
}

func updates(topic string, n, keys int, seed uint64, skip func(key int) bool) []*kgo.Record {
	rng := rand.New(rand.NewPCG(seed, 1))
	var recs []*kgo.Record
	for len(recs) < n {
		k := rng.IntN(keys)
		if skip != nil && skip(k) {
			continue
		}
		recs = append(recs, &kgo.Record{
			Topic: topic, Key: fmt.Appendf(nil, "key-%04d", k),
			Value: fmt.Appendf(nil, "seed %d update %d of key %d", seed, len(recs), k), Timestamp: time.Now(),
		})
	}
	return recs
}

// TestCompaction: a compacted topic with 100,000 updates over 1,000 keys
// ends with exactly the latest value per key at its original offset;
// tombstoned keys are gone after delete.retention.ms; kill -9 during
// cleans leaves a log that recovers to the same latest values.
func TestCompaction(t *testing.T) {
	b := StartBroker(t, "KAFKA_LOG_CLEANER_BACKOFF_MS=100", "KAFKA_LOG_SEGMENT_DELETE_DELAY_MS=0")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ProducerBatchCompression(kgo.Lz4Compression()),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cl.Close() }()
	adm := kadm.NewClient(cl)
	ctx := testContext(t, time.Minute)
	const topic, keys = "compacted", 1000
	configs := map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.bytes":             kadm.StringPtr("65536"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.1"),
		"delete.retention.ms":       kadm.StringPtr("2000"),
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, configs, topic); err != nil {
		t.Fatal(err)
	}
	m := &compactionModel{byOffset: map[int64][]byte{}, latest: map[string]int64{}}
	m.produceUpdates(t, cl, updates(topic, 100_000, keys, 1, nil))

	// Delete every tenth key, then update the others so the tombstones
	// leave the active segment.
	var deletes []*kgo.Record
	for k := 0; k < keys; k += 10 {
		deletes = append(deletes, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%04d", k), Timestamp: time.Now()})
	}
	m.produceUpdates(t, cl, deletes)
	m.produceUpdates(t, cl, updates(topic, 5000, keys, 2, func(k int) bool { return k%10 == 0 }))
	m.rollActive(t, cl, topic)

	// Exactly the latest record of each live key remains; of the two
	// fillers, the first is the latest its key has outside the active
	// segment, which the cleaner never reads, so it stays too.
	recs := m.waitCompacted(t, b, topic, 1)
	t.Logf("compacted: %d records read for %d live keys (and the filler), log end %d", len(recs), keys-keys/10, m.end)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup(topic, 0); o.Offset != 0 {
		t.Fatalf("log start offset %d after compaction, want 0", o.Offset)
	}

	// kill -9 while the cleaner works on new updates, several times; the
	// log recovers and compacts to the same latest values.
	rng := rand.New(rand.NewPCG(3, 3))
	for round := range 4 {
		// A new client each round keeps the test independent of how the
		// client reconnects after the crash.
		cl.Close()
		if cl, err = kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ProducerLinger(5*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		m.produceUpdates(t, cl, updates(topic, 20_000, keys, uint64(10+round), func(k int) bool { return k%10 == 0 }))
		// A random pause, not a wait: the kill must land at a random
		// point of the cleaner's work.
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		b.Kill()
		b.Start()
	}
	m.rollActive(t, cl, topic)
	m.waitCompacted(t, b, topic, 1)
}

// cleanerLines picks the last lines of the broker's output about cleaning.
func cleanerLines(out string) string {
	var picked []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "clean") || strings.Contains(line, "compaction") || strings.Contains(line, "ERROR") {
			picked = append(picked, line)
		}
	}
	return strings.Join(picked[max(len(picked)-30, 0):], "\n")
}
