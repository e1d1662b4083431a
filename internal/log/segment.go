package log

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/vfs"
)

const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"

	// scanChunkBytes is how much of a segment one read pulls in while
	// walking batch headers; most batches are smaller, so one read usually
	// covers several headers.
	scanChunkBytes = 16 << 10
)

// segmentName is the 20-digit zero-padded base offset Kafka names files by.
func segmentName(baseOffset int64) string {
	return fmt.Sprintf("%020d", baseOffset)
}

// parseSegmentName returns the base offset of a "<20 digits>.log" file name.
func parseSegmentName(name string) (int64, bool) {
	base, ok := strings.CutSuffix(name, logSuffix)
	if !ok || len(base) != 20 {
		return 0, false
	}
	off, err := strconv.ParseInt(base, 10, 64)
	return off, err == nil && off >= 0
}

// segment is one log file with its indexes. The owning Log's mu guards
// every field except the files themselves, whose ReadAt is safe to call
// concurrently with appends at higher positions, and holders.
type segment struct {
	baseOffset int64
	file       vfs.File
	offsetFile vfs.File
	timeFile   vfs.File
	// holders keeps file open while Sections of it are held (section.go):
	// close it with dropFile, never directly.
	holders fileHolders

	size       int64 // bytes of whole batches in file
	nextOffset int64 // one past the last offset in the segment
	ix         index

	// maxTimestamp and maxTimestampOffset describe the batch with the
	// largest max timestamp, for retention and ListOffsets MAX_TIMESTAMP.
	maxTimestamp       int64
	maxTimestampOffset int64

	bytesSinceIndex int
	created         time.Time // start of the segment's roll clock
	indexMissing    bool      // an index file did not exist at open: rebuild it
	pinned          bool      // the files are held open: see pin
	// cuts counts the truncations that cut this segment: a clean planned
	// before one must not swap in a copy of what was cut.
	cuts int
}

// openSegment opens (creating if asked) the three files of a segment,
// each through files: a segment created is open, one that exists is
// opened when first used.
func openSegment(fs vfs.FS, files *FileCache, dir string, baseOffset int64, create bool) (*segment, error) {
	base := filepath.Join(dir, segmentName(baseOffset))
	s := &segment{baseOffset: baseOffset, nextOffset: baseOffset, maxTimestamp: -1, maxTimestampOffset: -1, created: time.Now()}
	paths := []string{base + logSuffix, base + indexSuffix, base + timeIndexSuffix}
	var opened [3]vfs.File
	if create {
		for i, path := range paths {
			f, err := fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				for _, o := range opened[:i] {
					o.Close()
				}
				return nil, fmt.Errorf("create segment: %w", err)
			}
			opened[i] = f
		}
	} else {
		if _, err := fs.Stat(paths[0]); err != nil {
			return nil, fmt.Errorf("open segment: %w", err)
		}
		for i, path := range paths[1:] {
			if _, err := fs.Stat(path); errors.Is(err, os.ErrNotExist) {
				s.indexMissing = true
				f, err := fs.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
				if err != nil {
					for _, o := range opened {
						if o != nil {
							o.Close()
						}
					}
					return nil, fmt.Errorf("create index: %w", err)
				}
				opened[i+1] = f
			}
		}
	}
	s.file = files.newCachedFile(fs, paths[0], opened[0])
	s.offsetFile = files.newCachedFile(fs, paths[1], opened[1])
	s.timeFile = files.newCachedFile(fs, paths[2], opened[2])
	return s, nil
}

// pin keeps the segment's three files open while it is the active
// segment, which is written all the time. REQUIRES: the log's mu.
func (s *segment) pin() error {
	if s.pinned {
		return nil
	}
	var held []*cachedFile
	for _, f := range []vfs.File{s.file, s.offsetFile, s.timeFile} {
		cf, ok := f.(*cachedFile)
		if !ok {
			continue
		}
		if _, err := cf.acquire(); err != nil {
			for _, h := range held {
				h.release()
			}
			return err
		}
		held = append(held, cf)
	}
	s.pinned = true
	return nil
}

// unpin lets the cache close the segment's files once it is no longer
// active. REQUIRES: the log's mu.
func (s *segment) unpin() {
	if !s.pinned {
		return
	}
	s.pinned = false
	for _, f := range []vfs.File{s.file, s.offsetFile, s.timeFile} {
		if cf, ok := f.(*cachedFile); ok {
			cf.release()
		}
	}
}

// relative converts an absolute offset to the segment's 32-bit relative one.
func (s *segment) relative(offset int64) uint32 {
	rel := offset - s.baseOffset
	if rel < 0 || rel > math.MaxUint32 {
		panic(fmt.Sprintf("log: offset %d outside segment %d", offset, s.baseOffset))
	}
	return uint32(rel)
}

// fits reports whether a batch with lastOffset can go into this segment
// without overflowing relative offsets or positions.
func (s *segment) fits(lastOffset int64, size int) bool {
	return lastOffset-s.baseOffset <= math.MaxInt32 && s.size+int64(size) <= math.MaxInt32
}

// append writes one batch, whose baseOffset is already assigned, at the end
// of the file and indexes it. The file is cut back after a write error, so
// a partial batch does not stay behind. The system running out of space or
// files (ENOSPC, EDQUOT) then returns ErrWriteRefused: write() accepted
// none of the batch, the bytes before it are as they were, and the log
// stays usable. Any other write error, or a cut that fails (recovery cuts
// the batch on the next start), is a failing disk and fails the log, as
// Kafka takes the log directory offline.
func (s *segment) append(batch []byte, h record.Header, indexIntervalBytes int) error {
	pos := s.size
	if _, err := s.file.WriteAt(batch, pos); err != nil {
		if terr := s.file.Truncate(pos); terr != nil {
			return fmt.Errorf("%w: write %s: %v; cutting back failed: %v", errLogFailed, s.file.Name(), err, terr)
		}
		if isResourceLimit(err) {
			return fmt.Errorf("%w: %w", ErrWriteRefused, err) // err names the file
		}
		return fmt.Errorf("%w: write %s: %v", errLogFailed, s.file.Name(), err)
	}
	s.track(pos, h, indexIntervalBytes)
	return nil
}

// track updates sizes, indexes and timestamps for a batch at pos, on append
// and while rebuilding indexes.
func (s *segment) track(pos int64, h record.Header, indexIntervalBytes int) {
	last := h.LastOffset()
	// An empty batch, kept by compaction for its producer state, carries
	// the timestamp of records that are gone: no lookup may land on it.
	if h.NumRecords > 0 && h.MaxTimestamp > s.maxTimestamp {
		s.maxTimestamp = h.MaxTimestamp
		s.maxTimestampOffset = last
	}
	if s.bytesSinceIndex > indexIntervalBytes {
		s.ix.addOffset(s.relative(last), uint32(pos))
		s.ix.addTime(s.maxTimestamp, s.relative(s.maxTimestampOffset))
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += h.Size()
	s.size = pos + int64(h.Size())
	s.nextOffset = last + 1
}

// scanHeaders calls fn for every batch header in [from, limit), reading in
// chunks. It stops early when fn returns false. A header that does not parse
// is returned as an error with its position.
func (s *segment) scanHeaders(from, limit int64, fn func(pos int64, h record.Header) bool) error {
	buf := make([]byte, scanChunkBytes)
	pos := from
	for pos < limit {
		n, err := s.file.ReadAt(buf[:min(int64(len(buf)), limit-pos)], pos)
		if n < record.HeaderSize {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read header at %d of %s: %w", pos, s.file.Name(), err)
		}
		chunk := buf[:n]
		for len(chunk) >= record.HeaderSize {
			h, err := record.ParseHeader(chunk)
			if err != nil {
				return fmt.Errorf("header at %d of %s: %w", pos, s.file.Name(), err)
			}
			if pos+int64(h.Size()) > limit {
				return fmt.Errorf("batch at %d of %s runs past %d: %w", pos, s.file.Name(), limit, io.ErrUnexpectedEOF)
			}
			if !fn(pos, h) {
				return nil
			}
			pos += int64(h.Size())
			if h.Size() >= len(chunk) {
				break
			}
			chunk = chunk[h.Size():]
		}
	}
	return nil
}

// flushIndex writes pending index entries.
func (s *segment) flushIndex() error {
	return s.ix.flush(s.offsetFile, s.timeFile)
}

// seal adds the final time index entry, as Kafka does when a segment rolls
// or closes, so the last entry holds the segment's largest timestamp.
func (s *segment) seal() {
	if s.maxTimestampOffset >= s.baseOffset {
		s.ix.addTime(s.maxTimestamp, s.relative(s.maxTimestampOffset))
	}
}

// sync makes the segment's log bytes durable. Index files are not synced
// here: they are rebuilt after an unclean shutdown.
func (s *segment) sync() error {
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("%w: fsync %s: %v", errLogFailed, s.file.Name(), err)
	}
	return nil
}

// close flushes indexes (best effort when err is returned) and closes files.
func (s *segment) close() error {
	s.unpin()
	var errs []error
	if s.offsetFile != nil && s.timeFile != nil {
		s.seal()
		errs = append(errs, s.flushIndex())
	}
	if s.file != nil {
		errs = append(errs, s.dropFile())
	}
	for _, f := range []vfs.File{s.offsetFile, s.timeFile} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}
