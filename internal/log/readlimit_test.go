package log

import (
	"errors"
	"testing"

	"github.com/sluice-dev/sluice/internal/record"
)

// smallConfig is DefaultConfig with small segments and a dense offset
// index, so a few dozen batches span several segments and index entries.
func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 3000
	cfg.IndexIntervalBytes = 700
	return cfg
}

// readUpTo reads the whole log from its start with ReadSection and returns
// how many batches came back and the offset after the last.
func readUpTo(t *testing.T, l *Log) (batches int, next int64) {
	t.Helper()
	next, _, _ = l.Offsets()
	for {
		b, err := l.Read(next, 1<<20, true)
		if err != nil {
			t.Fatalf("read at %d: %v", next, err)
		}
		if len(b) == 0 {
			return batches, next
		}
		for _, batch := range splitBatches(t, b) {
			batches++
			next = batch.NextOffset()
		}
	}
}

// TestReadLimit: readers see what the owner's callback and SetReadLimit
// allow, never more than is durable, never less than before; the lookup
// of an arbitrary batch boundary lands where the batches below it end, in
// any segment; an offset inside a batch keeps that batch unread.
func TestReadLimit(t *testing.T) {
	l := mustOpen(t, t.TempDir(), smallConfig(), OpenOptions{})
	var answer int64 // what the owner answers, written and read under the log's lock
	var heard []int64
	l.OnAdvance(func(durable int64) int64 { heard = append(heard, durable); return answer })
	var ws []written
	for i := range 40 {
		spec, batch := faultBatch(t, i)
		ws = append(ws, appendBatch(t, l, batch, spec.testTimestamps()))
	}
	end := ws[len(ws)-1].next
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if len(heard) == 0 || heard[len(heard)-1] != end {
		t.Fatalf("owner heard %v, want the last at %d", heard, end)
	}
	if _, hw, _ := l.Offsets(); hw != 0 {
		t.Fatalf("high watermark %d, want the owner's 0", hw)
	}
	if n, _ := readUpTo(t, l); n != 0 {
		t.Fatalf("read %d batches past a read limit of 0", n)
	}
	if len(segmentBases(t, l.Dir())) < 4 {
		t.Fatalf("want several segments, have %v", segmentBases(t, l.Dir()))
	}
	for _, k := range []int{0, 1, 5, 6, 13, 20, 27, 38} {
		l.SetReadLimit(ws[k].next)
		if _, hw, _ := l.Offsets(); hw != ws[k].next {
			t.Fatalf("SetReadLimit(%d): high watermark %d", ws[k].next, hw)
		}
		if n, next := readUpTo(t, l); n != k+1 || next != ws[k].next {
			t.Fatalf("read limit %d: read %d batches up to %d, want %d up to %d", ws[k].next, n, next, k+1, ws[k].next)
		}
	}
	l.SetReadLimit(ws[3].next) // backwards: ignored
	if _, hw, _ := l.Offsets(); hw != ws[38].next {
		t.Fatalf("read limit moved back to %d", hw)
	}
	if _, err := l.DeleteRecordsBefore(ws[39].base + 1); !errors.Is(err, ErrBeyondHighWatermark) {
		t.Fatalf("DeleteRecordsBefore past the read limit: %v", err)
	}

	// Past what is durable: taken up to durable now, and the owner's answer
	// moves it on at the next durable move.
	spec, batch := faultBatch(t, 40)
	w := appendBatch(t, l, batch, spec.testTimestamps())
	l.SetReadLimit(w.next)
	if _, hw, _ := l.Offsets(); hw != end {
		t.Fatalf("read limit %d past the durable %d", hw, end)
	}
	l.mu.Lock()
	answer = w.next
	l.mu.Unlock()
	if err := l.WaitDurable(w.next); err != nil {
		t.Fatal(err)
	}
	if _, hw, _ := l.Offsets(); hw != w.next {
		t.Fatalf("read limit %d after the owner answered %d", hw, w.next)
	}
}

// TestReadLimitInsideBatch: an offset inside a batch keeps the whole
// batch unread, and a later boundary moves past it.
func TestReadLimitInsideBatch(t *testing.T) {
	l := mustOpen(t, t.TempDir(), smallConfig(), OpenOptions{})
	l.OnAdvance(func(int64) int64 { return 0 })
	var ws []written
	for i := range 12 {
		ws = append(ws, appendSpec(t, l, testBatch{Records: 3, ProducerID: -1, BaseSequence: -1, ValueBytes: 100, Seed: uint64(i)}))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.SetReadLimit(ws[7].base + 1)
	if n, next := readUpTo(t, l); n != 7 || next != ws[7].base {
		t.Fatalf("read %d batches up to %d, want 7 up to %d", n, next, ws[7].base)
	}
	if b, err := l.Read(ws[7].base, 1<<20, true); err != nil || len(b) != 0 {
		t.Fatalf("read of the batch holding the read limit: %d bytes, %v", len(b), err)
	}
	l.SetReadLimit(ws[9].next)
	if n, next := readUpTo(t, l); n != 10 || next != ws[9].next {
		t.Fatalf("read %d batches up to %d, want 10 up to %d", n, next, ws[9].next)
	}
}

// TestReadLimitRelaxed: with relaxed flushing the log considers written
// records readable, and the owner still bounds readers.
func TestReadLimitRelaxed(t *testing.T) {
	l := mustOpen(t, t.TempDir(), relaxedConfig(), OpenOptions{})
	var answer int64
	l.OnAdvance(func(int64) int64 { return answer })
	var ws []written
	for i := range 6 {
		spec, batch := faultBatch(t, i)
		ws = append(ws, appendBatch(t, l, batch, spec.testTimestamps()))
	}
	if _, hw, _ := l.Offsets(); hw != 0 {
		t.Fatalf("high watermark %d, want the owner's 0", hw)
	}
	l.SetReadLimit(ws[2].next)
	if n, next := readUpTo(t, l); n != 3 || next != ws[2].next {
		t.Fatalf("read %d batches up to %d, want 3 up to %d", n, next, ws[2].next)
	}
	l.mu.Lock()
	answer = 1 << 40 // past everything: taken as the log end
	l.mu.Unlock()
	w := appendSpec(t, l, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1, Seed: 9})
	if _, hw, end := l.Offsets(); hw != w.next || end != w.next {
		t.Fatalf("offsets hw %d end %d, want both %d", hw, end, w.next)
	}
}

// splitBatches parses b, whole batches as a read returns them, into their
// headers.
func splitBatches(t *testing.T, b []byte) []record.Header {
	t.Helper()
	var hs []record.Header
	for len(b) > 0 {
		batch, rest, err := record.Next(b)
		if err != nil {
			t.Fatalf("split read: %v", err)
		}
		h, err := record.ValidateStored(batch)
		if err != nil {
			t.Fatalf("read returned an invalid batch: %v", err)
		}
		hs, b = append(hs, h), rest
	}
	return hs
}

// readToEnd reads from offset with ReadSectionToEnd in steps of maxBytes
// until a read returns nothing, and returns the headers read.
func readToEnd(t *testing.T, l *Log, offset int64, maxBytes int) []record.Header {
	t.Helper()
	var hs []record.Header
	for {
		sec, err := l.ReadSectionToEnd(offset, maxBytes, true)
		if err != nil {
			t.Fatalf("ReadSectionToEnd(%d): %v", offset, err)
		}
		if sec.Len() == 0 {
			return hs
		}
		b, err := sec.AppendTo(nil)
		sec.Release()
		if err != nil {
			t.Fatal(err)
		}
		got := splitBatches(t, b)
		hs = append(hs, got...)
		offset = got[len(got)-1].NextOffset()
	}
}

// TestReadSectionToEnd: a follower's read goes to the log end, past the
// read limit and past what is durable, across segments; consumers' reads
// stop at the read limit.
func TestReadSectionToEnd(t *testing.T) {
	l := mustOpen(t, t.TempDir(), smallConfig(), OpenOptions{})
	l.OnAdvance(func(int64) int64 { return 0 })
	var ws []written
	for i := range 30 {
		spec, batch := faultBatch(t, i)
		ws = append(ws, appendBatch(t, l, batch, spec.testTimestamps()))
	}
	end := ws[len(ws)-1].next
	if l.Durable() == end {
		t.Fatal("want a tail that is not yet durable")
	}
	for _, from := range []int{0, 7, 29} {
		for _, maxBytes := range []int{1, 1000, 1 << 20} {
			hs := readToEnd(t, l, ws[from].base, maxBytes)
			if len(hs) != len(ws)-from || hs[len(hs)-1].NextOffset() != end {
				t.Fatalf("from batch %d by %d bytes: %d batches, want %d to %d", from, maxBytes, len(hs), len(ws)-from, end)
			}
		}
	}
	if sec, err := l.ReadSection(0, 1<<20, true); err != nil || sec.Len() != 0 {
		t.Fatalf("ReadSection past a read limit of 0: %d bytes, %v", sec.Len(), err)
	}
	if _, err := l.ReadSectionToEnd(end+1, 1<<20, true); !isOutOfRange(err) {
		t.Fatalf("ReadSectionToEnd past the log end: %v", err)
	}
	if _, err := l.DeleteRecordsBefore(-1); err != nil {
		t.Fatal(err)
	}
	l.SetReadLimit(ws[3].next)
	if _, err := l.DeleteRecordsBefore(ws[2].next); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReadSectionToEnd(ws[2].base, 1<<20, true); !isOutOfRange(err) {
		t.Fatalf("ReadSectionToEnd below the log start: %v", err)
	}
}

// TestOpenWithReadLimit: a log opened with a checkpointed high watermark
// below its end (clean or after a crash) lets readers see only the
// batches below it, followers read to the end, and the owner moves the
// limit up from there; a limit past the end or below the log start is
// taken into range.
func TestOpenWithReadLimit(t *testing.T) {
	for _, clean := range []bool{true, false} {
		dir := t.TempDir()
		l := mustOpen(t, dir, smallConfig(), OpenOptions{})
		var ws []written
		for i := range 30 {
			ws = append(ws, appendSpec(t, l, testBatch{Records: 2, ProducerID: -1, BaseSequence: -1, ValueBytes: 100, Seed: uint64(i)}))
		}
		mustClose(t, l)
		end := ws[len(ws)-1].next
		opts := OpenOptions{Clean: clean, RecoveryPoint: -1, LimitReads: true}

		opts.ReadLimit = ws[17].next
		l = mustOpen(t, dir, smallConfig(), opts)
		if _, hw, logEnd := l.Offsets(); hw != ws[17].next || logEnd != end {
			t.Fatalf("clean=%v: opened with high watermark %d, log end %d; want %d, %d", clean, hw, logEnd, ws[17].next, end)
		}
		if n, next := readUpTo(t, l); n != 18 || next != ws[17].next {
			t.Fatalf("clean=%v: read %d batches up to %d, want 18 up to %d", clean, n, next, ws[17].next)
		}
		if hs := readToEnd(t, l, 0, 1<<20); len(hs) != 30 {
			t.Fatalf("clean=%v: a follower's read found %d batches, want 30", clean, len(hs))
		}
		l.SetReadLimit(ws[25].next)
		if n, next := readUpTo(t, l); n != 26 || next != ws[25].next {
			t.Fatalf("clean=%v: after SetReadLimit read %d batches up to %d, want 26 up to %d", clean, n, next, ws[25].next)
		}
		mustClose(t, l)

		for _, c := range []struct{ limit, want int64 }{{end + 100, end}, {-5, 0}, {0, 0}, {end, end}} {
			opts.ReadLimit = c.limit
			l = mustOpen(t, dir, smallConfig(), opts)
			if _, hw, _ := l.Offsets(); hw != c.want {
				t.Fatalf("clean=%v: read limit %d opened at %d, want %d", clean, c.limit, hw, c.want)
			}
			if n, next := readUpTo(t, l); next != c.want {
				t.Fatalf("clean=%v: read limit %d: read %d batches up to %d", clean, c.limit, n, next)
			}
			mustClose(t, l)
		}
	}
}
