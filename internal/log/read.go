package log

import (
	"errors"
	"fmt"

	"github.com/sluice-dev/sluice/internal/record"
)

// span is a readable stretch of one segment, taken under mu so that the
// file reads that follow need no lock.
type span struct {
	s           *segment
	start, stop int64
}

// spansLocked returns the readable spans from the segment holding offset
// up to the read limit, or up to the log end when toEnd is set, at most
// limit of them.
func (l *Log) spansLocked(offset int64, limit int, toEnd bool) []span {
	var spans []span
	for i := l.segmentForLocked(offset); i < len(l.segments) && len(spans) < limit; i++ {
		s := l.segments[i]
		if !toEnd && l.limitSegment != nil && s.baseOffset > l.limitSegment.baseOffset {
			break
		}
		stop := s.size
		if !toEnd {
			stop = l.readableLocked(s)
		}
		if stop == 0 {
			continue // an empty segment below the bound: a gap
		}
		var start int64
		if offset > s.baseOffset {
			start = int64(s.ix.lookup(s.relative(min(offset, s.nextOffset))))
		}
		spans = append(spans, span{s, start, stop})
	}
	return spans
}

// Read returns whole batches starting with the one holding offset, at most
// maxBytes of them, but the first batch whole when minOne is set even if it
// is larger (as Kafka does since KIP-74, so a large batch cannot stall a
// consumer). Reads below the log start offset or past the log end offset
// fail with ErrOffsetOutOfRange; a read at or past the high watermark
// returns no bytes. It is ReadSection with the bytes copied out.
func (l *Log) Read(offset int64, maxBytes int, minOne bool) ([]byte, error) {
	sec, err := l.ReadSection(offset, maxBytes, minOne)
	if err != nil || sec.Len() == 0 {
		return nil, err
	}
	defer sec.Release()
	return sec.AppendTo(make([]byte, 0, sec.Len()))
}

// find returns the position and header of the first batch in the span
// whose last offset is >= offset.
func (sp span) find(offset int64) (pos int64, h record.Header, found bool, err error) {
	err = sp.s.scanHeaders(sp.start, sp.stop, func(p int64, hh record.Header) bool {
		if hh.LastOffset() >= offset {
			pos, h, found = p, hh, true
			return false
		}
		return true
	})
	return pos, h, found, err
}

// wholeBatches returns the length of the prefix of b made of whole batches,
// checking each header again on the way out (stored data is checked twice).
func wholeBatches(b []byte) int {
	n := 0
	for len(b)-n >= record.HeaderSize {
		h, err := record.ParseHeader(b[n:])
		if err != nil || h.Size() > len(b)-n {
			break
		}
		n += h.Size()
	}
	return n
}

// ScanHeaders calls fn for every batch header at or after offset, up to the
// log end, in order. Producer state is rebuilt with it on start-up.
func (l *Log) ScanHeaders(offset int64, fn func(h record.Header)) error {
	l.mu.Lock()
	var parts []span
	for i := l.segmentForLocked(offset); i < len(l.segments); i++ {
		s := l.segments[i]
		var start int64
		if offset > s.baseOffset {
			start = int64(s.ix.lookup(s.relative(min(offset, s.nextOffset))))
		}
		parts = append(parts, span{s, start, s.size})
	}
	l.mu.Unlock()
	for _, p := range parts {
		err := p.s.scanHeaders(p.start, p.stop, func(_ int64, h record.Header) bool {
			if h.LastOffset() >= offset {
				fn(h)
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// decompressedBytesMax bounds the memory one timestamp lookup may use to
// decompress a batch.
const decompressedBytesMax = 64 << 20

// OffsetForTimestamp returns the first offset whose record timestamp is >=
// timestamp, with that record's timestamp, as ListOffsets does. found is
// false when no record is that new.
func (l *Log) OffsetForTimestamp(timestamp int64) (offset, recordTimestamp int64, found bool, err error) {
	l.mu.Lock()
	var spans []span
	for _, s := range l.segments {
		if s.maxTimestamp < timestamp {
			continue // whole segment older; keep looking
		}
		if l.limitSegment != nil && s.baseOffset > l.limitSegment.baseOffset {
			break
		}
		if stop := l.readableLocked(s); stop > 0 {
			spans = append(spans, span{s, int64(s.ix.lookupTime(timestamp)), stop})
		}
	}
	logStart := l.logStartOffset
	l.mu.Unlock()

	match := func(off, ts int64) bool { return ts >= timestamp && off >= logStart }
	for _, sp := range spans {
		// A compacted batch may have lost the record that gave it its max
		// timestamp (only empty batches keep it, and they hold no
		// records): look on until a record matches.
		scanErr := sp.s.scanHeaders(sp.start, sp.stop, func(p int64, hh record.Header) bool {
			if hh.NumRecords == 0 || hh.MaxTimestamp < timestamp || hh.LastOffset() < logStart {
				return true
			}
			offset, recordTimestamp, found, err = sp.s.recordAt(p, hh, match)
			return !found && err == nil
		})
		if err == nil {
			err = scanErr
		}
		if err != nil || found {
			return offset, recordTimestamp, found, err
		}
	}
	return 0, 0, false, nil
}

// MaxTimestamp returns the offset and timestamp of the record with the
// largest timestamp (ListOffsets MAX_TIMESTAMP, KIP-734). found is false
// for an empty log.
func (l *Log) MaxTimestamp() (offset, timestamp int64, found bool, err error) {
	l.mu.Lock()
	var best *segment
	for _, s := range l.segments {
		if s.maxTimestampOffset >= 0 && s.maxTimestampOffset < l.readLimit &&
			(best == nil || s.maxTimestamp > best.maxTimestamp) {
			best = s
		}
	}
	if best == nil {
		l.mu.Unlock()
		return 0, 0, false, nil
	}
	sp := span{best, int64(best.ix.lookup(best.relative(best.maxTimestampOffset))), l.readableLocked(best)}
	target, ts := best.maxTimestampOffset, best.maxTimestamp
	l.mu.Unlock()

	pos, h, ok, err := sp.find(target)
	if err != nil || !ok {
		return 0, 0, false, err
	}
	offset, timestamp, found, err = sp.s.recordAt(pos, h, func(_, rts int64) bool { return rts == ts })
	if err == nil && !found {
		err = errors.New("batch max timestamp matched no record")
	}
	return offset, timestamp, found, err
}

// recordAt reads the batch at pos and returns the offset and timestamp of
// its first record matching match; found is false if none does.
// LogAppendTime batches stamp every record with the batch's max timestamp.
func (s *segment) recordAt(pos int64, h record.Header, match func(offset, timestamp int64) bool) (int64, int64, bool, error) {
	buf := make([]byte, h.Size())
	if _, err := s.file.ReadAt(buf, pos); err != nil {
		return 0, 0, false, fmt.Errorf("read %s at %d: %w", s.file.Name(), pos, err)
	}
	var offset, ts int64
	found := false
	err := record.Records(buf, decompressedBytesMax, func(r record.Record) bool {
		o, t := h.BaseOffset+int64(r.OffsetDelta), h.Timestamp(r)
		if match(o, t) {
			offset, ts, found = o, t, true
			return false
		}
		return true
	})
	if err != nil {
		return 0, 0, false, err
	}
	return offset, ts, found, nil
}
