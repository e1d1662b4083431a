package log

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sluice-dev/sluice/internal/vfs"
)

// deletedSuffix marks the files of a segment removed from the log whose
// files are still open for reads in progress. Open removes leftovers.
const deletedSuffix = ".deleted"

// ApplyRetention deletes whole segments from the start of the log that
// retention.ms or retention.bytes no longer keep, and segments wholly below
// the log start offset. Age is judged by a segment's largest record
// timestamp, so a producer with a skewed clock never gets data deleted
// early by a newer segment. Only data below the high watermark is
// deleted. It returns how many segments went.
func (l *Log) ApplyRetention(now time.Time) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.failed != nil {
		return 0, nil
	}
	// An expired, non-empty active segment is rolled so it can go too, as
	// Kafka does; otherwise a quiet partition keeps its data until
	// segment.ms rolls it.
	if l.cfg.DeleteRetention && l.cfg.RetentionMs >= 0 {
		active := l.activeLocked()
		if active.size > 0 && l.expiredLocked(active, now) && active.nextOffset <= l.readLimit {
			if _, err := l.rollLocked(l.activeLocked().nextOffset); err != nil {
				return 0, l.failLocked(err)
			}
		}
	}
	var total int64
	for _, s := range l.segments {
		total += s.size
	}
	n := 0
	for len(l.segments) > 1 {
		s := l.segments[0]
		next := l.segments[1].baseOffset
		below := next <= l.logStartOffset
		byTime := l.cfg.DeleteRetention && l.cfg.RetentionMs >= 0 && l.expiredLocked(s, now)
		bySize := l.cfg.DeleteRetention && l.cfg.RetentionBytes >= 0 && total-s.size >= l.cfg.RetentionBytes
		if !(below || byTime || bySize) || s.nextOffset > l.readLimit {
			break
		}
		l.deleteFirstLocked()
		total -= s.size
		n++
	}
	return n, nil
}

// expiredLocked reports whether every record of s is older than
// retention.ms. A segment without timestamps is judged by its file's age.
func (l *Log) expiredLocked(s *segment, now time.Time) bool {
	newest := s.maxTimestamp
	if newest < 0 {
		st, err := s.file.Stat()
		if err != nil {
			return false
		}
		newest = st.ModTime().UnixMilli()
	}
	return now.UnixMilli()-newest > l.cfg.RetentionMs
}

// deleteFirstLocked removes the first segment from the log. Its files are
// renamed at once and closed and removed after SegmentDeleteDelay, so a
// read that already took a span of it completes; the .log file stays open
// (unlinked) while a fetch response still holds a Section of it.
func (l *Log) deleteFirstLocked() {
	s := l.segments[0]
	l.segments = l.segments[1:]
	l.logStartOffset = max(l.logStartOffset, l.segments[0].baseOffset)
	for _, f := range []vfs.File{s.file, s.offsetFile, s.timeFile} {
		if err := l.fs.Rename(f.Name(), f.Name()+deletedSuffix); err != nil {
			l.logger.Warn("rename deleted segment file", "file", f.Name(), "err", err)
			continue
		}
		noteMoved(f, f.Name()+deletedSuffix)
	}
	l.logger.Info("deleted segment", "dir", l.dir, "baseOffset", s.baseOffset, "logStartOffset", l.logStartOffset)
	time.AfterFunc(l.cfg.SegmentDeleteDelay, func() {
		s.dropFile() // closed now, or when the last fetch holding it is sent
		s.offsetFile.Close()
		s.timeFile.Close()
		for _, f := range []vfs.File{s.file, s.offsetFile, s.timeFile} {
			if err := l.fs.Remove(f.Name() + deletedSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				l.logger.Warn("remove deleted segment file", "file", f.Name(), "err", err)
			}
		}
	})
}

// ErrBeyondHighWatermark is returned by DeleteRecordsBefore for an offset
// past the high watermark.
var ErrBeyondHighWatermark = errors.New("offset beyond the high watermark")

// DeleteRecordsBefore moves the log start offset up to offset (Kafka's
// DeleteRecords): reads below it fail with ErrOffsetOutOfRange, and whole
// segments below it are deleted. offset -1 means the high watermark. It
// returns the new log start offset.
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	if offset == -1 {
		offset = l.readLimit
	}
	if offset < 0 || offset > l.readLimit {
		return 0, fmt.Errorf("%w: %d (high watermark %d)", ErrBeyondHighWatermark, offset, l.readLimit)
	}
	if offset > l.logStartOffset {
		l.logStartOffset = offset
	}
	for len(l.segments) > 1 && l.segments[1].baseOffset <= l.logStartOffset {
		l.deleteFirstLocked()
	}
	return l.logStartOffset, nil
}
