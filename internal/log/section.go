package log

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/vfs"
)

// Section is a run of whole record batches in one segment file: what a
// Fetch answers with, named by file and position instead of copied into
// memory, so the server can send it with sendfile(2).
//
// A Section holds its segment's file open: retention or compaction may
// delete the segment meanwhile, and the bytes stay readable (the file is
// unlinked, its data kept by the open descriptor) until every Section of
// it is released. Release each Section exactly once; the zero Section is
// empty and needs no release.
type Section struct {
	s    *segment // nil when empty
	f    vfs.File // s's .log file, held open until Release
	pos  int64
	size int64
}

// Len returns the section's size in bytes.
func (sec Section) Len() int { return int(sec.size) }

// File returns the segment file and the section's position in it, valid
// until Release, for sendfile(2). The file's own offset is shared by every
// reader: read it only at explicit positions (ReadAt, pread, sendfile with
// an offset). f is nil when the log's file system has no *os.File beneath
// (an error-injecting one in tests): copy with AppendTo then.
func (sec Section) File() (f *os.File, pos int64) {
	if sec.s == nil {
		return nil, 0
	}
	return sec.f.OSFile(), sec.pos
}

// AppendTo appends the section's bytes to dst: the copying path, for
// connections that cannot use sendfile and for the broker's own readers.
// The batch headers are checked again on the way out (stored data is
// checked twice); a file cut short or changed meanwhile is an error.
func (sec Section) AppendTo(dst []byte) ([]byte, error) {
	if sec.size == 0 {
		return dst, nil
	}
	start := len(dst)
	dst = slices.Grow(dst, int(sec.size))[:start+int(sec.size)]
	if _, err := sec.f.ReadAt(dst[start:], sec.pos); err != nil {
		return dst[:start], fmt.Errorf("read %s at %d: %w", sec.s.file.Name(), sec.pos, err)
	}
	if n := wholeBatches(dst[start:]); n != int(sec.size) {
		return dst[:start], fmt.Errorf("read %s at %d: %d of %d bytes are whole batches: %w",
			sec.s.file.Name(), sec.pos, n, sec.size, io.ErrUnexpectedEOF)
	}
	return dst, nil
}

// Release gives up the section's hold on its file.
func (sec Section) Release() {
	if sec.s != nil {
		sec.s.releaseFile()
	}
}

// fileHolders counts who keeps a segment's .log file open besides the
// log: the Sections not yet released. The log's own hold ends with
// dropFile, when the segment is closed or, once deleted, after
// log.segment.delete.delay.ms; the file is closed when both are gone.
type fileHolders struct {
	mu       sync.Mutex // guards the fields below
	sections int
	dropped  bool // the log no longer holds the file
}

// holdFile adds a Section's hold and returns the open .log file, which
// the file cache does not close before releaseFile: a Section in flight
// survives eviction. REQUIRES: the log's mu, with s still one of the log's
// segments, so the log's own hold cannot have ended.
func (s *segment) holdFile() (vfs.File, error) {
	f := s.file
	if cf, ok := s.file.(*cachedFile); ok {
		var err error
		if f, err = cf.acquire(); err != nil {
			return nil, fmt.Errorf("%w: %v", errLogFailed, err)
		}
	}
	s.holders.mu.Lock()
	defer s.holders.mu.Unlock()
	if s.holders.dropped {
		panic(fmt.Sprintf("log: section of segment %d taken after its file was dropped", s.baseOffset))
	}
	s.holders.sections++
	return f, nil
}

// releaseFile ends a Section's hold, closing the file if it was the last.
func (s *segment) releaseFile() {
	s.holders.mu.Lock()
	defer s.holders.mu.Unlock()
	s.holders.sections--
	if s.holders.sections < 0 {
		panic(fmt.Sprintf("log: section of segment %d released twice", s.baseOffset))
	}
	// The cache's hold ends only after the count is checked: a second
	// release must not take the active segment's pin away.
	if cf, ok := s.file.(*cachedFile); ok {
		cf.release()
	}
	if s.holders.sections == 0 && s.holders.dropped {
		s.file.Close()
	}
}

// dropFile ends the log's hold on the .log file: it is closed now, or by
// the last Section's release.
func (s *segment) dropFile() error {
	s.holders.mu.Lock()
	defer s.holders.mu.Unlock()
	if s.holders.dropped {
		return nil
	}
	s.holders.dropped = true
	if s.holders.sections > 0 {
		return nil
	}
	return s.file.Close()
}

// ReadSection is Read without the copy: it finds the whole batches Read
// would return, from the one holding offset, at most maxBytes of them (the
// first whole when minOne is set), and returns where they lie. Only batch
// headers are read, and checked, on the way. A read at or past the read
// limit (the high watermark) returns the empty Section.
func (l *Log) ReadSection(offset int64, maxBytes int, minOne bool) (Section, error) {
	return l.readSection(offset, maxBytes, minOne, false)
}

// ReadSectionToEnd is ReadSection bounded by the log end (every complete
// batch written), not by the read limit: what a follower's fetch reads. A
// read at the log end returns the empty Section.
func (l *Log) ReadSectionToEnd(offset int64, maxBytes int, minOne bool) (Section, error) {
	return l.readSection(offset, maxBytes, minOne, true)
}

// readSection is ReadSection, bounded by the log end when toEnd is set.
func (l *Log) readSection(offset int64, maxBytes int, minOne, toEnd bool) (Section, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return Section{}, ErrClosed
	}
	end := l.activeLocked().nextOffset
	if offset < l.logStartOffset || offset > end {
		l.mu.Unlock()
		return Section{}, ErrOffsetOutOfRange
	}
	bound := l.readLimit
	if toEnd {
		bound = end
	}
	if offset >= bound {
		l.mu.Unlock()
		return Section{}, nil
	}
	// The segment holding offset has it, unless offset lies past its last
	// batch (compaction leaves such gaps); then the next segment's first
	// batch, whose offsets are past its base offset, does.
	spans := l.spansLocked(offset, 2, toEnd)
	handles := make([]vfs.File, len(spans))
	for i, sp := range spans {
		f, err := sp.s.holdFile()
		if err != nil {
			for _, held := range spans[:i] {
				held.s.releaseFile()
			}
			l.mu.Unlock()
			return Section{}, err
		}
		handles[i] = f
	}
	l.mu.Unlock()

	var sec Section
	var err error
	done := false
	for i, sp := range spans {
		if done {
			sp.s.releaseFile()
			continue
		}
		var found bool
		sec, found, err = sp.section(offset, maxBytes, minOne)
		if sec.s != nil {
			sec.f = handles[i]
		}
		// Not found means offset fell in a gap at the end of this segment:
		// look in the next.
		done = found || err != nil
		if sec.size == 0 {
			sp.s.releaseFile()
		}
	}
	return sec, err
}

// headerReadBytes is how much one read pulls in while walking the batch
// headers of a section: enough for a run of small batches; a large batch's
// header is read alone.
const headerReadBytes = 4 << 10

var headerBuffers = sync.Pool{New: func() any { return new([headerReadBytes]byte) }}

// section returns the batches from the first whose last offset is >=
// offset, as ReadSection describes. found is false when no batch of the
// span reaches offset.
func (sp span) section(offset int64, maxBytes int, minOne bool) (sec Section, found bool, err error) {
	buf := headerBuffers.Get().(*[headerReadBytes]byte)
	defer headerBuffers.Put(buf)
	w := headerWalker{s: sp.s, pos: sp.start, limit: sp.stop, buf: buf[:]}
	var first record.Header
	for {
		h, ok, err := w.next()
		if err != nil || !ok {
			return Section{}, false, err
		}
		if h.LastOffset() >= offset {
			first = h
			break
		}
		w.skip(h)
	}
	start := w.pos
	want := min(int64(maxBytes), sp.stop-start)
	if int64(first.Size()) > want {
		if !minOne {
			return Section{}, true, nil
		}
		want = int64(first.Size())
	}
	w.skip(first)
	for w.pos < start+want {
		// A header that does not parse ends the section before it; the
		// fetch that starts there reports it.
		h, ok, err := w.next()
		if err != nil || !ok || w.pos+int64(h.Size()) > start+want {
			break
		}
		w.skip(h)
	}
	return Section{s: sp.s, f: sp.s.file, pos: start, size: w.pos - start}, true, nil
}

// headerWalker reads the batch headers of a segment between pos and limit,
// buffering a chunk so runs of small batches cost one read.
type headerWalker struct {
	s          *segment
	pos, limit int64
	buf        []byte
	chunk      []byte // bytes read from chunkAt
	chunkAt    int64
	lastSize   int // size of the last batch skipped
}

// next parses the header at pos. ok is false at limit.
func (w *headerWalker) next() (h record.Header, ok bool, err error) {
	if w.pos >= w.limit {
		return record.Header{}, false, nil
	}
	if w.limit-w.pos < record.HeaderSize {
		return record.Header{}, false, fmt.Errorf("header at %d of %s runs past %d: %w", w.pos, w.s.file.Name(), w.limit, io.ErrUnexpectedEOF)
	}
	at := w.pos - w.chunkAt
	if w.chunk == nil || at < 0 || at+record.HeaderSize > int64(len(w.chunk)) {
		// A batch larger than the buffer is followed by large ones more
		// often than not: read its successor's header alone rather than
		// copy kilobytes of records that sendfile will send.
		n := min(int64(len(w.buf)), w.limit-w.pos)
		if w.lastSize > len(w.buf) {
			n = record.HeaderSize
		}
		read, err := w.s.file.ReadAt(w.buf[:n], w.pos)
		if read < record.HeaderSize {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return record.Header{}, false, fmt.Errorf("read header at %d of %s: %w", w.pos, w.s.file.Name(), err)
		}
		w.chunk, w.chunkAt, at = w.buf[:read], w.pos, 0
	}
	h, err = record.ParseHeader(w.chunk[at:])
	if err != nil {
		return record.Header{}, false, fmt.Errorf("header at %d of %s: %w", w.pos, w.s.file.Name(), err)
	}
	if w.pos+int64(h.Size()) > w.limit {
		return record.Header{}, false, fmt.Errorf("batch at %d of %s runs past %d: %w", w.pos, w.s.file.Name(), w.limit, io.ErrUnexpectedEOF)
	}
	return h, true, nil
}

// skip moves past the batch whose header next returned.
func (w *headerWalker) skip(h record.Header) {
	w.pos += int64(h.Size())
	w.lastSize = h.Size()
}
