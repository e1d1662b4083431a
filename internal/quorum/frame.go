package quorum

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"google.golang.org/protobuf/proto"
)

// frameType says what a frame's payload is. The values are on disk: never
// renumber them.
type frameType byte

const (
	frameEntry        frameType = 1 // raftpb.Entry
	frameHardState    frameType = 2 // raftpb.HardState
	frameSnapshotMeta frameType = 3 // raftpb.SnapshotMetadata: the WAL header
	frameSnapshot     frameType = 4 // raftpb.Snapshot: the snapshot file
)

func (t frameType) String() string {
	switch t {
	case frameEntry:
		return "entry"
	case frameHardState:
		return "hardState"
	case frameSnapshotMeta:
		return "snapshotMeta"
	case frameSnapshot:
		return "snapshot"
	}
	return fmt.Sprintf("frameType(%d)", byte(t))
}

const (
	// frameHeaderBytes is length (4) + crc32c (4) + type (1).
	frameHeaderBytes = 9
	// walFrameBytesMax bounds one WAL frame's payload. An entry arrives in a
	// message of at most requestBytesMax, so no legitimate entry is larger;
	// a bigger length read back from disk is garbage, not a reason to
	// allocate.
	walFrameBytesMax = requestBytesMax
	// snapshotFileBytesMax bounds the snapshot file read at start-up.
	snapshotFileBytesMax = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Reasons a frame ends the readable log.
var (
	errFrameTorn     = errors.New("torn frame")
	errFrameTooLarge = errors.New("frame length over limit")
	errFrameCRC      = errors.New("frame CRC mismatch")
)

// appendFrame appends one encoded frame holding m to dst. The limit is
// checked on write as well as on read, so that nothing is written that the
// loader would later throw away as garbage.
func appendFrame(dst []byte, typ frameType, m proto.Message) ([]byte, error) {
	payload, err := proto.Marshal(m)
	if err != nil {
		return dst, fmt.Errorf("marshal %v frame: %w", typ, err)
	}
	max := int64(walFrameBytesMax)
	if typ == frameSnapshot {
		max = snapshotFileBytesMax
	}
	if int64(len(payload)) > max {
		return dst, fmt.Errorf("%v frame of %d bytes is over the %d-byte limit", typ, len(payload), max)
	}
	return appendFrameBytes(dst, typ, payload), nil
}

// appendFrameBytes appends one frame holding payload as it is.
func appendFrameBytes(dst []byte, typ frameType, payload []byte) []byte {
	var header [frameHeaderBytes]byte
	binary.BigEndian.PutUint32(header[0:4], uint32(len(payload)))
	header[8] = byte(typ)
	crc := crc32.Update(0, castagnoli, header[8:9])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.BigEndian.PutUint32(header[4:8], crc)
	dst = append(dst, header[:]...)
	return append(dst, payload...)
}

// frameReader reads frames from a stream whose size is known, so that a
// garbage length is rejected before anything is allocated for it.
type frameReader struct {
	r         *bufio.Reader
	remaining int64 // bytes not yet consumed
	offset    int64 // bytes consumed: the end of the last good frame
	lastStart int64 // where the last frame returned by next began
	max       int64 // largest payload accepted
}

func newFrameReader(r io.Reader, size, max int64) *frameReader {
	return &frameReader{r: bufio.NewReader(r), remaining: size, max: max}
}

// next returns the next frame. io.EOF means the stream ended exactly at a
// frame boundary; any other error means the stream is unreadable from
// fr.offset on.
func (fr *frameReader) next() (frameType, []byte, error) {
	if fr.remaining == 0 {
		return 0, nil, io.EOF
	}
	if fr.remaining < frameHeaderBytes {
		return 0, nil, fmt.Errorf("%w: %d header bytes of %d", errFrameTorn, fr.remaining, frameHeaderBytes)
	}
	var header [frameHeaderBytes]byte
	if _, err := io.ReadFull(fr.r, header[:]); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errFrameTorn, err)
	}
	length := int64(binary.BigEndian.Uint32(header[0:4]))
	if length > fr.max {
		return 0, nil, fmt.Errorf("%w: %d bytes, limit %d", errFrameTooLarge, length, fr.max)
	}
	if length > fr.remaining-frameHeaderBytes {
		return 0, nil, fmt.Errorf("%w: %d payload bytes of %d", errFrameTorn, fr.remaining-frameHeaderBytes, length)
	}
	payload := make([]byte, length)
	if _, err := io.ReadFull(fr.r, payload); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errFrameTorn, err)
	}
	crc := crc32.Update(0, castagnoli, header[8:9])
	crc = crc32.Update(crc, castagnoli, payload)
	if crc != binary.BigEndian.Uint32(header[4:8]) {
		return 0, nil, errFrameCRC
	}
	fr.remaining -= frameHeaderBytes + length
	fr.lastStart = fr.offset
	fr.offset += frameHeaderBytes + length
	return frameType(header[8]), payload, nil
}
