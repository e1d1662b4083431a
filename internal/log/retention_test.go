package log

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// retentionLog writes n one-record batches with timestamps base+i*step
// into small segments (about 3 batches each).
func retentionLog(t *testing.T, cfg Config, n int, base, step int64) (*Log, []written) {
	t.Helper()
	cfg.SegmentBytes = 600
	cfg.SegmentDeleteDelay = 0
	l := mustOpen(t, t.TempDir(), cfg, OpenOptions{})
	var ws []written
	for i := range n {
		ws = append(ws, appendSpec(t, l, testBatch{Records: 1, BaseTimestamp: base + int64(i)*step,
			ProducerID: -1, BaseSequence: -1, ValueBytes: 100, Seed: uint64(i)}))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	return l, ws
}

func segmentCount(l *Log) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.segments)
}

func TestRetentionByTime(t *testing.T) {
	now := time.UnixMilli(10_000_000)
	cfg := DefaultConfig()
	cfg.RetentionMs = 1000
	// Records 0..29 stamped now-2500+100*i: about half are older than
	// retention.ms.
	l, ws := retentionLog(t, cfg, 30, now.UnixMilli()-2500, 100)
	defer l.Close()
	before := segmentCount(l)
	n, err := l.ApplyRetention(now)
	if err != nil || n == 0 {
		t.Fatalf("ApplyRetention deleted %d segments, err %v", n, err)
	}
	start, _, end := l.Offsets()
	// Record i is expired when now - ts > 1000, i.e. i < 15. A segment
	// goes only when all its records are expired.
	if start == 0 || start > 15 || end != 30 {
		t.Fatalf("log start %d, end %d after retention; want start in (0,15], end 30", start, end)
	}
	if segmentCount(l) != before-n {
		t.Fatalf("%d segments, want %d", segmentCount(l), before-n)
	}
	if _, err := l.Read(start-1, 1<<20, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below the new log start: %v, want ErrOffsetOutOfRange", err)
	}
	checkReadsBack(t, l, ws[start:])
}

func TestRetentionBySizeKeepsActiveSegment(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RetentionMs = -1
	cfg.RetentionBytes = 1000
	l, ws := retentionLog(t, cfg, 30, time.Now().UnixMilli(), 1)
	defer l.Close()
	if _, err := l.ApplyRetention(time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := l.Size(); got < 1000 || got > 1000+600 {
		t.Fatalf("size %d after retention.bytes 1000", got)
	}
	start, _, end := l.Offsets()
	if end != 30 || start == 0 {
		t.Fatalf("log start %d end %d", start, end)
	}
	checkReadsBack(t, l, ws[start:])
}

func TestRetentionRollsExpiredActiveSegment(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RetentionMs = 1000
	now := time.UnixMilli(50_000_000)
	l, _ := retentionLog(t, cfg, 10, now.UnixMilli()-10_000, 1)
	defer l.Close()
	if _, err := l.ApplyRetention(now); err != nil {
		t.Fatal(err)
	}
	start, hw, end := l.Offsets()
	if start != 10 || hw != 10 || end != 10 {
		t.Fatalf("offsets %d/%d/%d after everything expired, want 10/10/10", start, hw, end)
	}
	appendSpec(t, l, testBatch{Records: 1, BaseTimestamp: now.UnixMilli(), ProducerID: -1, BaseSequence: -1, ValueBytes: 10})
	if _, _, end := l.Offsets(); end != 11 {
		t.Fatalf("append after full expiry landed at end %d, want 11", end)
	}
}

func TestRetentionOffIsNoop(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DeleteRetention = false // cleanup.policy=compact
	cfg.RetentionMs, cfg.RetentionBytes = 1, 1
	l, _ := retentionLog(t, cfg, 20, 0, 1)
	defer l.Close()
	if n, err := l.ApplyRetention(time.Now()); n != 0 || err != nil {
		t.Fatalf("compact-only topic lost %d segments (err %v)", n, err)
	}
}

// TestRetentionDuringRead: a span taken before a segment is deleted still
// reads, because the files stay open for the delete delay.
func TestRetentionDuringRead(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RetentionBytes = 1
	cfg.RetentionMs = -1
	l, ws := retentionLog(t, cfg, 12, 0, 1)
	defer l.Close()
	l.cfg.SegmentDeleteDelay = time.Hour
	l.mu.Lock()
	spans := l.spansLocked(0, 1, false)
	l.mu.Unlock()
	if _, err := l.ApplyRetention(time.Now()); err != nil {
		t.Fatal(err)
	}
	sec, found, err := spans[0].section(0, 1<<20, true)
	if err != nil || !found {
		t.Fatalf("find in a deleted segment: found %v err %v", found, err)
	}
	b, err := sec.AppendTo(nil)
	if err != nil || len(b) == 0 || string(b[:len(ws[0].bytes)][12:]) != string(ws[0].bytes[12:]) {
		t.Fatalf("read of a deleted segment in progress failed: %d bytes, %v", len(b), err)
	}
	if deletedFiles(t, l.Dir()) == 0 {
		t.Fatal("no .deleted files while the delete delay runs")
	}
}

// TestRetentionDuringSection: a Section taken before its segment is
// deleted reads whole even after the delete delay, when the files are
// unlinked; the last release closes the file.
func TestRetentionDuringSection(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RetentionBytes = 1
	cfg.RetentionMs = -1
	l, ws := retentionLog(t, cfg, 12, 0, 1) // SegmentDeleteDelay 0
	defer l.Close()
	sec, err := l.ReadSection(0, 1<<20, true)
	if err != nil || sec.Len() == 0 {
		t.Fatalf("ReadSection: %d bytes, %v", sec.Len(), err)
	}
	if n, err := l.ApplyRetention(time.Now()); err != nil || n == 0 {
		t.Fatalf("ApplyRetention deleted %d segments, err %v", n, err)
	}
	testutil.Eventually(t, 5*time.Second, "deleted segment files to be removed after a delete delay of 0", func() bool { return deletedFiles(t, l.Dir()) == 0 })
	b, err := sec.AppendTo(nil)
	if err != nil || len(b) != sec.Len() || string(b[:len(ws[0].bytes)][12:]) != string(ws[0].bytes[12:]) {
		t.Fatalf("read of a held section of a deleted segment: %d bytes, %v", len(b), err)
	}
	f, _ := sec.File()
	sec.Release()
	if _, err := f.Stat(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("segment file after the last release: Stat error %v, want closed", err)
	}
}

func deletedFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), deletedSuffix) {
			n++
		}
	}
	return n
}

func TestDeleteRecordsBefore(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 600
	l := mustOpen(t, dir, cfg, OpenOptions{})
	var ws []written
	for i := range 20 {
		ws = append(ws, appendSpec(t, l, testBatch{Records: 1, BaseTimestamp: int64(i), ProducerID: -1, BaseSequence: -1, ValueBytes: 100}))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.DeleteRecordsBefore(21); !errors.Is(err, ErrBeyondHighWatermark) {
		t.Fatalf("delete past the high watermark: %v", err)
	}
	low, err := l.DeleteRecordsBefore(7)
	if err != nil || low != 7 {
		t.Fatalf("DeleteRecordsBefore(7) = %d, %v", low, err)
	}
	if _, err := l.Read(6, 1<<20, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read at 6: %v", err)
	}
	checkReadsBack(t, l, ws[7:])
	if low, _ := l.DeleteRecordsBefore(3); low != 7 {
		t.Fatalf("log start moved back to %d", low)
	}
	mustClose(t, l)
	l = mustOpen(t, dir, cfg, OpenOptions{Clean: true, LogStartOffset: 7})
	defer l.Close()
	if start, _, _ := l.Offsets(); start != 7 {
		t.Fatalf("log start %d after reopen, want 7", start)
	}
	if low, _ := l.DeleteRecordsBefore(-1); low != 20 {
		t.Fatalf("DeleteRecordsBefore(-1) = %d, want the high watermark 20", low)
	}
}
