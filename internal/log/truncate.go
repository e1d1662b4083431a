package log

import (
	"context"
	"fmt"

	"github.com/sluice-dev/sluice/internal/record"
)

// Truncation is how a follower's log gives up a tail the leader does not
// have (TruncateTo) or starts over where the leader's log starts
// (TruncateFullyAndStartAt). Both hold the fsync turn, so no fsync taken
// before them reports offsets they removed as durable.
//
// Crash safety: a crash at any point must leave a log that recovery opens
// as a consistent one, the old or the new or one in between that is still
// a log (no batch after a hole it did not have). So later segments go
// first, last first, each rename made durable in the directory before the
// next, and the segment holding the offset is cut and fsynced last: every
// state a crash leaves is a prefix of the old log that holds the new one.
// Recovery scans the last segment whole after an unclean shutdown, so its
// indexes, rewritten after the cut, need no fsync.

// TruncateTo removes every batch at or after offset (a batch containing
// offset is removed whole), fsynced. The log end becomes the end of the
// last batch kept: offset, or below it when offset falls inside a batch
// or a gap. The durable offset, the read limit and the cleaner checkpoint
// come down with it, and so does the log start offset if the batch
// holding it went. An offset at or past the log end removes nothing; one
// below the log start offset is refused (TruncateFullyAndStartAt is for
// that). Reads of the removed batches in progress may fail.
func (l *Log) TruncateTo(offset int64) error {
	l.lockSync(context.Background()) // never fails without a deadline
	defer l.unlockSync()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	if offset < l.logStartOffset {
		return fmt.Errorf("%w: truncate to %d below the log start offset %d", ErrOffsetOutOfRange, offset, l.logStartOffset)
	}
	if offset >= l.activeLocked().nextOffset {
		return nil
	}
	i := l.segmentForLocked(offset)
	s := l.segments[i]
	_, position, err := l.locateLocked(offset)
	if err != nil {
		return l.failLocked(err)
	}
	for len(l.segments) > i+1 {
		last := l.activeLocked()
		if err := l.retireDurablyLocked(last); err != nil {
			return l.failLocked(err)
		}
		l.segments = l.segments[:len(l.segments)-1]
		l.removeRetiredLater(last)
	}
	if err := l.pinActiveLocked(); err != nil {
		return l.failLocked(err)
	}
	if err := l.cutLocked(s, position); err != nil {
		return l.failLocked(err)
	}
	l.truncatedLocked()
	l.logger.Info("truncated log", "dir", l.dir, "offset", offset, "logEndOffset", s.nextOffset)
	return nil
}

// retireDurablyLocked takes s's files out of the log directory: they are
// renamed to .deleted (Open removes them; reads in progress finish from
// the open files) and the renames made durable before anything else
// changes. The caller takes s out of l.segments and, once the truncation
// is complete, schedules its removal (removeRetiredLater).
func (l *Log) retireDurablyLocked(s *segment) error {
	if err := l.retireLocked(s); err != nil {
		return fmt.Errorf("%w: %v", errLogFailed, err)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fmt.Errorf("%w: fsync %s: %v", errLogFailed, l.dir, err)
	}
	l.logger.Info("truncation removed a segment", "dir", l.dir, "baseOffset", s.baseOffset)
	return nil
}

// cutLocked cuts s, now the last segment, at position, a batch boundary,
// fsyncs it, and rebuilds its in-memory state and index files for the
// batches kept: the index entries before position stay, and the batches
// after the last of them are walked again.
func (l *Log) cutLocked(s *segment, position int64) error {
	if err := s.file.Truncate(position); err != nil {
		return fmt.Errorf("%w: cut %s at %d: %v", errLogFailed, s.file.Name(), position, err)
	}
	s.cuts++
	if err := s.sync(); err != nil {
		return err
	}
	s.ix.truncate(uint32(position))
	s.maxTimestamp, s.maxTimestampOffset = -1, -1
	if n := len(s.ix.times); n > 0 {
		s.maxTimestamp = s.ix.times[n-1].timestamp
		s.maxTimestampOffset = s.baseOffset + int64(s.ix.times[n-1].relOffset)
	}
	var from int64
	if n := len(s.ix.offsets); n > 0 {
		from = int64(s.ix.offsets[n-1].position)
	}
	s.size, s.nextOffset = from, s.baseOffset
	if err := s.scanHeaders(from, position, func(pos int64, h record.Header) bool {
		s.trackLoaded(pos, h)
		return true
	}); err != nil {
		return fmt.Errorf("%w: %v", errLogFailed, err)
	}
	if s.size != position {
		panic(fmt.Sprintf("log: cut of %s at %d walked batches to %d", s.file.Name(), position, s.size))
	}
	// The next index entry comes where an append would have put it.
	s.bytesSinceIndex = int(position - from)
	if err := s.ix.rewrite(s.offsetFile, s.timeFile); err != nil {
		return fmt.Errorf("%w: %v", errLogFailed, err)
	}
	return nil
}

// truncatedLocked brings the log's bounds down to its new end after a
// truncation: the durable offset, readable, the read limit, the log start
// offset and the cleaner checkpoint.
func (l *Log) truncatedLocked() {
	active := l.activeLocked()
	end := active.nextOffset
	if l.durable.Load() > end {
		l.durable.Store(end)
	}
	l.readable, l.readableSegment, l.readablePosition = l.boundAfterTruncationLocked(l.readable, l.readableSegment, l.readablePosition)
	l.readLimit, l.limitSegment, l.limitPosition = l.boundAfterTruncationLocked(l.readLimit, l.limitSegment, l.limitPosition)
	l.logStartOffset = min(l.logStartOffset, end)
	l.lowerCleanerCheckpointLocked(end)
}

// boundAfterTruncationLocked returns a bound (offset and where it lies)
// after a truncation: past the new end it comes down to the end; in a
// segment truncation removed it is located again.
func (l *Log) boundAfterTruncationLocked(offset int64, s *segment, position int64) (int64, *segment, int64) {
	active := l.activeLocked()
	if offset >= active.nextOffset {
		return active.nextOffset, active, active.size
	}
	if s.baseOffset <= active.baseOffset && (s != active || position <= active.size) {
		return offset, s, position
	}
	ns, np, err := l.locateLocked(offset)
	if err != nil {
		// Nothing read below offset can be trusted to be where it was:
		// readers see nothing past the segment start.
		l.logger.Error("locate bound after truncation", "dir", l.dir, "offset", offset, "err", err)
		return active.baseOffset, active, 0
	}
	return offset, ns, np
}

// lowerCleanerCheckpointLocked moves the cleaner checkpoint down to end if
// it lies past it: offsets truncation removed and appends write again
// are dirty. A checkpoint that cannot be written stays where it was; the
// cleaner then starts from the log start offset if it finds it past the
// active segment.
func (l *Log) lowerCleanerCheckpointLocked(end int64) {
	if !l.cleaning.loaded {
		l.loadCleanerCheckpointLocked()
	}
	if l.cleaning.firstDirtyOffset <= end {
		return
	}
	l.cleaning.firstDirtyOffset = end
	if err := l.writeCleanerCheckpointLocked(); err != nil {
		l.logger.Warn("lower cleaner checkpoint after truncation", "dir", l.dir, "err", err)
	}
}

// TruncateFullyAndStartAt empties the log and starts it at offset: every
// segment goes, a new empty active segment starts at offset, and log
// start = log end = durable = read limit = offset. When offset is at or
// past the log end (a follower behind the leader's log start) the new
// segment is created first, then the old ones go from the first on, each
// rename made durable before the next: a crash leaves a tail of the old
// log and the new segment, a log recovery opens. Otherwise the old ones
// go first, and a crash may leave an empty directory: a log at 0 that the
// follower truncates again. Reads of the removed batches in progress may
// fail.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%w: start the log at %d", ErrOffsetOutOfRange, offset)
	}
	l.lockSync(context.Background()) // never fails without a deadline
	defer l.unlockSync()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	// The new segment first, if it starts at or past the old log's end:
	// until the old ones are gone a crash leaves a log with a gap.
	var fresh *segment
	var err error
	if offset >= l.activeLocked().nextOffset {
		if fresh, err = l.createSegmentLocked(offset); err != nil {
			return l.failLocked(err)
		}
	}
	// The old segments stay in l.segments, their files open, until all
	// are gone: a failed log still serves reads from them.
	for _, s := range l.segments {
		if err := l.retireDurablyLocked(s); err != nil {
			if fresh != nil {
				fresh.close()
			}
			return l.failLocked(err)
		}
	}
	if fresh == nil {
		if fresh, err = l.createSegmentLocked(offset); err != nil {
			return l.failLocked(err)
		}
	}
	for _, s := range l.segments {
		l.removeRetiredLater(s)
	}
	l.segments = []*segment{fresh}
	if err := l.pinActiveLocked(); err != nil {
		l.logger.Warn("keep the active segment's files open", "dir", l.dir, "err", err)
	}
	l.logStartOffset = offset
	l.durable.Store(offset)
	l.unflushed = 0
	l.readable, l.readableSegment, l.readablePosition = offset, fresh, 0
	l.readLimit, l.limitSegment, l.limitPosition = offset, fresh, 0
	// A checkpoint below offset is below the log start too, where the
	// cleaner starts anyway.
	l.lowerCleanerCheckpointLocked(offset)
	l.logger.Info("truncated log fully", "dir", l.dir, "logStartOffset", offset)
	return nil
}

// createSegmentLocked creates an empty segment at base and makes its
// directory entry durable.
func (l *Log) createSegmentLocked(base int64) (*segment, error) {
	s, err := openSegment(l.fs, l.files, l.dir, base, true)
	if err != nil {
		return nil, err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		s.close()
		return nil, fmt.Errorf("%w: fsync %s: %v", errLogFailed, l.dir, err)
	}
	return s, nil
}
