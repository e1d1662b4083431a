package log

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/vfs"
	"github.com/sluice-dev/sluice/internal/vfs/errorfs"
)

// truncationLog opens a log in dir on fs and appends n fault batches
// (several segments with smallConfig), each acknowledged.
func truncationLog(t *testing.T, dir string, fs vfs.FS, n int) (*Log, []written) {
	t.Helper()
	l := mustOpen(t, dir, smallConfig(), OpenOptions{FS: fs})
	return l, ackedAppends(t, l, 0, n)
}

// checkFilesEqual compares every segment file of two log directories.
func checkFilesEqual(t *testing.T, got, want string) {
	t.Helper()
	if g, w := segmentBases(t, got), segmentBases(t, want); !slices.Equal(g, w) {
		t.Fatalf("segments %v, want %v", g, w)
	}
	for _, base := range segmentBases(t, want) {
		for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			name := segmentName(base) + suffix
			w, err1 := os.ReadFile(filepath.Join(want, name))
			g, err2 := os.ReadFile(filepath.Join(got, name))
			if err1 != nil || err2 != nil || !bytes.Equal(g, w) {
				t.Fatalf("%s differs (%v, %v): got %d bytes, want %d", name, err1, err2, len(g), len(w))
			}
		}
	}
}

// TestTruncateTo truncates at batch boundaries in the middle of a
// segment, at a segment's base, inside a batch and at the log start, then
// appends again: the log reads back, and its files are byte for byte those
// of a log that never had the removed batches, before and after a
// restart, clean or not.
func TestTruncateTo(t *testing.T) {
	const n = 40
	_, ws := truncationLog(t, t.TempDir(), nil, n)
	for _, tc := range []struct {
		name   string
		offset func(ws []written, segs []int64) int64
	}{
		{"boundary", func(ws []written, _ []int64) int64 { return ws[17].base }},
		{"segment base", func(ws []written, segs []int64) int64 { return segs[2] }},
		{"inside a batch", func(ws []written, _ []int64) int64 { return ws[22].base + 1 }},
		{"last batch", func(ws []written, _ []int64) int64 { return ws[n-1].base }},
		{"log start", func([]written, []int64) int64 { return 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l, _ := truncationLog(t, dir, nil, n)
			offset := tc.offset(ws, segmentBases(t, dir))
			k := 0
			for k < n && ws[k].next <= offset {
				k++
			}
			l.SetReadLimit(ws[n-1].next)
			if err := l.TruncateTo(offset); err != nil {
				t.Fatal(err)
			}
			end := int64(0)
			if k > 0 {
				end = ws[k-1].next
			}
			if start, hw, leo := l.Offsets(); start != 0 || hw != end || leo != end || l.Durable() != end {
				t.Fatalf("offsets %d/%d/%d durable %d after TruncateTo(%d), want 0/%d/%d/%d", start, hw, leo, l.Durable(), offset, end, end, end)
			}
			checkReadsBack(t, l, ws[:k])
			if _, err := l.Read(end+1, 1<<20, true); !isOutOfRange(err) {
				t.Fatalf("read past the truncated end: %v", err)
			}
			// A crash now, with a recovery point checkpointed before the
			// truncation, restarts to the same log.
			crashed := filepath.Join(t.TempDir(), "crashed")
			copyDir(t, dir, crashed)
			for _, opts := range []OpenOptions{{RecoveryPoint: ws[n-1].next}, {RecoveryPoint: -1}} {
				c := mustOpen(t, crashed, smallConfig(), opts)
				if start, hw, leo := c.Offsets(); start != 0 || hw != end || leo != end {
					t.Fatalf("after a crash (%+v): offsets %d/%d/%d, want 0/%d/%d", opts, start, hw, leo, end, end)
				}
				checkReadsBack(t, c, ws[:k])
				mustClose(t, c)
			}
			// A follower appends the leader's batches after truncating.
			more := ackedAppends(t, l, 100, 15)
			want := append(slices.Clone(ws[:k]), more...)
			checkReadsBack(t, l, want)
			mustClose(t, l)

			ref := t.TempDir()
			r, refWs := truncationLog(t, ref, nil, k)
			refMore := ackedAppends(t, r, 100, 15)
			mustClose(t, r)
			if len(refWs) > 0 && refWs[len(refWs)-1].next != end || refMore[0].base != more[0].base {
				t.Fatalf("reference log's offsets differ")
			}
			checkFilesEqual(t, dir, ref)

			for _, opts := range []OpenOptions{{Clean: true}, {RecoveryPoint: -1}} {
				l = mustOpen(t, dir, smallConfig(), opts)
				if _, hw, leo := l.Offsets(); hw != more[len(more)-1].next || leo != hw {
					t.Fatalf("reopened %+v: hw %d end %d, want %d", opts, hw, leo, more[len(more)-1].next)
				}
				checkReadsBack(t, l, want)
				mustClose(t, l)
			}
		})
	}
}

// TestTruncateToEdges: at or past the log end nothing happens; below the
// log start it is refused; a batch holding the log start goes whole and
// takes the log start down with it; the read limit and durable offset
// come down.
func TestTruncateToEdges(t *testing.T) {
	l, ws := truncationLog(t, t.TempDir(), nil, 10)
	end := ws[9].next
	for _, offset := range []int64{end, end + 5} {
		if err := l.TruncateTo(offset); err != nil {
			t.Fatal(err)
		}
		if _, _, leo := l.Offsets(); leo != end {
			t.Fatalf("TruncateTo(%d) moved the log end to %d", offset, leo)
		}
	}
	if _, err := l.DeleteRecordsBefore(ws[4].base + 1); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(ws[4].base); !isOutOfRange(err) {
		t.Fatalf("TruncateTo below the log start: %v", err)
	}
	if ws[4].next-ws[4].base < 2 {
		t.Fatal("batch 4 needs two records")
	}
	if err := l.TruncateTo(ws[4].base + 1); err != nil {
		t.Fatal(err)
	}
	if start, hw, leo := l.Offsets(); start != ws[4].base || hw != start || leo != start || l.Durable() != start {
		t.Fatalf("offsets %d/%d/%d durable %d, want all %d", start, hw, leo, l.Durable(), ws[4].base)
	}
}

// TestTruncateToUnsynced: batches not yet durable are truncated as well
// as durable ones, and an owner's read limit below the cut stays.
func TestTruncateToUnsynced(t *testing.T) {
	l := mustOpen(t, t.TempDir(), smallConfig(), OpenOptions{})
	l.OnAdvance(func(int64) int64 { return 0 })
	acked := ackedAppends(t, l, 0, 20)
	for i := 20; i < 30; i++ {
		if _, err := tryAppend(t, l, i); err != nil {
			t.Fatal(err)
		}
	}
	l.SetReadLimit(acked[5].next)
	if err := l.TruncateTo(acked[12].base); err != nil {
		t.Fatal(err)
	}
	if _, hw, leo := l.Offsets(); hw != acked[5].next || leo != acked[11].next || l.Durable() != acked[11].next {
		t.Fatalf("hw %d end %d durable %d, want %d %d %d", hw, leo, l.Durable(), acked[5].next, acked[11].next, acked[11].next)
	}
	if n, next := readUpTo(t, l); n != 6 || next != acked[5].next {
		t.Fatalf("read %d batches to %d after truncation, want 6 to %d", n, next, acked[5].next)
	}
	l.SetReadLimit(acked[11].next)
	if n, _ := readUpTo(t, l); n != 12 {
		t.Fatalf("read %d batches, want 12", n)
	}
}

// TestTruncateFullyAndStartAt: the log starts over at an offset past its
// end, below it, and at the base of a segment it has; appends (its own
// and replicated) continue there, and a restart finds it so.
func TestTruncateFullyAndStartAt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		offset func(end int64, segs []int64) int64
	}{
		{"past the end", func(end int64, _ []int64) int64 { return end + 1000 }},
		{"below the end", func(end int64, _ []int64) int64 { return 7 }},
		{"a segment's base", func(_ int64, segs []int64) int64 { return segs[1] }},
		{"zero", func(int64, []int64) int64 { return 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l, ws := truncationLog(t, dir, nil, 20)
			offset := tc.offset(ws[19].next, segmentBases(t, dir))
			if err := l.TruncateFullyAndStartAt(offset); err != nil {
				t.Fatal(err)
			}
			if start, hw, leo := l.Offsets(); start != offset || hw != offset || leo != offset || l.Durable() != offset {
				t.Fatalf("offsets %d/%d/%d durable %d, want all %d", start, hw, leo, l.Durable(), offset)
			}
			if got := segmentBases(t, dir); !slices.Equal(got, []int64{offset}) {
				t.Fatalf("segments %v, want [%d]", got, offset)
			}
			if b, err := l.Read(offset, 1<<20, true); err != nil || len(b) != 0 {
				t.Fatalf("read of the empty log: %d bytes, %v", len(b), err)
			}
			batch, h, _ := replicatedBatch(t, 1, offset+2, 4)
			if err := l.AppendReplicated(batch, h); err != nil {
				t.Fatal(err)
			}
			w, err := tryAppend(t, l, 2)
			if err != nil || w.base != h.NextOffset() {
				t.Fatalf("append after the replicated batch at %d: %v", w.base, err)
			}
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			mustClose(t, l)
			l = mustOpen(t, dir, smallConfig(), OpenOptions{RecoveryPoint: -1, LogStartOffset: offset})
			if start, hw, leo := l.Offsets(); start != offset || hw != w.next || leo != w.next {
				t.Fatalf("reopened: offsets %d/%d/%d, want %d/%d/%d", start, hw, leo, offset, w.next, w.next)
			}
			checkReadsBack(t, l, []written{{base: h.BaseOffset, next: h.NextOffset(), bytes: batch}, w})
		})
	}
}

// TestFaultTruncate fails each file operation of a truncation in turn:
// the caller gets a storage error, the log refuses appends, and the
// directory reopened with the operating system's file system (a restart)
// holds a prefix of the log at least as long as what the truncation
// keeps: never a hole, never a batch out of place.
func TestFaultTruncate(t *testing.T) {
	const n, keep = 40, 11
	for _, rule := range []errorfs.Rule{
		{Op: errorfs.OpRename, Path: "*" + logSuffix},
		{Op: errorfs.OpRename, Path: "*" + logSuffix, Nth: 2},
		{Op: errorfs.OpRename, Path: "*" + indexSuffix},
		{Op: errorfs.OpSyncDir},
		{Op: errorfs.OpSyncDir, Nth: 2},
		{Op: errorfs.OpTruncate, Path: "*" + logSuffix},
		{Op: errorfs.OpSync, Path: "*" + logSuffix},
		{Op: errorfs.OpTruncate, Path: "*" + timeIndexSuffix},
		{Op: errorfs.OpWrite, Path: "*" + indexSuffix},
	} {
		t.Run(rule.Op.String()+" "+rule.Path, func(t *testing.T) {
			dir := t.TempDir()
			fs := errorfs.Wrap(vfs.Default)
			l, ws := truncationLog(t, dir, fs, n)
			if len(segmentBases(t, dir)) < 4 {
				t.Fatal("want several segments")
			}
			in := fs.Inject(rule)
			err := l.TruncateTo(ws[keep].base)
			if in.Fired() == 0 {
				t.Fatalf("rule never fired (TruncateTo: %v)", err)
			}
			if !IsStorageError(err) {
				t.Fatalf("TruncateTo with a failing %v: %v, want a storage error", rule.Op, err)
			}
			fs.Reset()
			if _, err := tryAppend(t, l, 999); !IsStorageError(err) {
				t.Fatalf("append to a failed log: %v", err)
			}
			l.Close()
			r := mustOpen(t, dir, smallConfig(), OpenOptions{RecoveryPoint: -1})
			got := readAllBatches(t, r, 0, 1<<20)
			if len(got) < keep {
				t.Fatalf("reopened log holds %d batches, the truncation keeps %d", len(got), keep)
			}
			for i, b := range got {
				if !bytes.Equal(b, ws[i].bytes) {
					t.Fatalf("batch %d of the reopened log is not the log's batch %d", i, i)
				}
			}
			mustClose(t, r)
		})
	}
}

// TestFaultTruncateFully fails each file operation of a full truncation:
// a storage error, and a restart finds a tail of the old log (no hole)
// possibly followed by the new empty segment.
func TestFaultTruncateFully(t *testing.T) {
	const n = 30
	for _, rule := range []errorfs.Rule{
		{Op: errorfs.OpCreate, Path: "*" + logSuffix},
		{Op: errorfs.OpSyncDir},
		{Op: errorfs.OpRename, Path: "*" + logSuffix},
		{Op: errorfs.OpRename, Path: "*" + logSuffix, Nth: 3},
		{Op: errorfs.OpSyncDir, Nth: 3},
	} {
		t.Run(rule.Op.String()+" "+rule.Path, func(t *testing.T) {
			dir := t.TempDir()
			fs := errorfs.Wrap(vfs.Default)
			l, ws := truncationLog(t, dir, fs, n)
			start := ws[n-1].next + 100
			in := fs.Inject(rule)
			err := l.TruncateFullyAndStartAt(start)
			if in.Fired() == 0 || !IsStorageError(err) {
				t.Fatalf("TruncateFullyAndStartAt with a failing %v (fired %d): %v, want a storage error", rule.Op, in.Fired(), err)
			}
			l.Close()
			r := mustOpen(t, dir, smallConfig(), OpenOptions{RecoveryPoint: -1})
			logStart, _, leo := r.Offsets()
			got := readUntilEmpty(t, r, logStart)
			first := slices.IndexFunc(ws, func(w written) bool { return w.base == logStart })
			if len(got) > 0 && first < 0 {
				t.Fatalf("reopened log starts at %d, no batch boundary of the old log", logStart)
			}
			for i, b := range got {
				if !bytes.Equal(b, ws[first+i].bytes) {
					t.Fatalf("batch %d of the reopened log is not the old log's batch %d", i, first+i)
				}
			}
			if leo != ws[n-1].next && leo != start {
				t.Fatalf("reopened log ends at %d, want the old end %d or %d", leo, ws[n-1].next, start)
			}
			mustClose(t, r)
		})
	}
}

// readUntilEmpty reads batches from offset until a read returns nothing:
// up to a gap at the end of the log, or its end.
func readUntilEmpty(t *testing.T, l *Log, offset int64) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		b, err := l.Read(offset, 1<<20, true)
		if err != nil {
			t.Fatalf("read at %d: %v", offset, err)
		}
		if len(b) == 0 {
			return out
		}
		for len(b) > 0 {
			batch, rest, err := record.Next(b)
			if err != nil {
				t.Fatal(err)
			}
			h, err := record.ValidateStored(batch)
			if err != nil {
				t.Fatal(err)
			}
			out, offset, b = append(out, batch), h.NextOffset(), rest
		}
	}
}

// TestTruncateLowersCleanerCheckpoint: offsets truncation removed are
// dirty again once appends rewrite them: the cleaner checkpoint comes
// down to the new end, on disk too; full truncation below it moves it to
// the new start.
func TestTruncateLowersCleanerCheckpoint(t *testing.T) {
	dir := t.TempDir()
	l, ws := truncationLog(t, dir, nil, 40)
	path := filepath.Join(dir, cleanerCheckpointFile)
	if err := os.WriteFile(path, fmt.Appendf(nil, "%d 77\n", ws[30].base), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(ws[35].base); err != nil {
		t.Fatal(err)
	}
	checkCheckpoint := func(want string) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil || string(b) != want {
			t.Fatalf("cleaner checkpoint %q (%v), want %q", b, err, want)
		}
	}
	checkCheckpoint(fmt.Sprintf("%d 77\n", ws[30].base)) // below the cut: stays
	if err := l.TruncateTo(ws[20].base); err != nil {
		t.Fatal(err)
	}
	checkCheckpoint(fmt.Sprintf("%d 77\n", ws[19].next))
	if err := l.TruncateFullyAndStartAt(500); err != nil {
		t.Fatal(err)
	}
	checkCheckpoint(fmt.Sprintf("%d 77\n", ws[19].next)) // below the new start
	if err := l.TruncateFullyAndStartAt(5); err != nil {
		t.Fatal(err)
	}
	checkCheckpoint("5 77\n")
}

// TestTruncateWhileReadingAndSyncing: truncations, appends, background
// fsyncs and reads of both kinds run together (for the race detector);
// reads either succeed or see a file cut under them, and the durable
// offset never passes the log end.
func TestTruncateWhileReadingAndSyncing(t *testing.T) {
	l, _ := truncationLog(t, t.TempDir(), nil, 20)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, toEnd := range []bool{false, true} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start, _, _ := l.Offsets()
				read := l.ReadSection
				if toEnd {
					read = l.ReadSectionToEnd
				}
				sec, err := read(start, 1<<20, true)
				if err != nil {
					continue // truncated meanwhile: out of range
				}
				sec.AppendTo(nil) // may find its file cut
				sec.Release()
			}
		}()
	}
	for i := range 30 {
		for j := range 5 {
			if _, err := tryAppend(t, l, 100*i+j); err != nil {
				t.Fatal(err)
			}
		}
		l.SyncSoon()
		_, _, end := l.Offsets()
		if err := l.TruncateTo(end / 2); err != nil {
			t.Fatal(err)
		}
		if _, _, end := l.Offsets(); l.Durable() > end {
			t.Fatalf("durable %d past the log end %d", l.Durable(), end)
		}
	}
	close(stop)
	wg.Wait()
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}
