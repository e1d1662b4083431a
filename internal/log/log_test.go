package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// waitMax bounds the tests' waits for the log's background work (fsync,
// file removal).
const waitMax = 10 * time.Second

// appendMany appends n uncompressed batches of 1..maxRecords records with
// increasing timestamps, making each durable, and returns them.
func appendMany(tb testing.TB, l *Log, rng *rand.Rand, n, maxRecords, valueBytes int) []written {
	tb.Helper()
	var ws []written
	for i := range n {
		_, _, leo := l.Offsets()
		w := appendSpec(tb, l, testBatch{
			Records:       1 + rng.IntN(maxRecords),
			BaseTimestamp: 1_000_000 + leo*10,
			ProducerID:    -1,
			BaseSequence:  -1,
			ValueBytes:    valueBytes,
			Seed:          uint64(i),
		})
		if err := l.WaitDurable(w.next); err != nil {
			tb.Fatalf("wait durable: %v", err)
		}
		ws = append(ws, w)
	}
	return ws
}

func TestAppendReadRoundTrip(t *testing.T) {
	l := mustOpen(t, t.TempDir(), DefaultConfig(), OpenOptions{})
	if start, hw, leo := l.Offsets(); start != 0 || hw != 0 || leo != 0 {
		t.Fatalf("new log offsets %d/%d/%d, want 0/0/0", start, hw, leo)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ws := appendMany(t, l, rng, 50, 10, 40)

	// Offsets are dense: each batch starts where the previous ended.
	var next int64
	for i, w := range ws {
		if w.base != next {
			t.Fatalf("batch %d at %d, want %d", i, w.base, next)
		}
		next = w.next
	}
	if start, hw, leo := l.Offsets(); start != 0 || hw != next || leo != next {
		t.Fatalf("offsets %d/%d/%d, want 0/%d/%d", start, hw, leo, next, next)
	}

	// A read at any offset of a batch returns that batch whole, first.
	for _, w := range ws {
		for offset := w.base; offset < w.next; offset++ {
			got, err := l.Read(offset, len(w.bytes), false)
			if err != nil {
				t.Fatalf("read %d: %v", offset, err)
			}
			if !bytes.Equal(got, w.bytes) {
				t.Fatalf("read %d returned %d bytes, want the %d-byte batch at %d", offset, len(got), len(w.bytes), w.base)
			}
		}
	}
	checkReadsBack(t, l, ws)
	checkReadsBackInSmallSteps(t, l, ws)

	var size int64
	for _, w := range ws {
		size += int64(len(w.bytes))
	}
	if l.Size() != size {
		t.Fatalf("Size %d, want %d", l.Size(), size)
	}
}

// checkReadsBackInSmallSteps reads with a maxBytes that fits about two
// batches, so most reads stop at a batch boundary inside a segment.
func checkReadsBackInSmallSteps(tb testing.TB, l *Log, ws []written) {
	tb.Helper()
	got := readAllBatches(tb, l, ws[0].base, 2*len(ws[0].bytes))
	if len(got) != len(ws) {
		tb.Fatalf("small reads returned %d batches, want %d", len(got), len(ws))
	}
	for i := range ws {
		if !bytes.Equal(got[i], ws[i].bytes) {
			tb.Fatalf("small reads: batch %d differs", i)
		}
	}
}

func TestReadMaxBytes(t *testing.T) {
	l := mustOpen(t, t.TempDir(), DefaultConfig(), OpenOptions{})
	sizes := []int{100, 3000, 50, 50, 2000}
	var ws []written
	for i, valueBytes := range sizes {
		ws = append(ws, appendSpec(t, l, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1, ValueBytes: valueBytes, Seed: uint64(i)}))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	concat := func(ws []written) []byte {
		var b []byte
		for _, w := range ws {
			b = append(b, w.bytes...)
		}
		return b
	}
	cases := []struct {
		name     string
		offset   int64
		maxBytes int
		minOne   bool
		want     []byte
	}{
		{"exactly one", 0, len(ws[0].bytes), false, ws[0].bytes},
		{"one byte short of two", 0, len(ws[0].bytes) + len(ws[1].bytes) - 1, false, ws[0].bytes},
		{"exactly two", 0, len(ws[0].bytes) + len(ws[1].bytes), false, concat(ws[:2])},
		{"everything", 0, 1 << 20, false, concat(ws)},
		{"first too big without minOne", 1, len(ws[1].bytes) - 1, false, nil},
		{"first too big with minOne", 1, len(ws[1].bytes) - 1, true, ws[1].bytes},
		{"minOne returns only the first", 1, 10, true, ws[1].bytes},
		{"zero bytes with minOne", 4, 0, true, ws[4].bytes},
		{"zero bytes without minOne", 4, 0, false, nil},
		{"middle batches", 2, len(ws[2].bytes) + len(ws[3].bytes) + len(ws[4].bytes) - 1, false, concat(ws[2:4])},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := l.Read(c.offset, c.maxBytes, c.minOne)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) > c.maxBytes && !c.minOne {
				t.Fatalf("read returned %d bytes, over maxBytes %d", len(got), c.maxBytes)
			}
			if !bytes.Equal(got, c.want) {
				t.Fatalf("read returned %d bytes, want %d", len(got), len(c.want))
			}
		})
	}
}

func TestReadBounds(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 2000
	l := mustOpen(t, dir, cfg, OpenOptions{})
	ws := appendMany(t, l, rand.New(rand.NewPCG(3, 4)), 20, 3, 100)
	_, hw, leo := l.Offsets()

	got, err := l.Read(hw, 1<<20, true)
	if err != nil || got != nil {
		t.Fatalf("read at the high watermark: %d bytes, %v; want nothing, no error", len(got), err)
	}
	for _, offset := range []int64{-1, leo + 1, leo + 1000} {
		if _, err := l.Read(offset, 1<<20, true); !isOutOfRange(err) {
			t.Fatalf("read at %d (log end %d): %v, want ErrOffsetOutOfRange", offset, leo, err)
		}
	}

	// An appended but not yet durable batch is past the high watermark:
	// reading there is in range but returns nothing.
	w := appendSpec(t, l, testBatch{Records: 2, ProducerID: -1, BaseSequence: -1, ValueBytes: 10})
	if got, err := l.Read(w.base, 1<<20, true); err != nil || got != nil {
		t.Fatalf("read past the high watermark: %d bytes, %v", len(got), err)
	}
	if got, err := l.Read(w.next, 1<<20, true); err != nil || got != nil {
		t.Fatalf("read at the log end above the high watermark: %d bytes, %v", len(got), err)
	}
	if _, err := l.Read(w.next+1, 1<<20, true); !isOutOfRange(err) {
		t.Fatalf("read past the log end: %v, want ErrOffsetOutOfRange", err)
	}
	mustClose(t, l)

	// Remove the first segment, as retention would: the log then starts
	// at the second segment's base offset, and reads below it are out of
	// range.
	bases := segmentBases(t, dir)
	if len(bases) < 3 {
		t.Fatalf("want at least 3 segments, have %v", bases)
	}
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		if err := os.Remove(filepath.Join(dir, segmentName(bases[0])+suffix)); err != nil {
			t.Fatal(err)
		}
	}
	l = mustOpen(t, dir, cfg, OpenOptions{Clean: true})
	start, _, _ := l.Offsets()
	if start != bases[1] {
		t.Fatalf("log start %d, want %d", start, bases[1])
	}
	for _, offset := range []int64{0, bases[1] - 1} {
		if _, err := l.Read(offset, 1<<20, true); !isOutOfRange(err) {
			t.Fatalf("read at %d below log start %d: %v, want ErrOffsetOutOfRange", offset, start, err)
		}
	}
	var kept []written
	for _, w := range append(ws, w) {
		if w.base >= bases[1] {
			kept = append(kept, w)
		}
	}
	checkReadsBack(t, l, kept)
}

func TestClosedLog(t *testing.T) {
	l := mustOpen(t, t.TempDir(), DefaultConfig(), OpenOptions{})
	w := appendSpec(t, l, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1})
	mustClose(t, l)
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	batch := newBatch(t, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1})
	h, _ := record.Validate(batch)
	if _, err := l.Append(batch, h); !errors.Is(err, ErrClosed) || !IsStorageError(err) {
		t.Fatalf("append after close: %v", err)
	}
	if _, err := l.Read(0, 100, true); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if err := l.WaitDurable(w.next + 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("wait durable after close: %v", err)
	}
}

// checkSegmentSizes checks that every segment but the active one holds at
// least one batch and, unless it holds a single batch, at most
// SegmentBytes.
func checkSegmentSizes(t *testing.T, dir string, ps []placed, segmentBytes int64) {
	t.Helper()
	size, count := map[int64]int64{}, map[int64]int{}
	for _, p := range ps {
		size[p.segment] += int64(len(p.bytes))
		count[p.segment]++
	}
	for _, base := range segmentBases(t, dir) {
		if size[base] > segmentBytes && count[base] > 1 {
			t.Fatalf("segment %d holds %d bytes in %d batches, over segment.bytes %d", base, size[base], count[base], segmentBytes)
		}
	}
}

func TestRollBySegmentBytes(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 4096
	cfg.IndexIntervalBytes = 512
	l := mustOpen(t, dir, cfg, OpenOptions{})
	rng := rand.New(rand.NewPCG(5, 6))
	ws := appendMany(t, l, rng, 60, 5, 100)
	// One batch larger than a segment gets a segment of its own.
	ws = append(ws, appendSpec(t, l, testBatch{Records: 3, ProducerID: -1, BaseSequence: -1, ValueBytes: 3000, Seed: 99}))
	ws = append(ws, appendMany(t, l, rng, 5, 5, 100)...)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	checkReadsBack(t, l, ws)
	checkReadsBackInSmallSteps(t, l, ws)
	mustClose(t, l)

	// The model: roll before a batch that would take a non-empty segment
	// past segment.bytes.
	var wantBases []int64
	var size int64
	for i, w := range ws {
		if i == 0 || (size > 0 && size+int64(len(w.bytes)) > cfg.SegmentBytes) {
			wantBases, size = append(wantBases, w.base), 0
		}
		size += int64(len(w.bytes))
	}
	bases := segmentBases(t, dir)
	if !slices.Equal(bases, wantBases) {
		t.Fatalf("segments %v, want %v", bases, wantBases)
	}
	ps := placeBatches(t, bases, ws)
	checkFilesHold(t, dir, ps)
	checkSegmentSizes(t, dir, ps, cfg.SegmentBytes)
	checkIndexFiles(t, dir, ps, cfg.IndexIntervalBytes)
}

func TestRollByIndexFull(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 1               // an entry for every batch but a segment's first
	cfg.IndexBytesMax = 3 * offsetEntryBytes // room for three entries
	l := mustOpen(t, dir, cfg, OpenOptions{})
	ws := appendMany(t, l, rand.New(rand.NewPCG(7, 8)), 17, 4, 30)
	checkReadsBack(t, l, ws)
	mustClose(t, l)

	// A segment's first batch gets no entry, the next three fill the
	// index, and the fifth batch starts a new segment.
	bases := segmentBases(t, dir)
	var wantBases []int64
	for i := 0; i < len(ws); i += 4 {
		wantBases = append(wantBases, ws[i].base)
	}
	if !slices.Equal(bases, wantBases) {
		t.Fatalf("segments %v, want %v", bases, wantBases)
	}
	ps := placeBatches(t, bases, ws)
	checkFilesHold(t, dir, ps)
	checkIndexFiles(t, dir, ps, cfg.IndexIntervalBytes)
	for _, base := range bases {
		st, err := os.Stat(filepath.Join(dir, segmentName(base)+indexSuffix))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > int64(cfg.IndexBytesMax) {
			t.Fatalf("index of segment %d is %d bytes, over segment.index.bytes %d", base, st.Size(), cfg.IndexBytesMax)
		}
	}

	l = mustOpen(t, dir, cfg, OpenOptions{Clean: true})
	checkReadsBack(t, l, ws)
}

func TestRollBySegmentMs(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentMs = 0 // every segment is already old enough to roll
	l := mustOpen(t, dir, cfg, OpenOptions{})
	ws := appendMany(t, l, rand.New(rand.NewPCG(9, 10)), 5, 3, 10)
	mustClose(t, l)
	var wantBases []int64
	for _, w := range ws {
		wantBases = append(wantBases, w.base)
	}
	if bases := segmentBases(t, dir); !slices.Equal(bases, wantBases) {
		t.Fatalf("segments %v, want one per batch %v", bases, wantBases)
	}
}

func TestReadAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 3000
	cfg.IndexIntervalBytes = 300
	l := mustOpen(t, dir, cfg, OpenOptions{})
	ws := appendMany(t, l, rand.New(rand.NewPCG(11, 12)), 80, 6, 50)
	bases := segmentBases(t, dir)
	if len(bases) < 4 {
		t.Fatalf("want several segments, have %v", bases)
	}
	ps := placeBatches(t, bases, ws)

	// A big read returns the rest of one segment, never more: Kafka's
	// reads stop at a segment's end too.
	for _, base := range bases {
		got, err := l.Read(base, 1<<20, false)
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		for _, p := range ps {
			if p.segment == base {
				want = append(want, p.bytes...)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("read at segment base %d: %d bytes, want the segment's %d", base, len(got), len(want))
		}
	}
	// A read at the last offset of a segment returns that segment's last
	// batch only; at the next offset, the next segment's first batch.
	for i, p := range ps[:len(ps)-1] {
		if ps[i+1].segment == p.segment {
			continue
		}
		got, err := l.Read(p.next-1, 1<<20, false)
		if err != nil || !bytes.Equal(got, p.bytes) {
			t.Fatalf("read at %d, a segment's last offset: %d bytes, %v", p.next-1, len(got), err)
		}
		got, err = l.Read(p.next, len(ps[i+1].bytes), false)
		if err != nil || !bytes.Equal(got, ps[i+1].bytes) {
			t.Fatalf("read at %d, a segment's first offset: %d bytes, %v", p.next, len(got), err)
		}
	}
	checkReadsBack(t, l, ws)
	checkReadsBackInSmallSteps(t, l, ws)

	// ScanHeaders walks every batch at or after the offset, across
	// segments, including the batch holding it.
	from := ws[len(ws)/2].base + 1
	var scanned []int64
	if err := l.ScanHeaders(from, func(h record.Header) { scanned = append(scanned, h.BaseOffset) }); err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, w := range ws {
		if w.next > from {
			want = append(want, w.base)
		}
	}
	if !slices.Equal(scanned, want) {
		t.Fatalf("ScanHeaders(%d) saw %v, want %v", from, scanned, want)
	}
}

func TestDurableHighWatermark(t *testing.T) {
	l := mustOpen(t, t.TempDir(), DefaultConfig(), OpenOptions{})
	first := appendSpec(t, l, testBatch{Records: 3, ProducerID: -1, BaseSequence: -1, ValueBytes: 10})
	if _, hw, leo := l.Offsets(); hw != 0 || leo != 3 {
		t.Fatalf("after append: high watermark %d, log end %d; want 0, 3", hw, leo)
	}
	if got, err := l.Read(0, 1<<20, true); err != nil || got != nil {
		t.Fatalf("read of a batch not yet durable: %d bytes, %v", len(got), err)
	}
	if err := l.WaitDurable(first.next); err != nil {
		t.Fatal(err)
	}
	if _, hw, _ := l.Offsets(); hw != 3 || l.Durable() != 3 {
		t.Fatalf("after WaitDurable: high watermark %d, durable %d; want 3", hw, l.Durable())
	}

	second := appendSpec(t, l, testBatch{Records: 2, ProducerID: -1, BaseSequence: -1, ValueBytes: 10, Seed: 1})
	if _, hw, _ := l.Offsets(); hw != 3 {
		t.Fatalf("high watermark %d moved before the second batch was durable", hw)
	}
	checkReadsBack(t, l, []written{first})
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, hw, _ := l.Offsets(); hw != 5 {
		t.Fatalf("high watermark %d after Sync, want 5", hw)
	}
	checkReadsBack(t, l, []written{first, second})

	// WaitDurable below what is already durable returns at once.
	if err := l.WaitDurable(1); err != nil {
		t.Fatal(err)
	}
}

func TestRelaxedHighWatermark(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FlushMessages = 10
	l := mustOpen(t, t.TempDir(), cfg, OpenOptions{})
	w := appendSpec(t, l, testBatch{Records: 3, ProducerID: -1, BaseSequence: -1, ValueBytes: 10})
	if _, hw, leo := l.Offsets(); hw != leo || leo != 3 {
		t.Fatalf("relaxed append: high watermark %d, log end %d; want both 3", hw, leo)
	}
	checkReadsBack(t, l, []written{w})

	// Reaching flush.messages starts a background fsync.
	for i := range 4 {
		appendSpec(t, l, testBatch{Records: 3, ProducerID: -1, BaseSequence: -1, ValueBytes: 10, Seed: uint64(i)})
	}
	testutil.Eventually(t, waitMax, "background fsync after flush.messages", func() bool { return l.Durable() >= 12 })

	// flush.ms: FlushIfDue fsyncs what is waiting once the time is due.
	cfg.FlushMessages, cfg.FlushMs = 1<<40, 0
	l.SetConfig(cfg)
	last := appendSpec(t, l, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1, ValueBytes: 10, Seed: 7})
	if err := l.FlushIfDue(time.Now()); err != nil {
		t.Fatal(err)
	}
	if l.Durable() != last.next {
		t.Fatalf("durable %d after a due flush, want %d", l.Durable(), last.next)
	}
}

func TestSetConfigToRelaxedPublishes(t *testing.T) {
	l := mustOpen(t, t.TempDir(), DefaultConfig(), OpenOptions{})
	w := appendSpec(t, l, testBatch{Records: 4, ProducerID: -1, BaseSequence: -1, ValueBytes: 10})
	if _, hw, _ := l.Offsets(); hw != 0 {
		t.Fatalf("durable mode: high watermark %d before fsync", hw)
	}
	l.SetConfig(relaxedConfig())
	if _, hw, _ := l.Offsets(); hw != w.next {
		t.Fatalf("after switching to relaxed flushing: high watermark %d, want %d", hw, w.next)
	}
	checkReadsBack(t, l, []written{w})
}

// TestGroupCommit appends and waits from many goroutines at once, with
// small segments so that rolls race with fsyncs. Every append must get its
// own dense range of offsets, every WaitDurable must return only once its
// offsets are durable and visible, and the log must read back as written.
func TestGroupCommit(t *testing.T) {
	const goroutines, perGoroutine = 24, 40
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 16 << 10
	cfg.IndexIntervalBytes = 1024
	l := mustOpen(t, dir, cfg, OpenOptions{})

	batches := make([][][]byte, goroutines)
	stamps := make([][][]int64, goroutines)
	for g := range batches {
		for i := range perGoroutine {
			spec := testBatch{Records: 1 + (g+i)%5, ProducerID: -1, BaseSequence: -1, ValueBytes: 60, Seed: uint64(g*1000 + i)}
			batches[g] = append(batches[g], newBatch(t, spec))
			stamps[g] = append(stamps[g], spec.testTimestamps())
		}
	}
	results := make([][]written, goroutines)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, batch := range batches[g] {
				h, err := record.Validate(batch)
				if err != nil {
					errs <- err
					return
				}
				base, err := l.Append(batch, h)
				if err != nil {
					errs <- err
					return
				}
				next := base + int64(h.NumRecords)
				if err := l.WaitDurable(next); err != nil {
					errs <- err
					return
				}
				if _, hw, _ := l.Offsets(); hw < next || l.Durable() < next {
					errs <- errors.New("WaitDurable returned before its offsets were durable and visible")
					return
				}
				results[g] = append(results[g], written{base: base, next: next, bytes: batch, timestamps: stamps[g][i]})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var all []written
	for _, r := range results {
		all = append(all, r...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].base < all[j].base })
	var next int64
	for _, w := range all {
		if w.base != next {
			t.Fatalf("batch at %d, want %d: offsets not dense or not unique", w.base, next)
		}
		next = w.next
	}
	if _, hw, leo := l.Offsets(); hw != next || leo != next {
		t.Fatalf("offsets hw %d, leo %d; want %d", hw, leo, next)
	}
	checkReadsBack(t, l, all)
	mustClose(t, l)
	ps := placeBatches(t, segmentBases(t, dir), all)
	checkFilesHold(t, dir, ps)
	checkIndexFiles(t, dir, ps, cfg.IndexIntervalBytes)
}

// TestOnAdvance: the owner hears each move of the high watermark once, in
// order: at fsync in durable mode, at append in relaxed mode, never for an
// append that is not yet durable nor for a wait that moves nothing.
func TestOnAdvance(t *testing.T) {
	l := mustOpen(t, t.TempDir(), DefaultConfig(), OpenOptions{})
	var moves []int64 // written under the log's lock, read after calls return
	l.OnAdvance(func(hw int64) int64 { moves = append(moves, hw); return hw })
	w := appendSpec(t, l, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1})
	if len(moves) != 0 {
		t.Fatalf("told of %v by an append that is not yet durable", moves)
	}
	if err := l.WaitDurable(w.next); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitDurable(w.next); err != nil {
		t.Fatal(err)
	}
	if want := []int64{w.next}; !slices.Equal(moves, want) {
		t.Fatalf("moves %v, want %v", moves, want)
	}

	// In relaxed mode the append itself moves the high watermark.
	l.SetConfig(relaxedConfig())
	w = appendSpec(t, l, testBatch{Records: 2, ProducerID: -1, BaseSequence: -1, Seed: 1})
	if len(moves) != 2 || moves[1] != w.next {
		t.Fatalf("relaxed mode: moves %v, want the second at %d", moves, w.next)
	}
	mustClose(t, l)
}

// timestampLog appends batches with out-of-order timestamps, in every
// codec and one LogAppendTime batch, across several segments.
func timestampLog(t *testing.T, dir string, cfg Config) (*Log, []written) {
	t.Helper()
	l := mustOpen(t, dir, cfg, OpenOptions{})
	rng := rand.New(rand.NewPCG(13, 14))
	codecs := []record.Codec{record.CodecNone, record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd}
	var ws []written
	for i := range 60 {
		n := 1 + rng.IntN(8)
		ts := make([]int64, n)
		for j := range ts {
			// Mostly rising with the batch number, with jitter that
			// puts records out of order within and across batches.
			ts[j] = int64(i)*100 + rng.Int64N(250)
		}
		if i == 7 {
			ts[n-1] = 1_000_000 // one early batch holds the largest timestamp
		}
		spec := testBatch{Records: n, Timestamps: ts, ProducerID: -1, BaseSequence: -1, Codec: codecs[i%len(codecs)], ValueBytes: 40, Seed: uint64(i)}
		if i == 20 {
			// A LogAppendTime batch: every record carries maxTimestamp.
			batch := newBatch(t, spec)
			record.SetLogAppendTime(batch, 2050)
			same := slices.Repeat([]int64{2050}, n)
			ws = append(ws, appendBatch(t, l, batch, same))
			continue
		}
		ws = append(ws, appendSpec(t, l, spec))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	return l, ws
}

func TestOffsetForTimestamp(t *testing.T) {
	for _, interval := range []int{1, 200, 4096} {
		t.Run("interval="+strconv.Itoa(interval), func(t *testing.T) {
			dir := t.TempDir()
			cfg := DefaultConfig()
			cfg.SegmentBytes = 3000
			cfg.IndexIntervalBytes = interval
			l, ws := timestampLog(t, dir, cfg)
			if n := len(segmentBases(t, dir)); n < 3 {
				t.Fatalf("want several segments, have %d", n)
			}
			checkTimestampLookups(t, l, ws)
		})
	}
}

func TestTimestampLookupsEmptyAndUnflushed(t *testing.T) {
	l := mustOpen(t, t.TempDir(), DefaultConfig(), OpenOptions{})
	if _, _, found, err := l.OffsetForTimestamp(0); found || err != nil {
		t.Fatalf("empty log: OffsetForTimestamp found %v, err %v", found, err)
	}
	if _, _, found, err := l.MaxTimestamp(); found || err != nil {
		t.Fatalf("empty log: MaxTimestamp found %v, err %v", found, err)
	}
	first := appendSpec(t, l, testBatch{Records: 2, BaseTimestamp: 100, ProducerID: -1, BaseSequence: -1})
	if err := l.WaitDurable(first.next); err != nil {
		t.Fatal(err)
	}
	checkTimestampLookups(t, l, []written{first})

	// An older batch past the high watermark changes nothing.
	older := appendSpec(t, l, testBatch{Records: 1, BaseTimestamp: 50, ProducerID: -1, BaseSequence: -1, Seed: 1})
	checkTimestampLookups(t, l, []written{first})
	if err := l.WaitDurable(older.next); err != nil {
		t.Fatal(err)
	}

	// A newer batch past the high watermark is invisible: as in Kafka's
	// ListOffsets, an answer at or above the high watermark is not given,
	// so MAX_TIMESTAMP finds nothing until the batch is durable.
	newer := appendSpec(t, l, testBatch{Records: 2, BaseTimestamp: 500, ProducerID: -1, BaseSequence: -1, Seed: 2})
	if _, _, found, err := l.OffsetForTimestamp(400); found || err != nil {
		t.Fatalf("lookup past the high watermark: found %v, err %v", found, err)
	}
	if _, _, found, err := l.MaxTimestamp(); found || err != nil {
		t.Fatalf("MaxTimestamp with its record past the high watermark: found %v, err %v", found, err)
	}
	if err := l.WaitDurable(newer.next); err != nil {
		t.Fatal(err)
	}
	checkTimestampLookups(t, l, []written{first, older, newer})
}

func TestCleanReopen(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 3000
	cfg.IndexIntervalBytes = 200
	l, ws := timestampLog(t, dir, cfg)
	start, hw, leo := l.Offsets()
	size := l.Size()
	mustClose(t, l)
	ps := placeBatches(t, segmentBases(t, dir), ws)
	checkFilesHold(t, dir, ps)
	checkIndexFiles(t, dir, ps, cfg.IndexIntervalBytes)

	l = mustOpen(t, dir, cfg, OpenOptions{Clean: true})
	if s, h, e := l.Offsets(); s != start || h != hw || e != leo {
		t.Fatalf("reopened offsets %d/%d/%d, want %d/%d/%d", s, h, e, start, hw, leo)
	}
	if l.Size() != size || l.Durable() != leo {
		t.Fatalf("reopened size %d durable %d, want %d, %d", l.Size(), l.Durable(), size, leo)
	}
	checkReadsBack(t, l, ws)
	checkTimestampLookups(t, l, ws)

	// Appends continue at the log end; the indexes keep growing by the
	// same rule; a second clean reopen sees everything.
	more := appendMany(t, l, rand.New(rand.NewPCG(15, 16)), 30, 4, 40)
	ws = append(ws, more...)
	checkReadsBack(t, l, ws)
	mustClose(t, l)
	l = mustOpen(t, dir, cfg, OpenOptions{Clean: true})
	checkReadsBack(t, l, ws)
	checkTimestampLookups(t, l, ws)
}

func TestUncleanReopenRebuilds(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 3000
	cfg.IndexIntervalBytes = 200
	l, ws := timestampLog(t, dir, cfg)
	_, _, leo := l.Offsets()
	mustClose(t, l)
	ps := placeBatches(t, segmentBases(t, dir), ws)

	template := filepath.Join(t.TempDir(), "template")
	copyDir(t, dir, template)

	for _, opts := range []OpenOptions{{RecoveryPoint: -1}, {Clean: true}} {
		t.Run(fmt.Sprintf("clean=%v", opts.Clean), func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, template, dir)
			// Scramble the index files: an unclean open must not trust
			// them, a clean one must notice they are inconsistent. The
			// entries are well-formed but point past the log, outside
			// the order entries must have, or into the middle of a batch.
			for i, base := range segmentBases(t, dir) {
				stem := filepath.Join(dir, segmentName(base))
				bad := [][]byte{
					bytes.Repeat([]byte{0xff}, 24),
					{0, 0, 0, 9, 0, 0, 0, 200, 0, 0, 0, 5, 0, 0, 0, 100},
					{0, 0, 0, 1, 0, 0, 0, 5},
				}[i%3]
				if err := os.WriteFile(stem+indexSuffix, bad, 0o644); err != nil {
					t.Fatal(err)
				}
				badTimes := [][]byte{{1, 2, 3}, {}}[i%2] // torn, or empty
				if err := os.WriteFile(stem+timeIndexSuffix, badTimes, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			l := mustOpen(t, dir, cfg, opts)
			if _, hw, e := l.Offsets(); hw != leo || e != leo {
				t.Fatalf("reopened hw %d leo %d, want %d", hw, e, leo)
			}
			checkReadsBack(t, l, ws)
			checkTimestampLookups(t, l, ws)
			mustClose(t, l)
			checkFilesHold(t, dir, ps)
			checkIndexFiles(t, dir, ps, cfg.IndexIntervalBytes)
		})
	}
}

// TestDeletedIndexFilesRebuilt deletes index files after a clean shutdown.
// Kafka rebuilds a segment's indexes when either file is missing; the
// answers of every lookup and the files written at the next close must be
// those of the untouched log.
func TestDeletedIndexFilesRebuilt(t *testing.T) {
	for _, c := range []struct {
		name     string
		suffixes []string
	}{
		{"both", []string{indexSuffix, timeIndexSuffix}},
		{"offset index", []string{indexSuffix}},
		{"time index", []string{timeIndexSuffix}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := DefaultConfig()
			cfg.SegmentBytes = 3000
			cfg.IndexIntervalBytes = 200
			l, ws := timestampLog(t, dir, cfg)
			_, _, leo := l.Offsets()
			mustClose(t, l)
			ps := placeBatches(t, segmentBases(t, dir), ws)
			checkIndexFiles(t, dir, ps, cfg.IndexIntervalBytes)

			for _, base := range segmentBases(t, dir) {
				for _, suffix := range c.suffixes {
					if err := os.Remove(filepath.Join(dir, segmentName(base)+suffix)); err != nil {
						t.Fatal(err)
					}
				}
			}
			l = mustOpen(t, dir, cfg, OpenOptions{Clean: true})
			if _, hw, e := l.Offsets(); hw != leo || e != leo {
				t.Fatalf("hw %d leo %d, want %d", hw, e, leo)
			}
			checkReadsBack(t, l, ws)
			checkTimestampLookups(t, l, ws)
			mustClose(t, l)
			checkIndexFiles(t, dir, ps, cfg.IndexIntervalBytes)
		})
	}
}

func TestOpenRemovesOrphanIndexFiles(t *testing.T) {
	dir := t.TempDir()
	orphan := filepath.Join(dir, segmentName(500))
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		if err := os.WriteFile(orphan+suffix, []byte{0, 0, 0, 1, 0, 0, 0, 0}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := mustOpen(t, dir, DefaultConfig(), OpenOptions{Clean: true})
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		if _, err := os.Stat(orphan + suffix); !os.IsNotExist(err) {
			t.Fatalf("orphan %s still there: %v", suffix, err)
		}
	}
	if _, _, leo := l.Offsets(); leo != 0 {
		t.Fatalf("log end %d, want 0", leo)
	}
}

// TestWaiterCoveredWhileQueuedDoesNotSync checks the heart of group
// commit: a caller that queued for its turn at fsync and finds, when the
// turn comes, that an fsync ahead of it already covered its offset, must
// return without an fsync of its own, even though other appends arrived
// meanwhile. Otherwise every waiter under load pays one fsync, and
// concurrent producers share almost nothing: measured with strace on
// BenchmarkAppendDurable/1record/parallel, 64 producers made 3000 appends
// with 1333 fsyncs.
//
// The test holds the fsync turn itself so that the waiter
// queues; a roll, which fsyncs the old segment, covers the waiter's
// offset meanwhile, and appends the next batch.
func TestWaiterCoveredWhileQueuedDoesNotSync(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 200 // the second batch rolls the segment
	l := mustOpen(t, t.TempDir(), cfg, OpenOptions{})
	first := appendSpec(t, l, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1, ValueBytes: 100})

	l.lockSync(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.WaitDurable(first.next) }()
	testutil.Eventually(t, waitMax, "the waiter to queue for fsync", func() bool { return goroutineIn("(*Log).syncOnce") })

	second := appendSpec(t, l, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1, ValueBytes: 100, Seed: 1})
	if l.Durable() != first.next || len(segmentBases(t, l.Dir())) != 2 {
		t.Fatalf("the roll did not make the first batch durable: durable %d", l.Durable())
	}
	l.unlockSync()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := l.Durable(); got != first.next {
		t.Fatalf("waiter for offset %d, already durable when its turn came, fsynced up to %d (the later batch at %d)", first.next, got, second.base)
	}
}

// goroutineIn reports whether some goroutine's stack has fn in it.
func goroutineIn(fn string) bool {
	buf := make([]byte, 1<<20)
	return bytes.Contains(buf[:runtime.Stack(buf, true)], []byte(fn))
}

// TestWaitDurableContextGivesUpQueueing: a waiter queued behind a running
// fsync returns ctx.Err() when its context ends, without waiting for its
// turn, and its records still become durable once the turn is free.
func TestWaitDurableContextGivesUpQueueing(t *testing.T) {
	l := mustOpen(t, t.TempDir(), DefaultConfig(), OpenOptions{})
	w := appendSpec(t, l, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1})
	l.lockSync(context.Background()) // an fsync that takes long
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.WaitDurableContext(ctx, w.next) }()
	testutil.Eventually(t, waitMax, "the waiter to queue for fsync", func() bool { return goroutineIn("(*Log).lockSync") })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("WaitDurableContext after cancel = %v", err)
		}
	case <-time.After(waitMax):
		t.Fatal("a cancelled waiter still queued for the fsync turn")
	}
	if l.Durable() >= w.next {
		t.Fatal("durable while the fsync turn was held")
	}
	l.unlockSync()
	testutil.Eventually(t, waitMax, "the abandoned records to become durable", func() bool { return l.Durable() >= w.next })
	mustClose(t, l)
}
