package log

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/vfs"
)

// producersMax bounds the producer ids one clean tracks (8 bytes of id and
// 8 of offset each, plus the Go map's overhead): a log written by more
// producers than this is not cleaned rather than making the cleaner's
// memory unbounded.
const producersMax = 1 << 20

// batchReader walks the batches of a sealed segment with reads of a whole
// buffer, so a segment of small batches costs few system calls.
type batchReader struct {
	file     vfs.File
	limit    int64  // end of the bytes to read
	pos      int64  // file position of data[0]
	buf      []byte // io buffer; grown for a batch larger than it
	data     []byte // read but not yet returned
	bytes    int64  // bytes read, for stats and throttling
	throttle *throttler
}

func (r *batchReader) reset(f vfs.File, limit int64, bufBytes int, t *throttler) {
	if cap(r.buf) != bufBytes {
		r.buf = make([]byte, bufBytes) // also gives back a buffer grown for a large batch
	}
	r.file, r.limit, r.pos, r.data, r.throttle, r.bytes = f, limit, 0, nil, t, 0
}

// next returns the next batch, aliasing the buffer until the next call, or
// io.EOF at the end.
func (r *batchReader) next() (pos int64, h record.Header, batch []byte, err error) {
	if r.pos >= r.limit {
		return 0, h, nil, io.EOF
	}
	if err := r.fill(record.HeaderSize); err != nil {
		return 0, h, nil, err
	}
	if h, err = record.ParseHeader(r.data); err != nil {
		return 0, h, nil, fmt.Errorf("header at %d of %s: %w", r.pos, r.file.Name(), err)
	}
	size := h.Size()
	if size > batchBytesMax || r.pos+int64(size) > r.limit {
		return 0, h, nil, fmt.Errorf("%w: batch of %d bytes at %d of %s runs past %d", record.ErrCorrupt, size, r.pos, r.file.Name(), r.limit)
	}
	if err := r.fill(size); err != nil {
		return 0, h, nil, err
	}
	pos, batch = r.pos, r.data[:size:size]
	r.pos, r.data = r.pos+int64(size), r.data[size:]
	return pos, h, batch, nil
}

// fill makes data hold at least need bytes, moving the unread bytes to the
// front of the buffer and reading as much after them as fits.
func (r *batchReader) fill(need int) error {
	if len(r.data) >= need {
		return nil
	}
	if need > len(r.buf) {
		r.buf = make([]byte, need)
	}
	n := copy(r.buf, r.data)
	want := int(min(int64(len(r.buf)), r.limit-r.pos))
	m, err := r.file.ReadAt(r.buf[n:want], r.pos+int64(n))
	r.data = r.buf[:n+m]
	r.bytes += int64(m)
	r.throttle.wait(m)
	if len(r.data) < need {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read %s at %d: %w", r.file.Name(), r.pos, err)
	}
	return nil
}

// mapped reports whether the cleaner reads a batch's keys: control and
// transactional batches are kept whole until transactions (and their
// aborts) exist, so they neither shadow nor are shadowed.
func mapped(h record.Header) bool { return !h.Control() && !h.Transactional() }

// buildOffsetMap maps every key of the dirty records to its latest offset
// and returns the end of the offsets mapped: the first uncleanable offset,
// or where the map filled up.
func (c *Cleaner) buildOffsetMap(p *cleanPlan, stats *CleanStats) (int64, error) {
	m := c.offsets
	m.reset()
	for _, v := range p.cleanable {
		if v.next <= p.firstDirty {
			continue
		}
		if v.base >= p.firstUncleanable {
			break
		}
		c.reader.reset(v.s.file, v.size, c.cfg.IOBufferBytes, &c.throttle)
		full, err := c.mapSegment(p.firstDirty, stats)
		stats.BytesRead += c.reader.bytes
		if err != nil {
			return 0, err
		}
		if full >= 0 {
			c.logger.Info("offset map full; cleaning part of the dirty records", "dir", filepath.Dir(v.s.file.Name()),
				"entries", m.entries, "endOffset", full)
			m.latestOffset = full - 1
			return full, nil
		}
	}
	return max(m.latestOffset+1, p.firstDirty), nil
}

// mapSegment adds the records at or after firstDirty of the reader's
// segment to the map. It returns the offset of the first record that did
// not fit, or -1 when all did.
func (c *Cleaner) mapSegment(firstDirty int64, stats *CleanStats) (int64, error) {
	m := c.offsets
	for {
		_, h, batch, err := c.reader.next()
		if errors.Is(err, io.EOF) {
			return -1, nil
		}
		if err != nil {
			return -1, err
		}
		if h.LastOffset() < firstDirty {
			continue
		}
		full := int64(-1)
		if mapped(h) {
			// Records checks the batch (CRC, framing) before the first record.
			err = record.Records(batch, decompressedBytesMax, func(r record.Record) bool {
				offset := h.BaseOffset + int64(r.OffsetDelta)
				if offset < firstDirty || r.Key == nil {
					return true
				}
				if !m.put(r.Key, offset) {
					full = offset
					return false
				}
				stats.MappedRecords++
				return true
			})
			if err != nil {
				return -1, err
			}
		}
		if full >= 0 {
			return full, nil
		}
		m.latestOffset = max(m.latestOffset, h.LastOffset())
	}
}

// lastProducerBatches returns, per producer id, the last offset of its
// last data batch anywhere in the log. That batch must survive cleaning
// (empty if need be) so producer state rebuilt from the log keeps the
// producer's epoch and last sequence, as Kafka keeps it.
func (c *Cleaner) lastProducerBatches(p *cleanPlan) (map[int64]int64, error) {
	last := map[int64]int64{}
	var tooMany bool
	for _, v := range append(p.cleanable[:len(p.cleanable):len(p.cleanable)], p.active) {
		err := v.s.scanHeaders(0, v.size, func(_ int64, h record.Header) bool {
			if h.ProducerID >= 0 && !h.Control() {
				last[h.ProducerID] = h.LastOffset()
				tooMany = len(last) > producersMax
			}
			return !tooMany
		})
		if err != nil {
			return nil, err
		}
		if tooMany {
			return nil, fmt.Errorf("log written by over %d producer ids; not cleaning it", producersMax)
		}
	}
	return last, nil
}

// cleanFilter decides which records a clean keeps.
type cleanFilter struct {
	offsets *offsetMap
	// latest is the last offset the clean accounts for: records after it
	// were not mapped (the map filled) and are all kept.
	latest            int64
	producers         map[int64]int64 // last batch of each producer, by last offset
	nowMs             int64
	deleteRetentionMs int64
	horizon           int64 // earliest delete horizon of a kept tombstone
}

// keep decides one record of a mapped batch.
func (f *cleanFilter) keep(offset int64, r record.Record, retainTombstones bool) bool {
	if offset > f.latest {
		return true
	}
	if r.Key == nil {
		return false // compacted topics need keys; Kafka drops these too
	}
	return offset >= f.offsets.get(r.Key) && (r.Value != nil || retainTombstones)
}

// cleanGroup rewrites a group of segments into one cleaned segment and
// swaps it into the log.
func (c *Cleaner) cleanGroup(l *Log, p *cleanPlan, group []segmentView, f *cleanFilter, stats *CleanStats) error {
	dst, err := createCleaned(l.fs, l.dir, group[0].base)
	if err != nil {
		return err
	}
	swapped := false
	defer func() {
		if !swapped {
			dst.discard(l.fs)
		}
	}()
	changed := false
	for _, v := range group {
		c.reader.reset(v.s.file, v.size, c.cfg.IOBufferBytes, &c.throttle)
		segmentChanged, err := c.filterSegment(dst, p.cfg.IndexIntervalBytes, f, stats)
		stats.BytesRead += c.reader.bytes
		if err != nil {
			return err
		}
		changed = changed || segmentChanged
	}
	stats.Segments += len(group)
	if err := c.finishCleaned(dst, stats); err != nil {
		return err
	}
	c.at("cleaned")
	if !changed {
		return nil // the segments are clean already: keep them
	}
	if err := l.swapIn(group, dst, c.at); err != nil {
		if errors.Is(err, errSwapAborted) {
			return nil // retention or a close got there first
		}
		return err
	}
	swapped = true
	stats.Groups++
	// The swap is complete in memory; the renames are made durable outside
	// the log's lock, since Open finishes any state they pass through.
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fmt.Errorf("fsync log dir after compaction: %w", err)
	}
	return nil
}

// filterSegment copies the kept part of the reader's segment to dst. It
// reports whether anything changed.
func (c *Cleaner) filterSegment(dst *segment, indexIntervalBytes int, f *cleanFilter, stats *CleanStats) (bool, error) {
	changed := false
	for {
		_, h, batch, err := c.reader.next()
		if errors.Is(err, io.EOF) {
			return changed, nil
		}
		if err != nil {
			return changed, err
		}
		out, same, err := c.filterBatch(batch, h, f, stats)
		if err != nil {
			return changed, err
		}
		changed = changed || !same
		if out == nil {
			continue
		}
		oh, err := record.ParseHeader(out)
		if err != nil {
			panic(fmt.Sprintf("log: cleaner built an unreadable batch: %v", err))
		}
		if !dst.fits(oh.LastOffset(), oh.Size()) {
			return changed, fmt.Errorf("cleaned batch at offset %d does not fit segment %d", oh.BaseOffset, dst.baseOffset)
		}
		dst.track(dst.size, oh, indexIntervalBytes)
		c.write = append(c.write, out...)
		if len(c.write) >= c.cfg.IOBufferBytes {
			if err := c.flushWrites(dst, stats); err != nil {
				return changed, err
			}
		}
	}
}

// filterBatch returns the batch to write in place of batch: batch itself
// when it keeps all its records as they are (same), a rebuilt batch when
// it keeps some or needs a delete horizon, an empty batch when it keeps
// none but is its producer's last, or nil.
func (c *Cleaner) filterBatch(batch []byte, h record.Header, f *cleanFilter, stats *CleanStats) (out []byte, same bool, err error) {
	if !mapped(h) {
		_, err := record.ValidateStored(batch) // stored data is checked twice
		return batch, true, err
	}
	stats.RecordsRead += int64(h.NumRecords)
	retainTombstones := !hasDeleteHorizon(h) || f.nowMs < h.BaseTimestamp
	kept := c.kept[:0]
	tombstones := false
	err = record.Records(batch, decompressedBytesMax, func(r record.Record) bool {
		if f.keep(h.BaseOffset+int64(r.OffsetDelta), r, retainTombstones) {
			kept = append(kept, r)
			tombstones = tombstones || r.Value == nil
		}
		return true
	})
	c.kept = kept
	if err != nil {
		return nil, false, err
	}
	stats.RecordsKept += int64(len(kept))
	needHorizon := tombstones && !hasDeleteHorizon(h)
	if len(kept) == int(h.NumRecords) && !needHorizon {
		if tombstones {
			f.horizon = min(f.horizon, h.BaseTimestamp)
		}
		return batch, true, nil
	}
	if len(kept) == 0 {
		if h.ProducerID >= 0 && f.producers[h.ProducerID] == h.LastOffset() {
			return emptyBatch(h)
		}
		return nil, false, nil
	}
	base := h.BaseTimestamp
	if needHorizon {
		base = f.nowMs + f.deleteRetentionMs
	}
	if tombstones {
		f.horizon = min(f.horizon, base)
	}
	return rebuild(h, kept, base, needHorizon || hasDeleteHorizon(h))
}

// rebuild encodes kept as a batch in h's place, with h's offsets, producer
// fields, attributes and codec, and baseTimestamp base.
func rebuild(h record.Header, kept []record.Record, base int64, horizon bool) ([]byte, bool, error) {
	maxTimestamp := int64(-1)
	for i := range kept {
		ts := h.BaseTimestamp + kept[i].TimestampDelta
		maxTimestamp = max(maxTimestamp, ts)
		kept[i].TimestampDelta = ts - base
	}
	if h.LogAppendTime() {
		maxTimestamp = h.MaxTimestamp
	}
	h.BaseTimestamp = base
	h.Attributes &^= deleteHorizonFlag
	if horizon {
		h.Attributes |= deleteHorizonFlag
	}
	out, err := record.Build(h, kept, h.Compression(), maxTimestamp)
	return out, false, err
}

// emptyBatch is h's batch without records, as Kafka's
// DefaultRecordBatch.writeEmptyHeader writes it: uncompressed, keeping the
// producer id, epoch, base sequence and last offset, so the producer's
// state survives when all of its last batch's records are cleaned away.
func emptyBatch(h record.Header) ([]byte, bool, error) {
	h.BaseTimestamp = h.MaxTimestamp
	h.Attributes &^= deleteHorizonFlag
	out, err := record.Build(h, nil, record.CodecNone, h.MaxTimestamp)
	return out, false, err
}

// flushWrites writes the batches waiting in the write buffer at the end
// of dst.
func (c *Cleaner) flushWrites(dst *segment, stats *CleanStats) error {
	if len(c.write) == 0 {
		return nil
	}
	if _, err := dst.file.WriteAt(c.write, dst.size-int64(len(c.write))); err != nil {
		return fmt.Errorf("write %s: %w", dst.file.Name(), err)
	}
	stats.BytesWritten += int64(len(c.write))
	c.throttle.wait(len(c.write))
	c.write = c.write[:0]
	return nil
}

// finishCleaned writes out dst's last batches and indexes and fsyncs all
// three files, so a swap never commits bytes a crash could take back.
func (c *Cleaner) finishCleaned(dst *segment, stats *CleanStats) error {
	if err := c.flushWrites(dst, stats); err != nil {
		return err
	}
	dst.seal()
	if err := dst.flushIndex(); err != nil {
		return err
	}
	for _, f := range []vfs.File{dst.file, dst.offsetFile, dst.timeFile} {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", f.Name(), err)
		}
	}
	return nil
}

// at calls the test hook.
func (c *Cleaner) at(point string) {
	if c.hook != nil {
		c.hook(point)
	}
}

// createCleaned creates the files of a cleaned segment, "<base>.log.cleaned"
// and its indexes, replacing leftovers of an earlier attempt.
func createCleaned(fs vfs.FS, dir string, base int64) (*segment, error) {
	s := &segment{baseOffset: base, nextOffset: base, maxTimestamp: -1, maxTimestampOffset: -1, created: time.Now()}
	stem := filepath.Join(dir, segmentName(base))
	files := []*vfs.File{&s.file, &s.offsetFile, &s.timeFile}
	for i, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		path := stem + suffix + cleanedSuffix
		if err := fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.discard(fs)
			return nil, fmt.Errorf("remove stale %s: %w", path, err)
		}
		f, err := fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			s.discard(fs)
			return nil, fmt.Errorf("create cleaned segment: %w", err)
		}
		*files[i] = f
	}
	return s, nil
}

// discard closes and removes a cleaned segment that will not be swapped in.
func (s *segment) discard(fs vfs.FS) {
	for _, f := range []vfs.File{s.file, s.offsetFile, s.timeFile} {
		if f != nil {
			f.Close()
			fs.Remove(f.Name())
		}
	}
}
