package log

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/vfs"
)

// batchBytesMax bounds the size of one batch read during recovery, so a
// corrupt length field cannot make recovery allocate gigabytes.
const batchBytesMax = 1 << 30

// OpenOptions say how much of the log to trust on open.
type OpenOptions struct {
	// Clean is true when the broker shut down cleanly: indexes are loaded
	// and checked, and only the tail after the last index entry is scanned.
	Clean bool
	// RecoveryPoint is the offset below which everything was fsynced when
	// the broker last checkpointed; after an unclean shutdown segments
	// from the one holding it on are scanned and validated. -1 scans all.
	RecoveryPoint int64
	// LogStartOffset is the checkpointed log start offset, which
	// DeleteRecords may have moved into the first segment; 0 if unknown.
	LogStartOffset int64
	// ReadLimit, when LimitReads is set, is where the read limit starts:
	// the partition's checkpointed high watermark, taken into [log start,
	// log end], so a restarted replica lets readers see no record beyond
	// the high watermark it last knew (records past it may be truncated
	// when it follows a leader again). The owner moves the limit up from
	// there. Without LimitReads every record that survived recovery is
	// readable at once, as for a log nobody replicates.
	ReadLimit  int64
	LimitReads bool
	Logger     *slog.Logger
	// FS is the file system the log's files live on; nil is the
	// operating system's. Tests put an error-injecting one here.
	FS vfs.FS
	// Files bounds the segment files open at once, shared by every log of
	// a broker (log.open.files.max); nil is a package-wide cache of
	// DefaultOpenFilesMax files.
	Files *FileCache
}

// Open opens the log in dir, creating it if needed, and recovers it.
func Open(dir string, cfg Config, opts OpenOptions) (*Log, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	_, statErr := opts.FS.Stat(dir)
	fresh := errors.Is(statErr, os.ErrNotExist)
	if err := opts.FS.MkdirAll(dir, 0o755); err != nil {
		if isResourceLimit(err) {
			return nil, refusal("create log dir", dir, err)
		}
		return nil, fmt.Errorf("create log dir: %w", err)
	}
	if opts.Files == nil {
		opts.Files = defaultFileCache
	}
	l := &Log{dir: dir, fs: opts.FS, files: opts.Files, cfg: cfg, logger: opts.Logger, syncTurn: make(chan struct{}, 1)}
	if err := completeSwaps(l.fs, dir, opts.Logger); err != nil {
		return nil, err
	}
	bases, err := listSegments(l.fs, dir)
	if err != nil {
		return nil, err
	}
	if len(bases) == 0 {
		bases = []int64{0}
		s, err := openSegment(l.fs, l.files, dir, 0, true)
		if err != nil {
			return nil, l.abandonNew(fresh, err)
		}
		l.segments = append(l.segments, s)
	} else if err := l.loadSegments(bases, opts); err != nil {
		for _, s := range l.segments {
			s.close()
		}
		return nil, err
	}
	first, active := l.segments[0], l.activeLocked()
	l.logStartOffset = max(first.baseOffset, min(opts.LogStartOffset, active.nextOffset))
	// What survived recovery is on disk: it is the durable prefix.
	l.durable.Store(active.nextOffset)
	l.readable, l.readableSegment, l.readablePosition = active.nextOffset, active, active.size
	l.readLimit, l.limitSegment, l.limitPosition = active.nextOffset, active, active.size
	if err := l.pinActiveLocked(); err != nil {
		for _, s := range l.segments {
			s.close()
		}
		return nil, fmt.Errorf("%w: open the active segment: %v", errLogFailed, err)
	}
	if opts.LimitReads {
		if err := l.startReadLimit(opts.ReadLimit); err != nil {
			for _, s := range l.segments {
				s.close()
			}
			return nil, err
		}
	}
	return l, nil
}

// startReadLimit lowers the read limit of a log just opened to offset,
// taken into [log start, log end]: OpenOptions.ReadLimit. It is the one
// move of the read limit backwards outside truncation, made before
// anyone reads.
func (l *Log) startReadLimit(offset int64) error {
	active := l.activeLocked()
	offset = max(l.logStartOffset, min(offset, active.nextOffset))
	if offset == active.nextOffset {
		return nil
	}
	// Located from scratch: locateLocked's shortcut from the current
	// limit only holds for limits below offset.
	first := l.segments[0]
	l.readLimit, l.limitSegment, l.limitPosition = first.baseOffset, first, 0
	s, position, err := l.locateLocked(offset)
	if err != nil {
		return fmt.Errorf("%w: locate the checkpointed high watermark %d: %v", errLogFailed, offset, err)
	}
	l.readLimit, l.limitSegment, l.limitPosition = offset, s, position
	return nil
}

// listSegments returns the base offsets of the segments in dir, removing
// index files whose log file is gone.
func listSegments(fs vfs.FS, dir string) ([]int64, error) {
	entries, err := fs.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list log dir: %w", err)
	}
	var bases []int64
	logs := map[string]bool{}
	for _, e := range entries {
		if base, ok := parseSegmentName(e.Name()); ok {
			bases = append(bases, base)
			logs[strings.TrimSuffix(e.Name(), logSuffix)] = true
		}
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, deletedSuffix) {
			fs.Remove(filepath.Join(dir, name)) // a deletion a crash interrupted
			continue
		}
		for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
			if stem, ok := strings.CutSuffix(name, suffix); ok && !logs[stem] {
				fs.Remove(filepath.Join(dir, name))
			}
		}
	}
	slices.Sort(bases)
	return bases, nil
}

// loadSegments opens every segment and recovers the ones that need it.
func (l *Log) loadSegments(bases []int64, opts OpenOptions) error {
	for i, base := range bases {
		s, err := openSegment(l.fs, l.files, l.dir, base, false)
		if err != nil {
			return err
		}
		l.segments = append(l.segments, s)
		st, err := s.file.Stat()
		if err != nil {
			return fmt.Errorf("stat segment: %w", err)
		}
		last := i == len(bases)-1
		unsafe := !opts.Clean && (opts.RecoveryPoint < 0 || i == len(bases)-1 || bases[i+1] > opts.RecoveryPoint)
		if unsafe {
			cut, err := l.recoverSegment(s, st.Size())
			if err != nil {
				return err
			}
			if cut {
				// Nothing after a torn or corrupt batch can be trusted.
				return l.dropSegmentsAfter(i, bases)
			}
			continue
		}
		if err := l.loadSegment(s, st.Size(), last); err != nil {
			return err
		}
	}
	return nil
}

// loadSegment trusts a segment's bytes (it was fsynced or closed cleanly)
// and loads its index, rebuilding it if it is inconsistent. For the active
// segment the tail after the last index entry is walked to find the log
// end.
func (l *Log) loadSegment(s *segment, size int64, last bool) error {
	s.size = size
	ix, ok := loadIndex(s.offsetFile, s.timeFile, size)
	if !ok || s.indexMissing && size > 0 {
		l.logger.Info("rebuilding index", "segment", s.file.Name())
		return l.rebuildIndex(s, size)
	}
	s.ix = ix
	if n := len(ix.times); n > 0 {
		s.maxTimestamp = ix.times[n-1].timestamp
		s.maxTimestampOffset = s.baseOffset + int64(ix.times[n-1].relOffset)
	}
	var from int64
	if n := len(ix.offsets); n > 0 {
		from = int64(ix.offsets[n-1].position)
	}
	if !last && from == 0 && size > 0 {
		// An index-less segment still needs its end offset and timestamps.
		return l.rebuildIndex(s, size)
	}
	// Walk the tail: the batches after the last index entry are not
	// indexed, and the active segment's end offset is found here.
	s.size = from
	err := s.scanHeaders(from, size, func(pos int64, h record.Header) bool {
		s.trackLoaded(pos, h)
		return true
	})
	if err != nil {
		l.logger.Warn("index tail inconsistent, rebuilding", "segment", s.file.Name(), "err", err)
		return l.rebuildIndex(s, size)
	}
	return nil
}

// trackLoaded accounts for a batch already present in the index.
func (s *segment) trackLoaded(pos int64, h record.Header) {
	if h.NumRecords > 0 && h.MaxTimestamp > s.maxTimestamp {
		s.maxTimestamp, s.maxTimestampOffset = h.MaxTimestamp, h.LastOffset()
	}
	s.size = pos + int64(h.Size())
	s.nextOffset = h.LastOffset() + 1
}

// rebuildIndex recreates a segment's indexes from its batch headers.
func (l *Log) rebuildIndex(s *segment, size int64) error {
	s.ix, s.size, s.bytesSinceIndex = index{}, 0, 0
	s.maxTimestamp, s.maxTimestampOffset, s.nextOffset = -1, -1, s.baseOffset
	if err := s.scanHeaders(0, size, func(pos int64, h record.Header) bool {
		s.track(pos, h, l.cfg.IndexIntervalBytes)
		return true
	}); err != nil {
		return fmt.Errorf("rebuild index of %s: %w", s.file.Name(), err)
	}
	return s.ix.rewrite(s.offsetFile, s.timeFile)
}

// recoverSegment validates every batch of a segment that may hold unsynced
// bytes, cuts the file at the first torn or corrupt batch, and rebuilds the
// indexes. cut reports whether anything was cut.
func (l *Log) recoverSegment(s *segment, size int64) (cut bool, err error) {
	s.ix, s.size, s.bytesSinceIndex = index{}, 0, 0
	s.maxTimestamp, s.maxTimestampOffset, s.nextOffset = -1, -1, s.baseOffset
	r := io.NewSectionReader(s.file, 0, size)
	var pos int64
	header := make([]byte, record.HeaderSize)
	var body []byte
	var reason error
	for pos < size {
		h, batch, err := readBatch(r, pos, header, &body)
		if err == nil {
			err = checkBatch(batch, h, s.nextOffset)
		}
		if err == nil && !s.fits(h.LastOffset(), h.Size()) {
			// baseOffset is outside the CRC: a corrupt one may leap past
			// what the segment's 32-bit relative offsets can hold.
			err = fmt.Errorf("batch offsets %d..%d do not fit segment %d", h.BaseOffset, h.LastOffset(), s.baseOffset)
		}
		if err != nil {
			reason = err
			break
		}
		s.track(pos, h, l.cfg.IndexIntervalBytes)
		pos += int64(h.Size())
	}
	if reason != nil {
		l.logger.Warn("recovery cut the log at a torn or corrupt batch",
			"segment", s.file.Name(), "position", pos, "bytesCut", size-pos,
			"lastGoodOffset", s.nextOffset-1, "reason", reason)
		if err := s.file.Truncate(pos); err != nil {
			return false, fmt.Errorf("cut %s at %d: %w", s.file.Name(), pos, err)
		}
		if err := s.file.Sync(); err != nil {
			return false, fmt.Errorf("fsync %s: %w", s.file.Name(), err)
		}
	}
	return reason != nil, s.ix.rewrite(s.offsetFile, s.timeFile)
}

// readBatch reads the batch at pos through r, reusing body's storage.
func readBatch(r *io.SectionReader, pos int64, header []byte, body *[]byte) (record.Header, []byte, error) {
	if _, err := r.ReadAt(header, pos); err != nil {
		return record.Header{}, nil, fmt.Errorf("header: %w", err)
	}
	h, err := record.ParseHeader(header)
	if err != nil {
		return h, nil, err
	}
	if h.Size() > batchBytesMax {
		return h, nil, fmt.Errorf("batch length %d over %d", h.Size(), batchBytesMax)
	}
	if pos+int64(h.Size()) > r.Size() {
		// A torn or corrupt length: never allocate for bytes that are not there.
		return h, nil, fmt.Errorf("batch of %d bytes at %d runs past the file end %d: %w", h.Size(), pos, r.Size(), io.ErrUnexpectedEOF)
	}
	if cap(*body) < h.Size() {
		*body = make([]byte, h.Size())
	}
	b := (*body)[:h.Size()]
	if _, err := r.ReadAt(b, pos); err != nil {
		return h, nil, fmt.Errorf("batch of %d bytes: %w", h.Size(), err)
	}
	return h, b, nil
}

// checkBatch verifies a stored batch: whole and CRC-valid
// (record.ValidateIntact; the rules Validate adds are not reasons to cut
// a batch that was written whole), and an offset no smaller than the next
// one expected (compaction may leave gaps, never overlaps).
func checkBatch(batch []byte, h record.Header, next int64) error {
	if _, err := record.ValidateIntact(batch); err != nil {
		return err
	}
	if h.BaseOffset < next || h.LastOffsetDelta < 0 {
		return fmt.Errorf("batch offsets %d..%d overlap the previous batch ending before %d", h.BaseOffset, h.LastOffset(), next)
	}
	return nil
}

// dropSegmentsAfter deletes the segments after index i, which follow a cut.
func (l *Log) dropSegmentsAfter(i int, bases []int64) error {
	var errs []error
	for _, base := range bases[i+1:] {
		l.logger.Warn("recovery removed a segment after the cut", "dir", l.dir, "baseOffset", base)
		stem := filepath.Join(l.dir, segmentName(base))
		for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			if err := l.fs.Remove(stem + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// abandonNew removes what an Open that could not create the first segment
// made, so nothing half-created stays behind: the segment's files and, if
// this Open created it, the directory. Out of space or files, err becomes
// ErrWriteRefused (KAFKA_STORAGE_ERROR, retried).
func (l *Log) abandonNew(fresh bool, err error) error {
	l.removeSegmentFiles(0)
	if fresh {
		if rerr := l.fs.Remove(l.dir); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			l.logger.Warn("remove the directory of a log that could not be created", "dir", l.dir, "err", rerr)
		}
	}
	if isResourceLimit(err) {
		return refusal("create the first segment in", l.dir, err)
	}
	return err
}
