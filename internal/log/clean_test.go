package log

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/txn"
)

var cleanNow = time.UnixMilli(1_700_000_000_000)

func TestCleanKeepsLatestPerKey(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, compactConfig(), OpenOptions{})
	ts := cleanNow.UnixMilli() - 100_000
	writeUpdates(t, l, record.CodecNone, 5000, 300, 10, 0, ts)
	rollPast(t, l, ts)
	before := flatten(readLog(t, l))
	_, _, leo := l.Offsets()

	c := testCleaner()
	st := mustClean(t, c, l, cleanNow)
	if !st.Cleaned || st.EndOffset != activeBase(l) || st.FirstDirty != 0 {
		t.Fatalf("clean stats %+v, want a clean from 0 to the active segment at %d", st, activeBase(l))
	}
	after := flatten(readLog(t, l))
	checkSameLatest(t, after, before)
	checkSubsequence(t, after, before)
	checkCompacted(t, after, activeBase(l))
	if _, _, end := l.Offsets(); end != leo {
		t.Fatalf("log end offset %d after the clean, want %d", end, leo)
	}
	if len(after) >= len(before) {
		t.Fatalf("%d records after the clean, %d before", len(after), len(before))
	}

	// The next clean groups the small cleaned segments (Kafka groups them
	// by their size before cleaning, so the first clean cannot).
	segmentsBefore := len(segmentBases(t, dir))
	writeUpdates(t, l, record.CodecNone, 500, 300, 10, 0, ts+10_000)
	rollPast(t, l, ts+10_000)
	before = flatten(readLog(t, l))
	mustClean(t, c, l, cleanNow)
	after = flatten(readLog(t, l))
	checkSameLatest(t, after, before)
	checkSubsequence(t, after, before)
	checkCompacted(t, after, activeBase(l))
	if n := len(segmentBases(t, dir)); n >= segmentsBefore {
		t.Fatalf("%d segments after the clean, %d before: small cleaned segments must be grouped", n, segmentsBefore)
	}

	// A clean shutdown and an unclean one both reopen to the same log.
	mustClose(t, l)
	for _, opts := range []OpenOptions{{Clean: true}, {RecoveryPoint: -1}} {
		l = mustOpen(t, dir, compactConfig(), opts)
		reopened := flatten(readLog(t, l))
		if len(reopened) != len(after) {
			t.Fatalf("reopened (%+v) with %d records, want %d", opts, len(reopened), len(after))
		}
		checkSubsequence(t, reopened, after)
		mustClose(t, l)
	}
	assertNoCleanerLeftovers(t, dir)
}

func assertNoCleanerLeftovers(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), cleanedSuffix) || strings.HasSuffix(e.Name(), swapSuffix) {
			t.Fatalf("%s left behind", e.Name())
		}
	}
}

func TestCleanCompressedBatchesKeepTheirCodec(t *testing.T) {
	for _, codec := range []record.Codec{record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			l := mustOpen(t, t.TempDir(), compactConfig(), OpenOptions{})
			writeUpdates(t, l, codec, 3000, 100, 30, 0, cleanNow.UnixMilli()-100_000)
			rollPast(t, l, cleanNow.UnixMilli()-100_000)
			before := flatten(readLog(t, l))
			mustClean(t, testCleaner(), l, cleanNow)
			batches := readLog(t, l)
			rebuilt := 0
			for _, b := range batches {
				if b.h.NumRecords > 0 && b.records[0].key != "filler" && b.h.Compression() != codec {
					t.Fatalf("batch at %d is %v, was written %v", b.h.BaseOffset, b.h.Compression(), codec)
				}
				if b.h.NumRecords != b.h.LastOffsetDelta+1 {
					rebuilt++
				}
			}
			if rebuilt == 0 {
				t.Fatal("no batch was rewritten: the test does not exercise re-encoding")
			}
			after := flatten(batches)
			checkSameLatest(t, after, before)
			checkSubsequence(t, after, before)
			checkCompacted(t, after, activeBase(l))
		})
	}
}

func TestCleanTombstonesAfterDeleteRetention(t *testing.T) {
	cfg := compactConfig()
	cfg.DeleteRetentionMs = 60_000
	l := mustOpen(t, t.TempDir(), cfg, OpenOptions{})
	ts := cleanNow.UnixMilli() - 100_000
	writeUpdates(t, l, record.CodecLZ4, 2000, 50, 20, 0, ts)
	// Delete every tenth key, then write enough to other keys that the
	// tombstones leave the active segment.
	var deletes []kv
	for k := 0; k < 50; k += 10 {
		deletes = append(deletes, kv{key: fmt.Sprintf("k%04d", k), ts: ts + 5000})
	}
	appendKV(t, l, record.CodecLZ4, deletes)
	for i := range 40 {
		appendKV(t, l, record.CodecNone, []kv{{key: fmt.Sprintf("other%d", i%5), value: make([]byte, 400), ts: ts + 6000}})
	}
	before := flatten(readLog(t, l))
	c := testCleaner()

	st := mustClean(t, c, l, cleanNow)
	after := flatten(readLog(t, l))
	checkSameLatest(t, after, before) // tombstones stay for delete.retention.ms
	horizon := cleanNow.UnixMilli() + cfg.DeleteRetentionMs
	if st.DeleteHorizonMs != horizon {
		t.Fatalf("delete horizon %d, want now + delete.retention.ms = %d", st.DeleteHorizonMs, horizon)
	}
	stamped := 0
	for _, r := range after {
		if r.tombstone && r.offset < activeBase(l) {
			stamped++
			if got := tombstoneBatchHorizon(t, l, r.offset); got != horizon {
				t.Fatalf("tombstone at %d: batch horizon %d, want %d", r.offset, got, horizon)
			}
		}
	}

	if stamped != len(deletes) {
		t.Fatalf("%d tombstones in cleaned segments, want %d", stamped, len(deletes))
	}
	if st := mustClean(t, c, l, time.UnixMilli(horizon-1)); st.Cleaned {
		t.Fatalf("cleaned before the horizon with nothing dirty: %+v", st)
	}
	if st := mustClean(t, c, l, time.UnixMilli(horizon)); !st.Cleaned || st.DeleteHorizonMs != noHorizon {
		t.Fatalf("clean at the horizon: %+v", st)
	}
	final := flatten(readLog(t, l))
	checkSubsequence(t, final, before)
	want := latest(before)
	got := latest(final)
	for k, w := range want {
		if w.tombstone {
			if r, ok := got[k]; ok {
				t.Fatalf("deleted key %q still has %+v after delete.retention.ms", k, r)
			}
			continue
		}
		if got[k].offset != w.offset {
			t.Fatalf("key %q: latest at %d, want %d", k, got[k].offset, w.offset)
		}
	}
	// Timestamps still read back right from batches whose baseTimestamp
	// became a delete horizon: checkSubsequence compared them.
}

// tombstoneBatchHorizon returns the delete horizon of the batch holding offset.
func tombstoneBatchHorizon(t *testing.T, l *Log, offset int64) int64 {
	t.Helper()
	for _, b := range readLog(t, l) {
		if b.h.BaseOffset <= offset && offset <= b.h.LastOffset() {
			if !hasDeleteHorizon(b.h) {
				return -1
			}
			return b.h.BaseTimestamp
		}
	}
	t.Fatalf("no batch holds %d", offset)
	return 0
}

func TestCleanRespectsMinCompactionLag(t *testing.T) {
	cfg := compactConfig()
	cfg.MinCompactionLagMs = 10_000
	l := mustOpen(t, t.TempDir(), cfg, OpenOptions{})
	now := cleanNow.UnixMilli()
	// Old updates, then recent ones of the same keys.
	writeUpdates(t, l, record.CodecNone, 1000, 20, 10, 0, now-60_000)
	oldEnd := activeBase(l)
	writeUpdates(t, l, record.CodecNone, 1000, 20, 10, 0, now-1000)
	before := flatten(readLog(t, l))

	st := mustClean(t, testCleaner(), l, cleanNow)
	if st.EndOffset > oldEnd+1000 || st.EndOffset < oldEnd {
		t.Fatalf("cleaned to %d; records from about %d on are younger than min.compaction.lag.ms", st.EndOffset, oldEnd)
	}
	after := flatten(readLog(t, l))
	checkSubsequence(t, after, before)
	for _, r := range before {
		if r.ts > now-cfg.MinCompactionLagMs && !containsOffset(after, r.offset) {
			t.Fatalf("record at %d (%d ms old) removed before min.compaction.lag.ms", r.offset, now-r.ts)
		}
	}
	// Once they are old enough, they are cleaned too.
	st = mustClean(t, testCleaner(), l, cleanNow.Add(time.Minute))
	if st.EndOffset != activeBase(l) {
		t.Fatalf("later clean ended at %d, want the active segment %d", st.EndOffset, activeBase(l))
	}
	checkCompacted(t, flatten(readLog(t, l)), activeBase(l))
}

func containsOffset(recs []stored, offset int64) bool {
	for _, r := range recs {
		if r.offset == offset {
			return true
		}
	}
	return false
}

func TestCleanDirtyRatioAndMaxCompactionLag(t *testing.T) {
	cfg := compactConfig()
	cfg.MinCleanableDirtyRatio = 0.5
	l := mustOpen(t, t.TempDir(), cfg, OpenOptions{})
	now := cleanNow.UnixMilli()
	writeUpdates(t, l, record.CodecNone, 3000, 1000, 10, 0, now-60_000)
	c := testCleaner()
	if st := mustClean(t, c, l, cleanNow); !st.Cleaned {
		t.Fatal("an all-dirty log was not cleaned")
	}
	// A little more: the dirty share stays under the ratio.
	writeUpdates(t, l, record.CodecNone, 400, 1000, 10, 0, now-50_000)
	if st := mustClean(t, c, l, cleanNow); st.Cleaned {
		t.Fatalf("cleaned below min.cleanable.dirty.ratio: %+v", st)
	}
	// max.compaction.lag.ms forces it once the dirty records are older.
	cfg.MaxCompactionLagMs = 55_000
	l.SetConfig(cfg)
	if st := mustClean(t, c, l, cleanNow); !st.Cleaned {
		t.Fatal("max.compaction.lag.ms did not force a clean")
	}
	// A log without cleanup.policy=compact is never cleaned.
	cfg.Compact = false
	l.SetConfig(cfg)
	writeUpdates(t, l, record.CodecNone, 3000, 10, 10, 0, now)
	if st := mustClean(t, c, l, cleanNow); st.Cleaned {
		t.Fatal("cleaned a log whose cleanup.policy is delete")
	}
}

func TestCleanOffsetMapFull(t *testing.T) {
	l := mustOpen(t, t.TempDir(), compactConfig(), OpenOptions{})
	writeUpdates(t, l, record.CodecZstd, 4000, 400, 10, 0, cleanNow.UnixMilli()-100_000)
	before := flatten(readLog(t, l))
	// Room for 90 keys of the 400: each clean covers part of the dirty
	// records and moves the checkpoint there.
	c := NewCleaner(CleanerConfig{DedupeBufferBytes: 100 * offsetSlotBytes, IOBufferBytes: 4096, Logger: quietLogger})
	var ends []int64
	for range 100 {
		st := mustClean(t, c, l, cleanNow)
		if !st.Cleaned {
			break
		}
		if st.MappedRecords == 0 && st.EndOffset == st.FirstDirty {
			break
		}
		ends = append(ends, st.EndOffset)
		checkSubsequence(t, flatten(readLog(t, l)), before)
		checkSameLatest(t, flatten(readLog(t, l)), before)
	}
	if len(ends) < 3 || ends[0] >= activeBase(l) {
		t.Fatalf("checkpoints %v: a map of 90 keys must take several cleans", ends)
	}
	if ends[len(ends)-1] != activeBase(l) {
		t.Fatalf("checkpoints %v never reached the active segment at %d", ends, activeBase(l))
	}
	// Partial cleans leave duplicates of keys mapped in later rounds; one
	// more full clean (a larger map) removes them.
	mustClean(t, testCleaner(), l, cleanNow.Add(time.Hour))
}

func TestCleanKeepsProducersLastBatch(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, compactConfig(), OpenOptions{})
	ts := cleanNow.UnixMilli() - 100_000
	const pid, epoch = 7, 3
	// The producer writes keys a0..a4 five times; its last batch's
	// records are then overwritten by a producer without an id.
	var last []byte
	for i := range 5 {
		var recs []kv
		for k := range 5 {
			recs = append(recs, kv{key: fmt.Sprintf("a%d", k), value: []byte{byte(i)}, ts: ts})
		}
		last = keyedBatch(t, record.CodecGzip, pid, epoch, int32(i*5), recs)
		appendRaw(t, l, last)
	}
	lastHeader, _ := record.ParseHeader(last)
	writeUpdates(t, l, record.CodecNone, 300, 5, 1, 0, ts+1) // keys k0000..k0004
	for k := range 5 {
		appendKV(t, l, record.CodecNone, []kv{{key: fmt.Sprintf("a%d", k), value: make([]byte, 300), ts: ts + 2}})
	}
	writeUpdates(t, l, record.CodecNone, 300, 5, 1, 0, ts+3)

	mustClean(t, testCleaner(), l, cleanNow)
	var kept []record.Header
	if err := l.ScanHeaders(0, func(h record.Header) {
		if h.ProducerID == pid {
			kept = append(kept, h)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 {
		t.Fatalf("%d batches of producer %d kept, want only its last", len(kept), pid)
	}
	h := kept[0]
	if h.NumRecords != 0 || h.BaseOffset != lastHeader.BaseOffset || h.LastOffsetDelta != lastHeader.LastOffsetDelta ||
		h.BaseSequence != lastHeader.BaseSequence || h.ProducerEpoch != epoch || h.Compression() != record.CodecNone {
		t.Fatalf("kept %+v, want an empty uncompressed batch with the header of %+v", h, lastHeader)
	}

	// Producer state rebuilt from the reopened log, as the broker does,
	// accepts the next sequence and recognises a retry of the last batch.
	mustClose(t, l)
	l = mustOpen(t, dir, compactConfig(), OpenOptions{RecoveryPoint: -1})
	producers := txn.NewPartition()
	if err := l.ScanHeaders(0, func(h record.Header) { producers.Update(h, cleanNow.UnixMilli()) }); err != nil {
		t.Fatal(err)
	}
	next, _ := record.ParseHeader(keyedBatch(t, record.CodecNone, pid, epoch, 25, []kv{{key: "a0", value: []byte("x"), ts: ts}}))
	if dup, err := producers.Check(next); err != nil || dup != nil {
		t.Fatalf("next batch after a rebuild: duplicate %v, err %v", dup, err)
	}
	if dup, err := producers.Check(lastHeader); err != nil || dup == nil || dup.BaseOffset != lastHeader.BaseOffset {
		t.Fatalf("retry of the last batch after a rebuild: duplicate %+v, err %v", dup, err)
	}
}

func TestCleanReadsAndTimestampLookupsAcrossGaps(t *testing.T) {
	l := mustOpen(t, t.TempDir(), compactConfig(), OpenOptions{})
	ts0 := cleanNow.UnixMilli() - 100_000
	writeUpdates(t, l, record.CodecSnappy, 3000, 200, 7, 0, ts0)
	before := flatten(readLog(t, l))
	mustClean(t, testCleaner(), l, cleanNow)
	after := flatten(readLog(t, l))

	// A read at any offset, kept or cleaned away, starts with the batch
	// holding the first kept record at or after it.
	for _, o := range []int64{0, 1, 2, 17, 500, 1234, 2500, 2999} {
		b, err := l.Read(o, 1<<20, true)
		if err != nil {
			t.Fatalf("read at %d: %v", o, err)
		}
		batch, _, err := record.Next(b)
		if err != nil {
			t.Fatalf("read at %d: %v", o, err)
		}
		want := firstAtOrAfter(after, o)
		sb := decodeBatch(t, batch)
		if got := firstAtOrAfter(sb.records, o); got.offset != want.offset {
			t.Fatalf("read at %d: first record at or after it is %d, want %d", o, got.offset, want.offset)
		}
	}
	// ListOffsets by timestamp finds the first kept record at least that new.
	for _, r := range before {
		if r.offset%97 != 0 {
			continue
		}
		want, ok := firstAtLeast(after, r.ts)
		offset, ts, found, err := l.OffsetForTimestamp(r.ts)
		if err != nil || found != ok || found && (offset != want.offset || ts != want.ts) {
			t.Fatalf("offset for timestamp %d: %d@%d found %v err %v, want %d@%d found %v",
				r.ts, offset, ts, found, err, want.offset, want.ts, ok)
		}
	}
	if _, ts, found, err := l.MaxTimestamp(); err != nil || !found || ts != before[len(before)-1].ts {
		t.Fatalf("max timestamp %d found %v err %v", ts, found, err)
	}
}

func firstAtOrAfter(recs []stored, offset int64) stored {
	for _, r := range recs {
		if r.offset >= offset {
			return r
		}
	}
	return stored{offset: -1}
}

func firstAtLeast(recs []stored, ts int64) (stored, bool) {
	for _, r := range recs {
		if r.ts >= ts {
			return r, true
		}
	}
	return stored{}, false
}

// TestCleanCrashRecovery stops the world at each step of a swap (by
// copying the directory as a kill -9 would leave it) and checks that the
// copy opens to a valid log with the same latest value per key, and cleans
// to the same result as the log that was not interrupted.
func TestCleanCrashRecovery(t *testing.T) {
	for _, point := range []string{"cleaned", "swap", "retired", "installing"} {
		for _, hit := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s-%d", point, hit), func(t *testing.T) {
				dir, crashDir := t.TempDir(), filepath.Join(t.TempDir(), "crash")
				cfg := compactConfig()
				cfg.SegmentDeleteDelay = time.Hour // as in production: old files stay a while
				l := mustOpen(t, dir, cfg, OpenOptions{})
				writeUpdates(t, l, record.CodecNone, 4000, 300, 10, 50, cleanNow.UnixMilli()-100_000)
				before := flatten(readLog(t, l))
				_, _, leo := l.Offsets()
				c := testCleaner()
				hits := 0
				c.hook = func(p string) {
					if p == point {
						if hits++; hits == hit {
							copyDir(t, dir, crashDir)
						}
					}
				}
				mustClean(t, c, l, cleanNow)
				if hits < hit {
					t.Fatalf("point %s reached %d times", point, hits)
				}
				cleaned := flatten(readLog(t, l))

				for _, opts := range []OpenOptions{{Clean: true}, {RecoveryPoint: -1}} {
					scratch := filepath.Join(t.TempDir(), "open")
					copyDir(t, crashDir, scratch)
					r := mustOpen(t, scratch, cfg, opts)
					assertNoCleanerLeftovers(t, scratch)
					if _, _, end := r.Offsets(); end != leo {
						t.Fatalf("recovered log ends at %d, want %d", end, leo)
					}
					recovered := flatten(readLog(t, r))
					checkSubsequence(t, recovered, before)
					checkSameLatest(t, recovered, before)
					mustClean(t, testCleaner(), r, cleanNow)
					again := flatten(readLog(t, r))
					checkSameLatest(t, again, cleaned)
					checkCompacted(t, again, activeBase(r))
					mustClose(t, r)
				}
			})
		}
	}
}

// TestCleanWhileAppendingAndReading runs cleans while other goroutines
// append and read, for the race detector and for reads that span a swap.
func TestCleanWhileAppendingAndReading(t *testing.T) {
	cfg := compactConfig()
	cfg.SegmentDeleteDelay = time.Minute // reads in progress finish on retired segments
	l := mustOpen(t, t.TempDir(), cfg, OpenOptions{})
	writeUpdates(t, l, record.CodecNone, 2000, 100, 10, 0, cleanNow.UnixMilli()-100_000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 20_000 {
			select {
			case <-stop:
				return
			default:
			}
			appendKV(t, l, record.CodecNone, []kv{{key: fmt.Sprintf("k%04d", i%100), value: []byte("x"), ts: cleanNow.UnixMilli() - 50_000}})
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			logStart, hw, _ := l.Offsets()
			for o := logStart; o < hw; o += 97 {
				if _, err := l.Read(o, 4096, true); err != nil {
					t.Errorf("read at %d: %v", o, err)
					return
				}
			}
		}
	}()
	c := testCleaner()
	for range 20 {
		if _, err := c.Clean(l, cleanNow); err != nil {
			t.Error(err)
			break
		}
	}
	close(stop)
	wg.Wait()
	checkCompacted(t, flatten(readLog(t, l)), 0)
}

// TestCleanAbortsWhenRetentionDeletedTheSegments: a swap whose segments
// retention removed in the meantime is dropped, not applied.
func TestCleanAbortsWhenRetentionDeletedTheSegments(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, compactConfig(), OpenOptions{})
	writeUpdates(t, l, record.CodecNone, 3000, 100, 10, 0, cleanNow.UnixMilli()-100_000)
	c := testCleaner()
	c.hook = func(p string) {
		if p == "cleaned" {
			l.mu.Lock()
			l.logStartOffset = l.segments[1].baseOffset
			l.deleteFirstLocked()
			l.mu.Unlock()
		}
	}
	mustClean(t, c, l, cleanNow)
	assertNoCleanerLeftovers(t, dir)
	recs := flatten(readLog(t, l))
	if logStart, _, _ := l.Offsets(); recs[0].offset < logStart {
		t.Fatalf("read %d below the log start %d", recs[0].offset, logStart)
	}
}

func TestOffsetMap(t *testing.T) {
	m := newOffsetMap(10 * offsetSlotBytes)
	if m.entriesMax != 9 {
		t.Fatalf("entriesMax %d, want 9 of 10 slots", m.entriesMax)
	}
	for i := range 9 {
		if !m.put([]byte{byte(i)}, int64(i)) {
			t.Fatalf("put %d refused", i)
		}
	}
	if m.put([]byte{99}, 100) {
		t.Fatal("a tenth key fit a map of nine")
	}
	if !m.put([]byte{3}, 50) || m.get([]byte{3}) != 50 || m.get([]byte{4}) != 4 || m.get([]byte{98}) != -1 {
		t.Fatal("updating a key in a full map")
	}
	if m.latestOffset != 50 {
		t.Fatalf("latestOffset %d", m.latestOffset)
	}
	m.reset()
	if m.get([]byte{3}) != -1 || m.entries != 0 || m.latestOffset != -1 {
		t.Fatal("reset left entries")
	}
}
