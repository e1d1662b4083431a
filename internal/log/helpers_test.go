package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/record"
)

// testBatch describes a RecordBatch v2 for newBatch. The zero value (plus
// Records) is an uncompressed batch of CreateTime records without a
// producer id.
type testBatch struct {
	Records int // number of records, at least 1
	// Timestamps are the records' create times; nil means
	// BaseTimestamp, BaseTimestamp+1, ...
	Timestamps    []int64
	BaseTimestamp int64
	// ProducerID, ProducerEpoch and BaseSequence are copied into the
	// header as given; use ProducerID -1 (and BaseSequence -1) for a batch
	// without idempotence. A zero ProducerID is a real producer id.
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	Codec         record.Codec
	ValueBytes    int    // bytes of each record's value
	Seed          uint64 // varies the value bytes so that batches differ
}

// testTimestamps returns the create time of each record of spec.
func (spec testBatch) testTimestamps() []int64 {
	if spec.Timestamps != nil {
		if len(spec.Timestamps) != spec.Records {
			panic("testBatch: len(Timestamps) != Records")
		}
		return spec.Timestamps
	}
	ts := make([]int64, spec.Records)
	for i := range ts {
		ts[i] = spec.BaseTimestamp + int64(i)
	}
	return ts
}

// newBatch builds a valid RecordBatch v2 (baseOffset 0) as a producer
// would send it, compressing the records area with franz-go's compressor
// when spec.Codec asks for it. It fails the test if the record package
// does not accept the result.
func newBatch(tb testing.TB, spec testBatch) []byte {
	tb.Helper()
	if spec.Records < 1 {
		tb.Fatalf("newBatch: %d records", spec.Records)
	}
	timestamps := spec.testTimestamps()
	rng := rand.New(rand.NewPCG(spec.Seed, uint64(spec.Records)))
	var raw []byte
	for i, ts := range timestamps {
		value := make([]byte, spec.ValueBytes)
		for j := range value {
			value[j] = byte(rng.Uint32())
		}
		r := kmsg.Record{
			TimestampDelta64: ts - timestamps[0],
			OffsetDelta:      int32(i),
			Key:              binary.BigEndian.AppendUint64(nil, spec.Seed+uint64(i)),
			Value:            value,
		}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // Length 0 encodes in one byte
		raw = r.AppendTo(raw)
	}
	area := compress(tb, spec.Codec, raw)
	batch := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           int16(spec.Codec),
		LastOffsetDelta:      int32(spec.Records - 1),
		FirstTimestamp:       timestamps[0],
		MaxTimestamp:         slices.Max(timestamps),
		ProducerID:           spec.ProducerID,
		ProducerEpoch:        spec.ProducerEpoch,
		FirstSequence:        spec.BaseSequence,
		NumRecords:           int32(spec.Records),
		Records:              area,
	}
	b := batch.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	record.SetChecksum(b)
	if _, err := record.Validate(b); err != nil {
		tb.Fatalf("newBatch built an invalid batch: %v", err)
	}
	return b
}

// compress compresses a records area as franz-go producers do.
func compress(tb testing.TB, codec record.Codec, raw []byte) []byte {
	tb.Helper()
	options := map[record.Codec]kgo.CompressionCodec{
		record.CodecGzip:   kgo.GzipCompression(),
		record.CodecSnappy: kgo.SnappyCompression(),
		record.CodecLZ4:    kgo.Lz4Compression(),
		record.CodecZstd:   kgo.ZstdCompression(),
	}
	if codec == record.CodecNone {
		return raw
	}
	compressor, err := kgo.DefaultCompressor(options[codec])
	if err != nil {
		tb.Fatal(err)
	}
	out, used := compressor.Compress(new(bytes.Buffer), raw)
	if used != kgo.CompressionCodecType(codec) {
		tb.Fatalf("compressor used codec %d, want %d", used, codec)
	}
	return bytes.Clone(out)
}

// written is what a test remembers of a batch it appended: the bytes as
// they must read back, and the offsets the log assigned.
type written struct {
	base, next int64 // first offset, one past the last
	bytes      []byte
	timestamps []int64 // record timestamps, as a reader must see them
}

// appendBatch validates batch, appends it and checks the offsets the log
// assigned: base at the log end offset, the log end offset moved by the
// record count.
func appendBatch(tb testing.TB, l *Log, batch []byte, timestamps []int64) written {
	tb.Helper()
	h, err := record.Validate(batch)
	if err != nil {
		tb.Fatalf("validate: %v", err)
	}
	_, _, leo := l.Offsets()
	base, err := l.Append(batch, h)
	if err != nil {
		tb.Fatalf("append: %v", err)
	}
	if base != leo {
		tb.Fatalf("append at log end %d assigned base offset %d", leo, base)
	}
	if got := int64(binary.BigEndian.Uint64(batch)); got != base {
		tb.Fatalf("batch baseOffset field %d after append, want %d", got, base)
	}
	if _, _, end := l.Offsets(); end != base+int64(h.NumRecords) {
		tb.Fatalf("log end %d after appending %d records at %d", end, h.NumRecords, base)
	}
	return written{base: base, next: base + int64(h.NumRecords), bytes: bytes.Clone(batch), timestamps: timestamps}
}

// appendSpec builds a batch from spec and appends it.
func appendSpec(tb testing.TB, l *Log, spec testBatch) written {
	tb.Helper()
	return appendBatch(tb, l, newBatch(tb, spec), spec.testTimestamps())
}

// relaxedConfig is DefaultConfig with flush.messages high enough that the
// high watermark follows the log end offset at once.
func relaxedConfig() Config {
	cfg := DefaultConfig()
	cfg.FlushMessages = 1 << 40
	return cfg
}

// quietLogger drops the log's messages: recovery warns on purpose in
// these tests.
var quietLogger = slog.New(slog.DiscardHandler)

// mustOpen opens dir and fails the test on error; the log is closed when
// the test ends (closing twice is harmless).
func mustOpen(tb testing.TB, dir string, cfg Config, opts OpenOptions) *Log {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger
	}
	l, err := Open(dir, cfg, opts)
	if err != nil {
		tb.Fatalf("open %s: %v", dir, err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

func mustClose(tb testing.TB, l *Log) {
	tb.Helper()
	if err := l.Close(); err != nil {
		tb.Fatalf("close: %v", err)
	}
}

// readAllBatches reads from offset to the high watermark with Read, in
// steps of maxBytes, and splits the result into batches. Every batch must
// parse, pass Validate, and follow the previous one.
func readAllBatches(tb testing.TB, l *Log, offset int64, maxBytes int) [][]byte {
	tb.Helper()
	var out [][]byte
	_, hw, _ := l.Offsets()
	for offset < hw {
		b, err := l.Read(offset, maxBytes, true)
		if err != nil {
			tb.Fatalf("read at %d: %v", offset, err)
		}
		if len(b) == 0 {
			tb.Fatalf("read at %d below high watermark %d returned nothing", offset, hw)
		}
		for len(b) > 0 {
			batch, rest, err := record.Next(b)
			if err != nil {
				tb.Fatalf("read at %d returned a partial batch: %v", offset, err)
			}
			h, err := record.Validate(batch)
			if err != nil {
				tb.Fatalf("read at %d returned an invalid batch: %v", offset, err)
			}
			if h.LastOffset() < offset {
				tb.Fatalf("read at %d returned batch %d..%d", offset, h.BaseOffset, h.LastOffset())
			}
			out = append(out, batch)
			offset, b = h.NextOffset(), rest
		}
	}
	return out
}

// checkReadsBack reads the whole log and compares it with want, byte for
// byte, batch for batch.
func checkReadsBack(tb testing.TB, l *Log, want []written) {
	tb.Helper()
	var start int64
	if len(want) > 0 {
		start = want[0].base
	}
	got := readAllBatches(tb, l, start, 1<<20)
	if len(got) != len(want) {
		tb.Fatalf("read back %d batches, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i].bytes) {
			tb.Fatalf("batch %d (offset %d) reads back different bytes", i, want[i].base)
		}
	}
}

// segmentBases lists the base offsets of the .log files in dir, from the
// file names alone.
func segmentBases(tb testing.TB, dir string) []int64 {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var bases []int64
	for _, e := range entries {
		if base, ok := parseSegmentName(e.Name()); ok {
			if segmentName(base)+logSuffix != e.Name() {
				tb.Fatalf("segment file %s is not named by its 20-digit base offset", e.Name())
			}
			bases = append(bases, base)
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases
}

// placed is a written batch with where it must lie on disk.
type placed struct {
	written
	segment  int64 // base offset of the segment holding it
	position int64 // byte position in that segment's .log file
}

// placeBatches assigns each written batch to the segment whose base offset
// is the largest at or below the batch's, and computes its position from
// the sizes of the batches before it: the layout the log must have on
// disk, derived from file names and the test's own records only.
func placeBatches(tb testing.TB, bases []int64, ws []written) []placed {
	tb.Helper()
	out := make([]placed, len(ws))
	var pos int64
	for i, w := range ws {
		j := sort.Search(len(bases), func(j int) bool { return bases[j] > w.base }) - 1
		if j < 0 {
			tb.Fatalf("batch at %d lies before the first segment %d", w.base, bases[0])
		}
		if i > 0 && out[i-1].segment != bases[j] {
			pos = 0
		}
		out[i] = placed{written: w, segment: bases[j], position: pos}
		pos += int64(len(w.bytes))
	}
	return out
}

// checkFilesHold checks that each segment file is exactly the
// concatenation of the batches placed in it.
func checkFilesHold(tb testing.TB, dir string, ps []placed) {
	tb.Helper()
	want := map[int64][]byte{}
	for _, p := range ps {
		want[p.segment] = append(want[p.segment], p.bytes...)
	}
	for _, base := range segmentBases(tb, dir) {
		got, err := os.ReadFile(filepath.Join(dir, segmentName(base)+logSuffix))
		if err != nil {
			tb.Fatal(err)
		}
		if !bytes.Equal(got, want[base]) {
			tb.Fatalf("segment %d holds %d bytes that differ from the %d appended", base, len(got), len(want[base]))
		}
	}
}

// copyDir copies the regular files of src into a new directory dst.
func copyDir(tb testing.TB, src, dst string) {
	tb.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		tb.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			tb.Fatal(err)
		}
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// recordTimestamps lists (offset, timestamp) of every record of ws in log
// order: the model that timestamp lookups are checked against.
type stampedOffset struct{ offset, timestamp int64 }

func recordTimestamps(ws []written) []stampedOffset {
	var out []stampedOffset
	for _, w := range ws {
		for i, ts := range w.timestamps {
			out = append(out, stampedOffset{w.base + int64(i), ts})
		}
	}
	return out
}

// wantOffsetForTimestamp is ListOffsets' answer from the model: the first
// record, in offset order, whose timestamp is >= target.
func wantOffsetForTimestamp(model []stampedOffset, target int64) (stampedOffset, bool) {
	for _, r := range model {
		if r.timestamp >= target {
			return r, true
		}
	}
	return stampedOffset{}, false
}

// wantMaxTimestamp is the first record carrying the largest timestamp.
func wantMaxTimestamp(model []stampedOffset) (stampedOffset, bool) {
	if len(model) == 0 {
		return stampedOffset{}, false
	}
	best := model[0]
	for _, r := range model[1:] {
		if r.timestamp > best.timestamp {
			best = r
		}
	}
	return best, true
}

// checkTimestampLookups compares OffsetForTimestamp for every interesting
// target, and MaxTimestamp, with the model.
func checkTimestampLookups(tb testing.TB, l *Log, ws []written) {
	tb.Helper()
	model := recordTimestamps(ws)
	targets := []int64{-1 << 62, 0, 1 << 62}
	// Every record's timestamp and its neighbours, or, for a long log, a
	// spread of about 150 records plus the largest timestamp.
	step := max(1, len(model)/150)
	for i, r := range model {
		if i%step == 0 || i == len(model)-1 {
			targets = append(targets, r.timestamp-1, r.timestamp, r.timestamp+1)
		}
	}
	if best, ok := wantMaxTimestamp(model); ok {
		targets = append(targets, best.timestamp-1, best.timestamp)
	}
	for _, target := range targets {
		want, wantFound := wantOffsetForTimestamp(model, target)
		offset, ts, found, err := l.OffsetForTimestamp(target)
		if err != nil {
			tb.Fatalf("OffsetForTimestamp(%d): %v", target, err)
		}
		if found != wantFound || (found && (offset != want.offset || ts != want.timestamp)) {
			tb.Fatalf("OffsetForTimestamp(%d) = offset %d ts %d found %v, want offset %d ts %d found %v",
				target, offset, ts, found, want.offset, want.timestamp, wantFound)
		}
	}
	want, wantFound := wantMaxTimestamp(model)
	offset, ts, found, err := l.MaxTimestamp()
	if err != nil {
		tb.Fatalf("MaxTimestamp: %v", err)
	}
	if found != wantFound || (found && (offset != want.offset || ts != want.timestamp)) {
		tb.Fatalf("MaxTimestamp = offset %d ts %d found %v, want offset %d ts %d found %v",
			offset, ts, found, want.offset, want.timestamp, wantFound)
	}
}

// expectedIndex computes a segment's index files from the batches placed
// in it, by the rule in the package documentation (Kafka's): an entry
// whenever more than intervalBytes were written since the last one, for
// the batch about to be written, naming its last offset and first byte;
// a time entry at the same points when the largest timestamp grew; and a
// final time entry for the largest timestamp when the segment is sealed.
func expectedIndex(segmentBase int64, ps []placed, intervalBytes int) (offsets, times []byte) {
	var since int
	maxTs, maxTsOffset := int64(-1), int64(-1)
	lastTs := int64(-1 << 63)
	addTime := func() {
		if maxTs > lastTs {
			times = binary.BigEndian.AppendUint64(times, uint64(maxTs))
			times = binary.BigEndian.AppendUint32(times, uint32(maxTsOffset-segmentBase))
			lastTs = maxTs
		}
	}
	for _, p := range ps {
		if p.segment != segmentBase {
			continue
		}
		last := p.next - 1
		if batchMax := slices.Max(p.timestamps); batchMax > maxTs {
			maxTs, maxTsOffset = batchMax, last
		}
		if since > intervalBytes {
			offsets = binary.BigEndian.AppendUint32(offsets, uint32(last-segmentBase))
			offsets = binary.BigEndian.AppendUint32(offsets, uint32(p.position))
			addTime()
			since = 0
		}
		since += len(p.bytes)
	}
	if maxTsOffset >= 0 {
		addTime()
	}
	return offsets, times
}

// checkIndexFiles compares every segment's index files with expectedIndex.
func checkIndexFiles(tb testing.TB, dir string, ps []placed, intervalBytes int) {
	tb.Helper()
	for _, base := range segmentBases(tb, dir) {
		wantOffsets, wantTimes := expectedIndex(base, ps, intervalBytes)
		stem := filepath.Join(dir, segmentName(base))
		gotOffsets, err := os.ReadFile(stem + indexSuffix)
		if err != nil {
			tb.Fatal(err)
		}
		gotTimes, err := os.ReadFile(stem + timeIndexSuffix)
		if err != nil {
			tb.Fatal(err)
		}
		if !bytes.Equal(gotOffsets, wantOffsets) {
			tb.Fatalf("segment %d: .index is %x, want %x", base, gotOffsets, wantOffsets)
		}
		if !bytes.Equal(gotTimes, wantTimes) {
			tb.Fatalf("segment %d: .timeindex is %x, want %x", base, gotTimes, wantTimes)
		}
	}
}

// isOutOfRange reports whether err is ErrOffsetOutOfRange.
func isOutOfRange(err error) bool { return errors.Is(err, ErrOffsetOutOfRange) }
