package log

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/testutil"
	"github.com/sluice-dev/sluice/internal/vfs"
	"github.com/sluice-dev/sluice/internal/vfs/errorfs"
)

// The tests in this file put an error-injecting file system under the log
// and fail fsync, write, create and rename at chosen points. Each checks
// that the log fails safe: the caller gets a storage error, nothing is
// acknowledged that is not on disk, and the directory reopened with the
// operating system's file system (as after a restart) holds every
// acknowledged batch, with recovery cutting only what nobody was told was
// written.

// faultLog opens a log in a new directory behind an errorfs with no rule
// in force.
func faultLog(t *testing.T, cfg Config) (*Log, *errorfs.FS, string) {
	t.Helper()
	dir := t.TempDir()
	fs := errorfs.Wrap(vfs.Default)
	return mustOpen(t, dir, cfg, OpenOptions{FS: fs}), fs, dir
}

// faultBatch is the i-th batch the fault tests append: a few records of a
// few hundred bytes, different for every i.
func faultBatch(t testing.TB, i int) (testBatch, []byte) {
	spec := testBatch{Records: 1 + i%3, BaseTimestamp: 1_000_000 + int64(i)*10, ProducerID: -1, BaseSequence: -1,
		ValueBytes: 200, Seed: uint64(i)}
	return spec, newBatch(t, spec)
}

// ackedAppends appends n batches from faultBatch(from) on, each waited for:
// every one is acknowledged, as a produce with acks=1 is.
func ackedAppends(t *testing.T, l *Log, from, n int) []written {
	t.Helper()
	var ws []written
	for i := from; i < from+n; i++ {
		spec, batch := faultBatch(t, i)
		w := appendBatch(t, l, batch, spec.testTimestamps())
		if err := l.WaitDurable(w.next); err != nil {
			t.Fatalf("WaitDurable(%d) before any fault: %v", w.next, err)
		}
		ws = append(ws, w)
	}
	return ws
}

// tryAppend validates and appends a batch, returning Append's error.
func tryAppend(t *testing.T, l *Log, i int) (written, error) {
	t.Helper()
	spec, batch := faultBatch(t, i)
	h, err := record.Validate(batch)
	if err != nil {
		t.Fatal(err)
	}
	base, err := l.Append(batch, h)
	return written{base: base, next: base + int64(h.NumRecords), bytes: bytes.Clone(batch), timestamps: spec.testTimestamps()}, err
}

// checkFailed checks the log's failed state as callers see it: appends
// are refused with a storage error even once the disk works again, the
// high watermark stays at the acknowledged end, and reads below it are
// still served (they were fsynced before the failure).
func checkFailed(t *testing.T, l *Log, fs *errorfs.FS, acked []written) {
	t.Helper()
	fs.Reset() // the disk works again: the log must still refuse
	if _, err := tryAppend(t, l, 999); !IsStorageError(err) {
		t.Fatalf("append to a failed log: %v, want a storage error", err)
	}
	if _, _, leo := l.Offsets(); l.WaitDurable(leo+1) == nil {
		t.Fatal("WaitDurable past the log end of a failed log returned nil")
	}
	if err := l.Sync(); err != nil && !IsStorageError(err) {
		t.Fatalf("Sync of a failed log: %v, want nil or a storage error", err)
	}
	end := ackedEnd(acked)
	if _, hw, _ := l.Offsets(); hw != end || l.Durable() != end {
		t.Fatalf("failed log: high watermark %d, durable %d; want the acknowledged end %d", hw, l.Durable(), end)
	}
	checkReadsBack(t, l, acked)
	if b, err := l.Read(end, 1<<20, true); err != nil || len(b) != 0 {
		t.Fatalf("read at the high watermark of a failed log: %d bytes, %v", len(b), err)
	}
	if n, err := l.ApplyRetention(time.Now().Add(365 * 24 * time.Hour)); n != 0 || err != nil {
		t.Fatalf("retention on a failed log deleted %d segments (%v)", n, err)
	}
}

func ackedEnd(acked []written) int64 {
	if len(acked) == 0 {
		return 0
	}
	return acked[len(acked)-1].next
}

// reopenHolds reopens dir with the OS file system, unclean (every segment
// scanned), and checks that the log starts with exactly the acknowledged
// batches; what follows them must be whole, valid batches. It returns the
// log end offset.
func reopenHolds(t *testing.T, dir string, cfg Config, acked []written) int64 {
	t.Helper()
	r := mustOpen(t, dir, cfg, OpenOptions{RecoveryPoint: -1})
	defer mustClose(t, r)
	got := readAllBatches(t, r, 0, 1<<20) // checks every batch it reads
	if len(got) < len(acked) {
		t.Fatalf("reopened log holds %d batches, %d were acknowledged", len(got), len(acked))
	}
	for i, w := range acked {
		if !bytes.Equal(got[i], w.bytes) {
			t.Fatalf("acknowledged batch %d (offset %d) reads back different bytes", i, w.base)
		}
	}
	_, _, leo := r.Offsets()
	return leo
}

// damageAfter flips a CRC-covered byte of the first batch after the
// acknowledged ones, as a failed fsync that dropped the page would leave
// it, and reports whether there was such a batch on disk.
func damageAfter(t *testing.T, dir string, acked []written) bool {
	t.Helper()
	ps := placeBatches(t, segmentBases(t, dir), acked)
	last := ps[len(ps)-1]
	path := filepath.Join(dir, segmentName(last.segment)+logSuffix)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := last.position + int64(len(last.bytes)) + record.HeaderSize - 1
	if at >= int64(len(b)) {
		return false
	}
	b[at] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return true
}

// TestFaultFsyncFailsGroupCommit: every fsync fails while appends from
// several goroutines wait for theirs. Each waiter gets a storage error and
// none is told its batch is durable; the log fails, refusing appends; on
// reopen every batch acknowledged before the failure is there, and a tail
// the failed fsync did not keep is cut and nothing more.
func TestFaultFsyncFailsGroupCommit(t *testing.T) {
	const goroutines, perGoroutine = 6, 5
	cfg := DefaultConfig()
	cfg.SegmentBytes = 8 << 10 // rolls, which fsync too, also meet the fault
	l, fs, dir := faultLog(t, cfg)
	acked := ackedAppends(t, l, 0, 40)
	fsync := fs.Inject(errorfs.Rule{Op: errorfs.OpSync, Path: "*" + logSuffix})

	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perGoroutine)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perGoroutine {
				w, err := tryAppend(t, l, 100+g*perGoroutine+i)
				if err == nil {
					err = l.WaitDurable(w.next)
					if err == nil {
						err = errors.New("WaitDurable returned nil although every fsync fails")
					}
				}
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !IsStorageError(err) {
			t.Fatalf("append or wait during failing fsyncs: %v, want a storage error", err)
		}
	}
	if fsync.Fired() == 0 {
		t.Fatal("no fsync was failed")
	}
	checkFailed(t, l, fs, acked)
	l.Close()

	intact := filepath.Join(t.TempDir(), "intact")
	copyDir(t, dir, intact)
	// The unsynced batches happen to be whole on disk: they may stay.
	if leo := reopenHolds(t, intact, cfg, acked); leo < ackedEnd(acked) {
		t.Fatalf("log ends at %d, before the acknowledged end %d", leo, ackedEnd(acked))
	}
	// A page the failed fsync dropped: recovery cuts exactly there.
	if !damageAfter(t, dir, acked) {
		t.Fatal("no unacknowledged batch reached the file")
	}
	if leo := reopenHolds(t, dir, cfg, acked); leo != ackedEnd(acked) {
		t.Fatalf("recovered log ends at %d, want the acknowledged end %d", leo, ackedEnd(acked))
	}
}

// TestFaultShortWrite: a write stops partway through a batch (a full
// disk). The append gets a storage error, appends waiting for an fsync
// get one too, and the log fails. The partial batch is cut back; when the
// cut fails as well, recovery cuts it on reopen. No acknowledged batch is
// lost either way, and the reopened log takes appends again.
func TestFaultShortWrite(t *testing.T) {
	for _, cutFails := range []bool{false, true} {
		name := map[bool]string{false: "cut back", true: "cut back fails"}[cutFails]
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			l, fs, dir := faultLog(t, cfg)
			acked := ackedAppends(t, l, 0, 10)
			var pending []written
			for i := range 3 {
				w, err := tryAppend(t, l, 10+i)
				if err != nil {
					t.Fatal(err)
				}
				pending = append(pending, w)
			}
			fs.Inject(errorfs.Rule{Op: errorfs.OpWrite, Path: "*" + logSuffix, Times: 1, WriteBytes: 100})
			if cutFails {
				fs.Inject(errorfs.Rule{Op: errorfs.OpTruncate, Path: "*" + logSuffix})
			}
			_, _, leo := l.Offsets()
			if _, err := tryAppend(t, l, 20); !IsStorageError(err) {
				t.Fatalf("append cut short: %v, want a storage error", err)
			}
			if _, _, after := l.Offsets(); after != leo {
				t.Fatalf("log end moved from %d to %d by a failed append", leo, after)
			}
			if err := l.WaitDurable(ackedEnd(pending)); !IsStorageError(err) {
				t.Fatalf("waiting for appends before the failed write: %v, want a storage error", err)
			}
			checkFailed(t, l, fs, acked)
			l.Close()

			size := fileSize(t, filepath.Join(dir, segmentName(0)+logSuffix))
			if want := int64(len(batchBytes(acked)) + len(batchBytes(pending))); cutFails != (size != want) {
				t.Fatalf("segment holds %d bytes; the batches before the failed write take %d", size, want)
			}
			leo = reopenHolds(t, dir, cfg, acked)
			if leo != ackedEnd(pending) {
				t.Fatalf("recovered log ends at %d, want %d: the whole batches and no partial one", leo, ackedEnd(pending))
			}
			r := mustOpen(t, dir, cfg, OpenOptions{Clean: true})
			if w, err := tryAppend(t, r, 30); err != nil || w.base != leo || r.WaitDurable(w.next) != nil {
				t.Fatalf("append after recovery: base %d (want %d), %v", w.base, leo, err)
			}
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func batchBytes(ws []written) []byte {
	var b []byte
	for _, w := range ws {
		b = append(b, w.bytes...)
	}
	return b
}

// TestFaultRollFails: the new segment of a roll cannot be created, or the
// index of the segment being sealed cannot be written. The append that
// rolls gets a storage error and the log fails; reopened, it holds every
// acknowledged batch, with indexes rebuilt to what they should be.
func TestFaultRollFails(t *testing.T) {
	for _, rule := range []errorfs.Rule{
		{Op: errorfs.OpCreate, Path: "*" + logSuffix},
		{Op: errorfs.OpCreate, Path: "*" + timeIndexSuffix},
		{Op: errorfs.OpWrite, Path: "*" + indexSuffix},
		{Op: errorfs.OpWrite, Path: "*" + indexSuffix, WriteBytes: 5},
		{Op: errorfs.OpWrite, Path: "*" + timeIndexSuffix},
	} {
		t.Run(rule.Op.String()+rule.Path+map[bool]string{true: "-short"}[rule.WriteBytes > 0], func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.SegmentBytes = 4 << 10
			cfg.IndexIntervalBytes = 256
			l, fs, dir := faultLog(t, cfg)
			acked := ackedAppends(t, l, 0, 30) // several segments
			in := fs.Inject(rule)
			var err error
			for i := 30; err == nil && i < 100; i++ {
				var w written
				if w, err = tryAppend(t, l, i); err == nil {
					if err = l.WaitDurable(w.next); err == nil {
						acked = append(acked, w)
					}
				}
			}
			if !IsStorageError(err) || in.Fired() == 0 {
				t.Fatalf("appends across a failing roll: %v (rule fired %d times), want a storage error", err, in.Fired())
			}
			checkFailed(t, l, fs, acked)
			l.Close()

			if leo := reopenHolds(t, dir, cfg, acked); leo != ackedEnd(acked) {
				t.Fatalf("recovered log ends at %d, want %d", leo, ackedEnd(acked))
			}
			checkIndexFiles(t, dir, placeBatches(t, segmentBases(t, dir), acked), cfg.IndexIntervalBytes)
		})
	}
}

// TestFaultIndexWriteAtClose: the index flush at close fails, wholly or
// partway through an entry. Close reports it (so the broker does not mark
// a clean shutdown), yet even a reopen that trusts the indexes as clean
// finds every batch and answers timestamp lookups right.
func TestFaultIndexWriteAtClose(t *testing.T) {
	for _, writeBytes := range []int{0, 5} {
		for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
			t.Run(fmt.Sprintf("%s-%dbytes", suffix, writeBytes), func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.SegmentBytes = 4 << 10
				cfg.IndexIntervalBytes = 256
				l, fs, dir := faultLog(t, cfg)
				acked := ackedAppends(t, l, 0, 30)
				fs.Inject(errorfs.Rule{Op: errorfs.OpWrite, Path: "*" + suffix, WriteBytes: writeBytes})
				if err := l.Close(); err == nil {
					t.Fatal("Close returned nil although the index could not be written")
				}
				for _, opts := range []OpenOptions{{Clean: true}, {RecoveryPoint: -1}} {
					r := mustOpen(t, dir, cfg, opts)
					checkReadsBack(t, r, acked)
					checkTimestampLookups(t, r, acked)
					mustClose(t, r)
				}
			})
		}
	}
}

// TestFaultRetentionRenameFails: renaming a deleted segment's file to
// .deleted fails. Retention goes on (the segment leaves the log in
// memory), appends and reads go on, and the reopened log is consistent:
// the segment whose file stayed comes back below the checkpointed log
// start offset, where reads still refuse it.
func TestFaultRetentionRenameFails(t *testing.T) {
	for nth := 1; nth <= 3; nth++ { // the .log, .index or .timeindex file
		t.Run(fmt.Sprint(nth), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.SegmentBytes = 2 << 10
			cfg.SegmentDeleteDelay = 0
			l, fs, dir := faultLog(t, cfg)
			all := ackedAppends(t, l, 0, 30)
			in := fs.Inject(errorfs.Rule{Op: errorfs.OpRename, Nth: nth, Times: 1})
			start, err := l.DeleteRecordsBefore(all[15].base)
			if err != nil || in.Fired() != 1 {
				t.Fatalf("DeleteRecordsBefore: %v, rename failed %d times", err, in.Fired())
			}
			all = append(all, ackedAppends(t, l, 30, 5)...)
			kept := keptFrom(all, start)
			checkReadsBack(t, l, kept)
			testutil.Eventually(t, 10*time.Second, "deleted segment files removed", func() bool {
				return !dirHasSuffix(t, dir, deletedSuffix)
			})
			mustClose(t, l)

			r := mustOpen(t, dir, cfg, OpenOptions{LogStartOffset: start, RecoveryPoint: -1})
			if logStart, _, leo := r.Offsets(); logStart != start || leo != ackedEnd(all) {
				t.Fatalf("reopened log spans %d..%d, want %d..%d", logStart, leo, start, ackedEnd(all))
			}
			checkReadsBack(t, r, kept)
			if _, err := r.Read(start-1, 1<<20, true); !errors.Is(err, ErrOffsetOutOfRange) {
				t.Fatalf("read below the log start: %v, want ErrOffsetOutOfRange", err)
			}
		})
	}
}

// keptFrom returns the batches of ws holding offsets at or after start.
func keptFrom(ws []written, start int64) []written {
	for i, w := range ws {
		if w.next > start {
			return ws[i:]
		}
	}
	return nil
}

func dirHasSuffix(t *testing.T, dir, suffix string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), suffix) {
			return true
		}
	}
	return false
}

// TestFaultCompactionRenameFails fails each rename of a compaction swap in
// turn (the commit, retiring the old segments, installing the new one).
// The clean either completes or fails the log with a storage error;
// either way the log reads as before meanwhile, and reopened it holds the
// same latest value per key and the same offsets, with no leftovers.
func TestFaultCompactionRenameFails(t *testing.T) {
	for nth := 1; ; nth++ {
		done := false
		t.Run(fmt.Sprintf("%03d", nth), func(t *testing.T) {
			cfg := compactConfig()
			cfg.SegmentDeleteDelay = time.Hour // old files stay open for reads
			cfg.SegmentMs = 0
			l, fs, dir := faultLog(t, cfg)
			// One batch per segment (segment.ms 0 rolls at every append),
			// so a clean swaps groups of many segments into one; a third of
			// the records are superseded.
			writeUpdates(t, l, record.CodecNone, 120, 80, 10, 0, cleanNow.UnixMilli()-100_000)
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			before := flatten(readLog(t, l))
			_, _, leo := l.Offsets()
			in := fs.Inject(errorfs.Rule{Op: errorfs.OpRename, Nth: nth, Times: 1})
			_, err := testCleaner().Clean(l, cleanNow)
			if in.Fired() == 0 {
				done = true // every rename of a clean has had its turn
				return
			}
			// Any error will do: a failed swap fails the log, a failed
			// cleaner checkpoint only this clean. What matters is below.
			t.Logf("clean: %v", err)
			now := flatten(readLog(t, l))
			checkSubsequence(t, now, before)
			checkSameLatest(t, now, before)
			checkReadsFromEveryBatch(t, l)
			l.Close()

			for _, opts := range []OpenOptions{{Clean: true}, {RecoveryPoint: -1}} {
				scratch := filepath.Join(t.TempDir(), "open")
				copyDir(t, dir, scratch)
				r := mustOpen(t, scratch, cfg, opts)
				assertNoCleanerLeftovers(t, scratch)
				if _, _, end := r.Offsets(); end != leo {
					t.Fatalf("reopened log ends at %d, want %d", end, leo)
				}
				recovered := flatten(readLog(t, r))
				checkSubsequence(t, recovered, before)
				checkSameLatest(t, recovered, before)
				checkReadsFromEveryBatch(t, r)
				mustClose(t, r)
			}
		})
		if done || t.Failed() {
			return
		}
		if nth > 200 {
			t.Fatal("more renames than a clean of this log should make")
		}
	}
}

// checkReadsFromEveryBatch reads from the base offset of every batch a
// reader from the log start sees and checks that the reader starting
// there sees the same batches: no segment left behind may hide the ones
// that replaced it from a consumer that starts in the middle.
func checkReadsFromEveryBatch(t *testing.T, l *Log) {
	t.Helper()
	whole := readLog(t, l)
	for i, b := range whole {
		from := readLogFrom(t, l, b.h.BaseOffset)
		if len(from) != len(whole)-i {
			t.Fatalf("a read from offset %d sees %d batches, the read from the start %d after it", b.h.BaseOffset, len(from), len(whole)-i)
		}
		for j := range from {
			if from[j].h.BaseOffset != whole[i+j].h.BaseOffset || from[j].h.CRC != whole[i+j].h.CRC {
				t.Fatalf("a read from offset %d sees batch %d where the read from the start sees %d",
					b.h.BaseOffset, from[j].h.BaseOffset, whole[i+j].h.BaseOffset)
			}
		}
	}
}

// TestFaultSectionsWithoutOSFile: on a file system without an *os.File
// beneath, Section.File is nil (the server then copies instead of
// sendfile) and AppendTo reads through the file system, whose read errors
// reach the caller.
func TestFaultSectionsWithoutOSFile(t *testing.T) {
	l, fs, _ := faultLog(t, DefaultConfig())
	acked := ackedAppends(t, l, 0, 5)
	sec, err := l.ReadSection(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	defer sec.Release()
	if f, _ := sec.File(); f != nil {
		t.Fatalf("Section.File() = %s on an errorfs, want nil", f.Name())
	}
	b, err := sec.AppendTo(nil)
	if err != nil || !bytes.Equal(b, batchBytes(acked)) {
		t.Fatalf("AppendTo: %d bytes, %v; want the %d acknowledged", len(b), err, len(batchBytes(acked)))
	}
	fs.Inject(errorfs.Rule{Op: errorfs.OpRead, Path: "*" + logSuffix})
	if _, err := sec.AppendTo(nil); !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("AppendTo with failing reads: %v, want the injected error", err)
	}

	plain := mustOpen(t, t.TempDir(), DefaultConfig(), OpenOptions{})
	ackedAppends(t, plain, 0, 1)
	osSec, err := plain.ReadSection(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	defer osSec.Release()
	if f, _ := osSec.File(); f == nil {
		t.Fatal("Section.File() is nil on the OS file system: sendfile would be lost")
	}
}
