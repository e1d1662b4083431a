package log

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sluice-dev/sluice/internal/vfs"
	"github.com/sluice-dev/sluice/internal/vfs/errorfs"
)

// TestRefusedWritesResume: the file system runs out of space (a write
// fails wholly or partway with ENOSPC) or of files (creating a segment
// fails with EMFILE) at the write, at the index flush of a roll and at the
// creation of the next segment. Each append meanwhile gets ErrWriteRefused,
// a storage error; the log does not fail, holds no partial batch and no
// half-created segment, and once the limit lifts appends succeed again
// without a reopen. Reopened, it holds every acknowledged batch.
func TestRefusedWritesResume(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule errorfs.Rule
	}{
		{"write-enospc", errorfs.Rule{Op: errorfs.OpWrite, Path: "*" + logSuffix, Err: syscall.ENOSPC}},
		{"write-short-enospc", errorfs.Rule{Op: errorfs.OpWrite, Path: "*" + logSuffix, Err: syscall.ENOSPC, WriteBytes: 100}},
		{"index-enospc", errorfs.Rule{Op: errorfs.OpWrite, Path: "*" + indexSuffix, Err: syscall.ENOSPC}},
		{"create-log-emfile", errorfs.Rule{Op: errorfs.OpCreate, Path: "*" + logSuffix, Err: syscall.EMFILE}},
		{"create-timeindex-emfile", errorfs.Rule{Op: errorfs.OpCreate, Path: "*" + timeIndexSuffix, Err: syscall.EMFILE}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.SegmentBytes = 4 << 10
			cfg.IndexIntervalBytes = 256
			l, fs, dir := faultLog(t, cfg)
			acked := ackedAppends(t, l, 0, 12)
			in := fs.Inject(tc.rule)
			before := RefusingWrites()
			i := 12
			var refused int
			for ; i < 200 && refused < 3; i++ {
				w, err := tryAppend(t, l, i)
				switch {
				case err == nil:
					if err := l.WaitDurable(w.next); err != nil {
						t.Fatalf("WaitDurable: %v", err)
					}
					acked = append(acked, w)
				case errors.Is(err, ErrWriteRefused) && IsStorageError(err):
					refused++
				default:
					t.Fatalf("append %d: %v, want ErrWriteRefused", i, err)
				}
			}
			if refused == 0 || in.Fired() == 0 {
				t.Fatalf("no append was refused (rule fired %d times)", in.Fired())
			}
			if got := RefusingWrites(); got != before+1 {
				t.Fatalf("RefusingWrites = %d while refusing, want %d", got, before+1)
			}
			checkNoPartial(t, l, dir)
			in.Remove() // space is freed
			for j := 0; j < 20; j, i = j+1, i+1 {
				w, err := tryAppend(t, l, i)
				if err != nil {
					t.Fatalf("append after the limit lifted: %v", err)
				}
				if err := l.WaitDurable(w.next); err != nil {
					t.Fatalf("WaitDurable after the limit lifted: %v", err)
				}
				acked = append(acked, w)
			}
			if got := RefusingWrites(); got != before {
				t.Fatalf("RefusingWrites = %d after writes resumed, want %d", got, before)
			}
			checkReadsBack(t, l, acked)
			mustClose(t, l)
			if leo := reopenHolds(t, dir, cfg, acked); leo != ackedEnd(acked) {
				t.Fatalf("reopened log ends at %d, want %d", leo, ackedEnd(acked))
			}
		})
	}
}

// checkNoPartial checks that the active segment's file ends where the log
// thinks it does (no partial batch) and that every segment file has its
// log file (no half-created segment).
func checkNoPartial(t *testing.T, l *Log, dir string) {
	t.Helper()
	l.mu.Lock()
	active := l.activeLocked()
	name, size := active.file.Name(), active.size
	l.mu.Unlock()
	if st, err := os.Stat(name); err != nil || st.Size() != size {
		t.Fatalf("active segment %s: %v, size %v; want %d bytes", name, err, st, size)
	}
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
		for _, f := range files {
			logFile := f[:len(f)-len(suffix)] + logSuffix
			if _, err := os.Stat(logFile); err != nil {
				t.Fatalf("%s without its log file: %v", f, err)
			}
		}
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*"+logSuffix))
	if l.mu.Lock(); len(logs) != len(l.segments) {
		n := len(l.segments)
		l.mu.Unlock()
		t.Fatalf("%d log files, %d segments", len(logs), n)
	}
	l.mu.Unlock()
}

// TestOpenOutOfFiles: a new log whose files cannot all be created (EMFILE
// at the second of three) fails with ErrWriteRefused and leaves no file
// and no directory behind; once files are free it opens.
func TestOpenOutOfFiles(t *testing.T) {
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		t.Run(suffix, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "topic-0")
			fs := errorfs.Wrap(vfs.Default)
			in := fs.Inject(errorfs.Rule{Op: errorfs.OpCreate, Path: "*" + suffix, Err: syscall.EMFILE})
			l, err := Open(dir, DefaultConfig(), OpenOptions{FS: fs})
			if err == nil {
				l.Close()
				t.Fatal("Open succeeded out of files")
			}
			if !errors.Is(err, ErrWriteRefused) || !IsStorageError(err) || !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("Open out of files: %v, want ErrWriteRefused wrapping EMFILE", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the directory of the log that could not be created: %v, want it gone", err)
			}
			in.Remove()
			mustClose(t, mustOpen(t, dir, DefaultConfig(), OpenOptions{FS: fs}))
		})
	}
}
