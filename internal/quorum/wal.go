package quorum

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-dev/sluice/internal/fsutil"
)

const (
	walFileName      = "wal"
	snapshotFileName = "snapshot"

	// walPendingKeepBytesMax bounds the encode buffer kept between Readies,
	// so one large batch does not pin its memory for the life of the node.
	walPendingKeepBytesMax = 1 << 20
)

// errWALInvalid marks a frame that decoded but does not fit the log before
// it. CRC-valid frames like that come only from a bug or a disk that lies,
// and are treated like a torn frame: the log ends before them.
var errWALInvalid = errors.New("frame does not fit the log")

// walContents is a WAL file replayed into memory.
//
// Invariants: header is non-nil whenever hardState or entries are set;
// entries are contiguous and entries[0].Index == header.Index+1; entry
// terms never decrease and none is below header.Term; hardState term and
// commit never decrease; no entry at or below hardState.Commit was replaced
// by one with another term.
type walContents struct {
	header    *raftpb.SnapshotMetadata
	hardState *raftpb.HardState
	entries   []*raftpb.Entry
	frames    int
}

// lastIndex is the index of the last entry, or the header's index when the
// WAL holds no entries.
func (w *walContents) lastIndex() uint64 {
	return w.header.GetIndex() + uint64(len(w.entries))
}

// termAt returns the term of the entry at index i, or false if the WAL
// does not hold it.
func (w *walContents) termAt(i uint64) (uint64, bool) {
	if w.header == nil || i < w.header.GetIndex() || i > w.lastIndex() {
		return 0, false
	}
	if i == w.header.GetIndex() {
		return w.header.GetTerm(), true
	}
	return w.entries[i-w.header.GetIndex()-1].GetTerm(), true
}

// readWAL replays the frames of a WAL of size bytes until its end or the
// first frame that is torn, corrupt or does not fit. It returns what was
// replayed, the offset where the good frames end, and why reading stopped
// early (nil when the whole stream was good).
func readWAL(r io.Reader, size int64) (walContents, int64, error) {
	var w walContents
	fr := newFrameReader(r, size, walFrameBytesMax)
	for {
		typ, payload, err := fr.next()
		if err == io.EOF {
			return w, fr.offset, nil
		}
		if err == nil {
			err = w.add(typ, payload)
		}
		if err != nil {
			return w, w.goodOffset(fr, err), fmt.Errorf("frame %d at byte %d: %w", w.frames, w.goodOffset(fr, err), err)
		}
		w.frames++
	}
}

// goodOffset is where the good frames end: a frame that was read whole but
// rejected by add has already been counted in fr.offset.
func (w *walContents) goodOffset(fr *frameReader, err error) int64 {
	if errors.Is(err, errWALInvalid) {
		return fr.lastStart
	}
	return fr.offset
}

// add applies one frame to w, or returns an error wrapping errWALInvalid
// and leaves w unchanged.
func (w *walContents) add(typ frameType, payload []byte) error {
	if w.frames == 0 && typ != frameSnapshotMeta {
		return fmt.Errorf("%w: first frame is %v, not the snapshotMeta header", errWALInvalid, typ)
	}
	switch typ {
	case frameSnapshotMeta:
		if w.frames != 0 {
			return fmt.Errorf("%w: snapshotMeta after the header", errWALInvalid)
		}
		header := &raftpb.SnapshotMetadata{}
		if err := proto.Unmarshal(payload, header); err != nil {
			return fmt.Errorf("%w: %w", errWALInvalid, err)
		}
		w.header = header
		return nil
	case frameHardState:
		return w.addHardState(payload)
	case frameEntry:
		return w.addEntry(payload)
	}
	return fmt.Errorf("%w: unknown frame type %v", errWALInvalid, typ)
}

func (w *walContents) addHardState(payload []byte) error {
	hs := &raftpb.HardState{}
	if err := proto.Unmarshal(payload, hs); err != nil {
		return fmt.Errorf("%w: %w", errWALInvalid, err)
	}
	// raft never lowers its term or commit index; a frame that does is not
	// one we wrote.
	if hs.GetTerm() < w.hardState.GetTerm() || hs.GetCommit() < w.hardState.GetCommit() {
		return fmt.Errorf("%w: hard state term %d commit %d goes back from term %d commit %d",
			errWALInvalid, hs.GetTerm(), hs.GetCommit(), w.hardState.GetTerm(), w.hardState.GetCommit())
	}
	w.hardState = hs
	return nil
}

func (w *walContents) addEntry(payload []byte) error {
	e := &raftpb.Entry{}
	if err := proto.Unmarshal(payload, e); err != nil {
		return fmt.Errorf("%w: %w", errWALInvalid, err)
	}
	index, first, last := e.GetIndex(), w.header.GetIndex()+1, w.lastIndex()
	if index < first || index > last+1 {
		return fmt.Errorf("%w: entry index %d outside [%d, %d]", errWALInvalid, index, first, last+1)
	}
	prevTerm, _ := w.termAt(index - 1)
	if e.GetTerm() == 0 || e.GetTerm() < prevTerm {
		return fmt.Errorf("%w: entry %d has term %d after term %d", errWALInvalid, index, e.GetTerm(), prevTerm)
	}
	if index <= last {
		// A new leader overwrote an uncommitted tail. A committed entry can
		// only be written again unchanged.
		oldTerm, _ := w.termAt(index)
		if index <= w.hardState.GetCommit() && oldTerm != e.GetTerm() {
			return fmt.Errorf("%w: entry %d replaced below commit %d", errWALInvalid, index, w.hardState.GetCommit())
		}
		w.entries = w.entries[:index-first]
	}
	w.entries = append(w.entries, e)
	return nil
}

// encodeWAL encodes a whole WAL: header, hard state, entries.
func encodeWAL(w *walContents) ([]byte, error) {
	buf, err := appendFrame(nil, frameSnapshotMeta, w.header)
	if err != nil {
		return nil, err
	}
	if w.hardState != nil {
		if buf, err = appendFrame(buf, frameHardState, w.hardState); err != nil {
			return nil, err
		}
	}
	for _, e := range w.entries {
		if buf, err = appendFrame(buf, frameEntry, e); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// walWriter appends frames to the open WAL file. Frames are encoded into
// pending and reach the file only in flush, once per Ready.
type walWriter struct {
	path    string
	file    *os.File
	pending []byte
}

// createWAL replaces the WAL in dir atomically with w's contents and opens
// it for appending.
func createWAL(dir string, w *walContents) (*walWriter, error) {
	data, err := encodeWAL(w)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, walFileName)
	if err := fsutil.WriteFileSync(path, data); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return openWALForAppend(path)
}

func openWALForAppend(path string) (*walWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &walWriter{path: path, file: f}, nil
}

func (ww *walWriter) add(typ frameType, m proto.Message) error {
	var err error
	ww.pending, err = appendFrame(ww.pending, typ, m)
	return err
}

// flush writes the pending frames and, when sync is set, fsyncs them.
func (ww *walWriter) flush(sync bool) error {
	if len(ww.pending) > 0 {
		if _, err := ww.file.Write(ww.pending); err != nil {
			return fmt.Errorf("append to %s: %w", ww.path, err)
		}
	}
	if cap(ww.pending) > walPendingKeepBytesMax {
		ww.pending = nil
	}
	ww.pending = ww.pending[:0]
	if !sync {
		return nil
	}
	if err := ww.file.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", ww.path, err)
	}
	return nil
}

// close fsyncs and closes the file; frames not yet flushed are dropped, as
// a crash would drop them.
func (ww *walWriter) close() error {
	if ww == nil || ww.file == nil {
		return nil
	}
	err := ww.file.Sync()
	if cerr := ww.file.Close(); err == nil {
		err = cerr
	}
	ww.file = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", ww.path, err)
	}
	return nil
}
