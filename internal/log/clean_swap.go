package log

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/vfs"
)

// A cleaned segment replaces the segments it was made from in steps that
// each leave a directory Open can finish, as Kafka's replaceSegments does:
//
//	write  <base>.{index,timeindex,log}.cleaned, fsync   crash: Open deletes *.cleaned
//	rename .cleaned -> .swap, the log file last          the log's rename commits the swap
//	rename the old segments' files -> .deleted           crash: Open completes the swap
//	rename .swap -> final names, the log file last       crash: Open completes the swap
//
// Open completes a swap by deleting the segments whose base offsets fall in
// the swap segment's range (its own base included) and renaming the .swap
// files. An old segment whose records were all cleaned away ends before
// that range and so survives a crash; the log stays valid (offsets still
// increase) and the next clean removes it.
const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
)

// errSwapAborted means the segments to replace changed while they were
// cleaned (retention deleted some, or the log closed).
var errSwapAborted = errors.New("segments changed during the clean")

// swapIn replaces the segments of group with cleaned, whose files are
// complete and fsynced under their .cleaned names. at marks the points a
// crash test stops at.
func (l *Log) swapIn(group []segmentView, cleaned *segment, at func(string)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := l.findGroupLocked(group)
	if i < 0 {
		return errSwapAborted
	}
	if err := l.commitSwapLocked(group, cleaned, at); err != nil {
		return l.failLocked(err)
	}
	fresh, err := openSegment(l.fs, l.files, l.dir, cleaned.baseOffset, false)
	if err != nil {
		return l.failLocked(err)
	}
	fresh.size, fresh.nextOffset, fresh.ix = cleaned.size, cleaned.nextOffset, cleaned.ix
	fresh.maxTimestamp, fresh.maxTimestampOffset = cleaned.maxTimestamp, cleaned.maxTimestampOffset
	fresh.bytesSinceIndex = cleaned.bytesSinceIndex
	for _, f := range []vfs.File{cleaned.file, cleaned.offsetFile, cleaned.timeFile} {
		f.Close() // open under their old names; fresh has the final ones
	}
	for _, v := range group {
		// The read limit or readable sat at the end of a sealed segment
		// (the group lies below both): it sits at the end of its
		// replacement.
		if v.s == l.limitSegment {
			l.limitSegment, l.limitPosition = fresh, fresh.size
		}
		if v.s == l.readableSegment {
			l.readableSegment, l.readablePosition = fresh, fresh.size
		}
	}
	segments := append([]*segment{}, l.segments[:i]...)
	segments = append(segments, fresh)
	l.segments = append(segments, l.segments[i+len(group):]...)
	l.logger.Debug("swapped in cleaned segment", "dir", l.dir, "baseOffset", fresh.baseOffset, "replaced", len(group))
	return nil
}

// findGroupLocked returns the position of group's segments in the log, or
// -1 if they are no longer there, uncut, as a run before the active
// segment.
func (l *Log) findGroupLocked(group []segmentView) int {
	if l.closed || l.failed != nil {
		return -1
	}
	for i, s := range l.segments {
		if s != group[0].s {
			continue
		}
		if i+len(group) >= len(l.segments) {
			return -1
		}
		for k, v := range group {
			if l.segments[i+k] != v.s || v.s.cuts != v.cuts {
				return -1
			}
		}
		return i
	}
	return -1
}

// commitSwapLocked does the renames: cleaned to swap, old segments to
// deleted, swap to final. Any that fails stops it, and the caller fails the
// log: Open completes or drops the swap from whatever state the renames
// reached, while the segments in memory stay as they were, still open.
// Only a complete swap schedules the old files' removal.
func (l *Log) commitSwapLocked(group []segmentView, cleaned *segment, at func(string)) error {
	stem := filepath.Join(l.dir, segmentName(cleaned.baseOffset))
	suffixes := []string{indexSuffix, timeIndexSuffix, logSuffix} // the log last: it commits
	for _, suffix := range suffixes {
		if err := l.fs.Rename(stem+suffix+cleanedSuffix, stem+suffix+swapSuffix); err != nil {
			return fmt.Errorf("commit cleaned segment: %w", err)
		}
	}
	at("swap")
	for _, v := range group {
		// An old segment left under its name after the swap is installed
		// would shadow the part of the new one above its base offset.
		if err := l.retireLocked(v.s); err != nil {
			return err
		}
	}
	at("retired")
	for _, suffix := range suffixes {
		if err := l.fs.Rename(stem+suffix+swapSuffix, stem+suffix); err != nil {
			return fmt.Errorf("install cleaned segment: %w", err)
		}
		if suffix == indexSuffix {
			at("installing")
		}
	}
	for _, v := range group {
		l.removeRetiredLater(v.s)
	}
	return nil
}

// retireLocked renames a replaced segment's files to .deleted.
func (l *Log) retireLocked(s *segment) error {
	for _, f := range []vfs.File{s.file, s.offsetFile, s.timeFile} {
		if err := l.fs.Rename(f.Name(), f.Name()+deletedSuffix); err != nil {
			return fmt.Errorf("retire replaced segment: %w", err)
		}
		noteMoved(f, f.Name()+deletedSuffix)
	}
	return nil
}

// removeRetiredLater closes and removes a retired segment's files after
// SegmentDeleteDelay, so reads that took a span of it finish, as retention
// does.
func (l *Log) removeRetiredLater(s *segment) {
	time.AfterFunc(l.cfg.SegmentDeleteDelay, func() {
		s.dropFile() // closed now, or when the last fetch holding it is sent
		s.offsetFile.Close()
		s.timeFile.Close()
		for _, f := range []vfs.File{s.file, s.offsetFile, s.timeFile} {
			if err := l.fs.Remove(f.Name() + deletedSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				l.logger.Warn("remove replaced segment file", "file", f.Name(), "err", err)
			}
		}
	})
}

// completeSwaps finishes, on Open, what a crash interrupted: cleaned files
// that were never committed are deleted, committed swaps are completed.
func completeSwaps(fs vfs.FS, dir string, logger *slog.Logger) error {
	entries, err := fs.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list log dir: %w", err)
	}
	changed := false
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, cleanedSuffix) {
			if err := fs.Remove(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("remove uncommitted cleaned file: %w", err)
			}
			changed = true
		}
	}
	for _, e := range entries {
		if base, ok := parseSegmentName(strings.TrimSuffix(e.Name(), swapSuffix)); ok && strings.HasSuffix(e.Name(), swapSuffix) {
			if err := completeSwap(fs, dir, base, entries, logger); err != nil {
				return err
			}
			changed = true
		}
	}
	// Index files renamed to .swap before the crash came between them and
	// their log file's rename: the swap never committed.
	if entries, err = fs.ReadDir(dir); err != nil {
		return fmt.Errorf("list log dir: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), swapSuffix) {
			if err := fs.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("remove uncommitted swap file: %w", err)
			}
			changed = true
		}
	}
	if changed {
		return fs.SyncDir(dir)
	}
	return nil
}

// completeSwap installs the committed swap segment at base.
func completeSwap(fs vfs.FS, dir string, base int64, entries []os.DirEntry, logger *slog.Logger) error {
	stem := filepath.Join(dir, segmentName(base))
	next, err := swapNextOffset(fs, stem+logSuffix+swapSuffix, base)
	if err != nil {
		return err
	}
	for _, e := range entries {
		old, ok := parseSegmentName(e.Name())
		if !ok || old < base || old >= max(next, base+1) {
			continue
		}
		oldStem := filepath.Join(dir, segmentName(old))
		for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			if err := fs.Remove(oldStem + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove segment replaced by compaction: %w", err)
			}
		}
	}
	for _, suffix := range []string{indexSuffix, timeIndexSuffix, logSuffix} {
		err := fs.Rename(stem+suffix+swapSuffix, stem+suffix)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("complete compaction swap: %w", err)
		}
	}
	logger.Info("completed a compaction swap interrupted by a crash", "dir", dir, "baseOffset", base, "nextOffset", next)
	return nil
}

// swapNextOffset returns one past the last offset of a swap segment.
func swapNextOffset(fs vfs.FS, path string, base int64) (int64, error) {
	f, err := fs.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open swap segment: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat swap segment: %w", err)
	}
	s := &segment{baseOffset: base, file: f}
	next := base
	// The file was fsynced before its rename committed it; should a batch
	// not parse anyway, recovery cuts it there once it is installed.
	s.scanHeaders(0, st.Size(), func(_ int64, h record.Header) bool {
		next = h.NextOffset()
		return true
	})
	return next, nil
}
