package log

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/record"
)

// kv is one record a compaction test writes; a nil value is a tombstone.
type kv struct {
	key   string
	value []byte
	ts    int64
}

// keyedBatch builds a producer's batch of records with the given keys,
// values and timestamps, compressed with codec. pid -1 means no producer
// id (and sequence -1).
func keyedBatch(tb testing.TB, codec record.Codec, pid int64, epoch int16, seq int32, recs []kv) []byte {
	tb.Helper()
	var raw []byte
	maxTs := recs[0].ts
	for i, r := range recs {
		rec := kmsg.Record{
			TimestampDelta64: r.ts - recs[0].ts,
			OffsetDelta:      int32(i),
			Key:              []byte(r.key),
			Value:            r.value,
		}
		if r.key == "" {
			rec.Key = nil
		}
		rec.Length = int32(len(rec.AppendTo(nil)) - 1)
		raw = rec.AppendTo(raw)
		maxTs = max(maxTs, r.ts)
	}
	if pid < 0 {
		seq = -1
	}
	batch := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, Attributes: int16(codec),
		LastOffsetDelta: int32(len(recs) - 1), FirstTimestamp: recs[0].ts, MaxTimestamp: maxTs,
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: int32(len(recs)),
		Records: compress(tb, codec, raw),
	}
	b := batch.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	record.SetChecksum(b)
	if _, err := record.Validate(b); err != nil {
		tb.Fatalf("keyedBatch built an invalid batch: %v", err)
	}
	return b
}

// appendKV appends one batch of recs and returns its base offset.
func appendKV(tb testing.TB, l *Log, codec record.Codec, recs []kv) int64 {
	tb.Helper()
	return appendRaw(tb, l, keyedBatch(tb, codec, -1, 0, -1, recs))
}

func appendRaw(tb testing.TB, l *Log, batch []byte) int64 {
	tb.Helper()
	h, err := record.Validate(batch)
	if err != nil {
		tb.Fatal(err)
	}
	base, err := l.Append(batch, h)
	if err != nil {
		tb.Fatalf("append: %v", err)
	}
	return base
}

// stored is a record as read back from the log.
type stored struct {
	offset    int64
	key       string
	value     []byte
	tombstone bool
	ts        int64
}

// storedBatch is a batch as read back, with its records.
type storedBatch struct {
	h       record.Header
	records []stored
}

// readLog reads the whole log with Read and decodes it with franz-go's
// kbin and decompressor, independently of the cleaner's decoder. It checks
// what a Kafka client relies on: CRCs, increasing offsets, record offsets
// within their batch.
func readLog(tb testing.TB, l *Log) []storedBatch {
	tb.Helper()
	logStart, _, _ := l.Offsets()
	return readLogFrom(tb, l, logStart)
}

// readLogFrom is readLog from offset on, as a consumer starting there.
func readLogFrom(tb testing.TB, l *Log, from int64) []storedBatch {
	tb.Helper()
	_, hw, _ := l.Offsets()
	var out []storedBatch
	next := from
	for offset := from; offset < hw; {
		b, err := l.Read(offset, 1<<20, true)
		if err != nil {
			tb.Fatalf("read at %d: %v", offset, err)
		}
		if len(b) == 0 {
			tb.Fatalf("read at %d below high watermark %d returned nothing", offset, hw)
		}
		for len(b) > 0 {
			batch, rest, err := record.Next(b)
			if err != nil {
				tb.Fatalf("read at %d: %v", offset, err)
			}
			sb := decodeBatch(tb, batch)
			if sb.h.BaseOffset < next {
				tb.Fatalf("batch at %d after offset %d was read", sb.h.BaseOffset, next-1)
			}
			out = append(out, sb)
			next, offset, b = sb.h.NextOffset(), sb.h.NextOffset(), rest
		}
	}
	return out
}

var testDecompressor = kgo.DefaultDecompressor()

func decodeBatch(tb testing.TB, batch []byte) storedBatch {
	tb.Helper()
	h, err := record.ParseHeader(batch)
	if err != nil {
		tb.Fatal(err)
	}
	if crc := record.Checksum(batch); crc != h.CRC {
		tb.Fatalf("batch at %d: bad crc", h.BaseOffset)
	}
	area := batch[record.HeaderSize:]
	if h.Compression() != record.CodecNone {
		if area, err = testDecompressor.Decompress(area, kgo.CompressionCodecType(h.Compression())); err != nil {
			tb.Fatalf("batch at %d: %v", h.BaseOffset, err)
		}
	}
	sb := storedBatch{h: h}
	last := int32(-1)
	for range h.NumRecords {
		length, used := kbin.Varint(area)
		r := kbin.Reader{Src: area[used : used+int(length)]}
		area = area[used+int(length):]
		r.Int8()
		tsDelta := r.Varlong()
		offsetDelta := r.Varint()
		key := r.VarintBytes()
		value := r.VarintBytes()
		for range r.VarintArrayLen() {
			r.VarintString()
			r.VarintBytes()
		}
		if err := r.Complete(); err != nil {
			tb.Fatalf("batch at %d: record: %v", h.BaseOffset, err)
		}
		if offsetDelta <= last || offsetDelta > h.LastOffsetDelta {
			tb.Fatalf("batch at %d: offsetDelta %d after %d", h.BaseOffset, offsetDelta, last)
		}
		last = offsetDelta
		ts := h.BaseTimestamp + tsDelta
		if h.LogAppendTime() {
			ts = h.MaxTimestamp
		}
		sb.records = append(sb.records, stored{
			offset: h.BaseOffset + int64(offsetDelta), key: string(key), value: bytes.Clone(value),
			tombstone: value == nil, ts: ts,
		})
	}
	if len(area) != 0 {
		tb.Fatalf("batch at %d: %d bytes after its records", h.BaseOffset, len(area))
	}
	return sb
}

func flatten(bs []storedBatch) []stored {
	var out []stored
	for _, b := range bs {
		out = append(out, b.records...)
	}
	return out
}

// latest returns the last record of each key, tombstones included.
func latest(recs []stored) map[string]stored {
	m := map[string]stored{}
	for _, r := range recs {
		m[r.key] = r
	}
	return m
}

// checkSameLatest fails unless got holds the same latest record per key
// as want, at the same offsets.
func checkSameLatest(tb testing.TB, got, want []stored) {
	tb.Helper()
	g, w := latest(got), latest(want)
	if len(g) != len(w) {
		tb.Fatalf("%d keys, want %d", len(g), len(w))
	}
	for k, wr := range w {
		gr, ok := g[k]
		if !ok || gr.offset != wr.offset || !bytes.Equal(gr.value, wr.value) || gr.tombstone != wr.tombstone || gr.ts != wr.ts {
			tb.Fatalf("key %q: latest %+v, want %+v", k, gr, wr)
		}
	}
}

// checkSubsequence fails unless every record of got is the record of want
// at the same offset: compaction removes records, never changes one.
func checkSubsequence(tb testing.TB, got, want []stored) {
	tb.Helper()
	byOffset := map[int64]stored{}
	for _, r := range want {
		byOffset[r.offset] = r
	}
	for _, r := range got {
		w, ok := byOffset[r.offset]
		if !ok || w.key != r.key || !bytes.Equal(w.value, r.value) || w.ts != r.ts {
			tb.Fatalf("record at %d is %+v, written as %+v", r.offset, r, w)
		}
	}
}

// compactConfig makes small segments so a few thousand records span many,
// cleans whenever anything is dirty, and keeps the high watermark at the
// log end.
func compactConfig() Config {
	cfg := relaxedConfig()
	cfg.Compact = true
	cfg.SegmentBytes = 8 << 10
	cfg.IndexIntervalBytes = 512
	cfg.MinCleanableDirtyRatio = 0
	cfg.DeleteRetentionMs = 1000
	cfg.SegmentDeleteDelay = 0
	return cfg
}

func testCleaner() *Cleaner {
	return NewCleaner(CleanerConfig{DedupeBufferBytes: 1 << 20, IOBufferBytes: 16 << 10, Logger: quietLogger})
}

// mustClean runs a clean at now and fails the test on error.
func mustClean(tb testing.TB, c *Cleaner, l *Log, now time.Time) CleanStats {
	tb.Helper()
	st, err := c.Clean(l, now)
	if err != nil {
		tb.Fatalf("clean: %v", err)
	}
	return st
}

// writeUpdates appends n updates over keys keys in batches of perBatch,
// with values naming their update number and timestamps from ts0, one
// millisecond apart; every tombstoneEvery-th update (if > 0) is a
// tombstone.
func writeUpdates(tb testing.TB, l *Log, codec record.Codec, n, keys, perBatch, tombstoneEvery int, ts0 int64) {
	tb.Helper()
	for i := 0; i < n; i += perBatch {
		var recs []kv
		for j := i; j < min(i+perBatch, n); j++ {
			r := kv{key: fmt.Sprintf("k%04d", (j*7919)%keys), value: fmt.Appendf(nil, "v%06d", j), ts: ts0 + int64(j)}
			if tombstoneEvery > 0 && j%tombstoneEvery == tombstoneEvery-1 {
				r.value = nil
			}
			recs = append(recs, r)
		}
		appendKV(tb, l, codec, recs)
	}
}

// activeBase returns the base offset of the active segment.
func activeBase(l *Log) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.activeLocked().baseOffset
}

// checkCompacted fails unless the cleaned part of the log (below
// cleanedEnd) holds each key at most once.
func checkCompacted(tb testing.TB, recs []stored, cleanedEnd int64) {
	tb.Helper()
	seen := map[string]int64{}
	for _, r := range recs {
		if r.offset >= cleanedEnd {
			break
		}
		if o, ok := seen[r.key]; ok {
			tb.Fatalf("key %q at %d and %d below the cleaned end %d", r.key, o, r.offset, cleanedEnd)
		}
		seen[r.key] = r.offset
	}
}

// rollPast appends filler records (one key) until the records before
// them are out of the active segment.
func rollPast(tb testing.TB, l *Log, ts int64) {
	tb.Helper()
	first := activeBase(l)
	for activeBase(l) == first {
		appendKV(tb, l, record.CodecNone, []kv{{key: "filler", value: make([]byte, 1000), ts: ts}})
	}
}
