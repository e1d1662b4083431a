package record

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// HeaderSize is the size of the RecordBatch v2 header; the records follow.
const HeaderSize = 61

// Byte offsets of the header fields; see the package documentation.
const (
	baseOffsetAt           = 0
	lengthAt               = 8
	partitionLeaderEpochAt = 12
	magicAt                = 16
	crcAt                  = 17
	attributesAt           = 21 // first byte covered by the CRC
	lastOffsetDeltaAt      = 23
	baseTimestampAt        = 27
	maxTimestampAt         = 35
	producerIDAt           = 43
	producerEpochAt        = 51
	baseSequenceAt         = 53
	numRecordsAt           = 57

	// lengthFieldEnd is where batchLength starts counting: a batch is
	// lengthFieldEnd+Length bytes long.
	lengthFieldEnd = lengthAt + 4

	// lengthMin is the smallest batchLength that still holds the header.
	lengthMin = HeaderSize - lengthFieldEnd
)

// Magic is the only batch format this package reads.
const Magic = 2

// Attribute bits; see the package documentation.
const (
	codecMask         = 0x07
	logAppendTimeFlag = 0x08
	transactionalFlag = 0x10
	controlFlag       = 0x20
)

// The values Kafka's RecordBatch stores when a field does not apply: a
// batch from a producer without idempotence has no producer id, epoch or
// sequence (NO_PRODUCER_ID, NO_PRODUCER_EPOCH, NO_SEQUENCE), and a batch
// the leader has not stamped yet has no leader epoch
// (NO_PARTITION_LEADER_EPOCH).
const (
	NoProducerID           = -1
	NoProducerEpoch        = -1
	NoSequence             = -1
	NoPartitionLeaderEpoch = -1
)

// castagnoli is the CRC-32C table; crc32 uses the SSE4.2/ARMv8 instruction
// when the table is Castagnoli, which keeps Validate cheap.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is a decoded RecordBatch v2 header. Field names follow Kafka's
// DefaultRecordBatch; Length is batchLength, NumRecords is recordCount.
type Header struct {
	BaseOffset           int64
	Length               int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// ParseHeader decodes the header at the start of b. It checks only what is
// needed to frame the batch, magic and a batchLength that holds the header;
// Validate checks the rest. b may be longer than one batch.
func ParseHeader(b []byte) (Header, error) {
	// Magic sits at the same offset in v0/v1 message sets, whose messages
	// can be shorter than our header: look at it first so that an old
	// client hears "unsupported format" rather than "truncated".
	if len(b) <= magicAt {
		return Header{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrTruncated, len(b), HeaderSize)
	}
	if magic := int8(b[magicAt]); magic != Magic {
		return Header{}, fmt.Errorf("%w: magic %d, want %d", ErrUnsupportedMagic, magic, Magic)
	}
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrTruncated, len(b), HeaderSize)
	}
	h := headerFields(b)
	if h.Length < lengthMin {
		return h, fmt.Errorf("%w: batchLength %d, header alone needs %d", ErrCorrupt, h.Length, lengthMin)
	}
	return h, nil
}

// headerFields decodes the header fields of b without checking them; b
// holds at least HeaderSize bytes.
func headerFields(b []byte) Header {
	return Header{
		BaseOffset:           int64(binary.BigEndian.Uint64(b[baseOffsetAt:])),
		Length:               int32(binary.BigEndian.Uint32(b[lengthAt:])),
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(b[partitionLeaderEpochAt:])),
		Magic:                int8(b[magicAt]),
		CRC:                  binary.BigEndian.Uint32(b[crcAt:]),
		Attributes:           int16(binary.BigEndian.Uint16(b[attributesAt:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(b[lastOffsetDeltaAt:])),
		BaseTimestamp:        int64(binary.BigEndian.Uint64(b[baseTimestampAt:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(b[maxTimestampAt:])),
		ProducerID:           int64(binary.BigEndian.Uint64(b[producerIDAt:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(b[producerEpochAt:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(b[baseSequenceAt:])),
		NumRecords:           int32(binary.BigEndian.Uint32(b[numRecordsAt:])),
	}
}

// Size is the number of bytes of the whole batch, header included.
func (h Header) Size() int { return lengthFieldEnd + int(h.Length) }

// LastOffset is the offset of the batch's last record.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset the record after this batch gets.
func (h Header) NextOffset() int64 { return h.LastOffset() + 1 }

// Compression is the codec the records area is compressed with.
func (h Header) Compression() Codec { return Codec(h.Attributes & codecMask) }

// LogAppendTime reports whether record timestamps are the broker's append
// time (maxTimestamp) rather than the producer's create times.
func (h Header) LogAppendTime() bool { return h.Attributes&logAppendTimeFlag != 0 }

// Transactional reports whether the batch belongs to a transaction.
func (h Header) Transactional() bool { return h.Attributes&transactionalFlag != 0 }

// Control reports whether the batch holds control records (transaction
// markers) rather than user data.
func (h Header) Control() bool { return h.Attributes&controlFlag != 0 }

// Timestamp is the timestamp of record r of this batch: maxTimestamp for
// LogAppendTime batches, where Kafka ignores the per-record deltas, and
// baseTimestamp plus the delta otherwise.
func (h Header) Timestamp(r Record) int64 {
	if h.LogAppendTime() {
		return h.MaxTimestamp
	}
	return h.BaseTimestamp + r.TimestampDelta
}

// LastSequence is the producer sequence number of the batch's last record.
// Sequences wrap from MaxInt32 to 0, so this follows Kafka's
// DefaultRecordBatch.incrementSequence rather than plain addition; a batch
// without a sequence stays at NoSequence.
func (h Header) LastSequence() int32 {
	if h.BaseSequence == NoSequence {
		return NoSequence
	}
	return IncrementSequence(h.BaseSequence, h.LastOffsetDelta)
}

// IncrementSequence adds increment to a producer sequence number, wrapping
// past MaxInt32 to 0 as Kafka does.
func IncrementSequence(sequence, increment int32) int32 {
	// int64 so that neither the test nor the sum can overflow.
	if int64(sequence) > math.MaxInt32-int64(increment) {
		return int32(int64(increment) - (math.MaxInt32 - int64(sequence)) - 1)
	}
	return sequence + increment
}

// Codec is the compression codec of a batch, attributes bits 0-2.
type Codec int8

// The codecs Kafka defines; 5-7 are unassigned.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

// Known reports whether c is a codec Kafka defines.
func (c Codec) Known() bool { return c >= CodecNone && c <= CodecZstd }

// String is the codec's name as in Kafka's compression.type config.
func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	default:
		return fmt.Sprintf("codec(%d)", int8(c))
	}
}

// SetBaseOffset stamps the offset the leader assigned to the batch's first
// record. baseOffset is outside the CRC, so the batch stays valid. The
// batch must have passed Validate; a short slice panics.
func SetBaseOffset(batch []byte, offset int64) {
	binary.BigEndian.PutUint64(batch[baseOffsetAt:], uint64(offset))
}

// SetPartitionLeaderEpoch stamps the leader epoch the batch was appended
// in, which OffsetForLeaderEpoch truncation relies on. It is outside the
// CRC. The batch must have passed Validate; a short slice panics.
func SetPartitionLeaderEpoch(batch []byte, epoch int32) {
	binary.BigEndian.PutUint32(batch[partitionLeaderEpochAt:], uint32(epoch))
}

// SetLogAppendTime marks the batch's timestamps as the broker's append time
// ts (milliseconds), as a topic with message.timestamp.type=LogAppendTime
// requires. Both the attributes and maxTimestamp are covered by the CRC, so
// it is recomputed, as Kafka's DefaultRecordBatch.setMaxTimestamp does. It
// returns the batch's header as it now reads, so a caller that holds the
// Header from Validate replaces it rather than setting the bits by hand.
// The batch must be whole and have passed Validate; a short slice panics.
func SetLogAppendTime(batch []byte, ts int64) Header {
	attributes := binary.BigEndian.Uint16(batch[attributesAt:]) | logAppendTimeFlag
	binary.BigEndian.PutUint16(batch[attributesAt:], attributes)
	binary.BigEndian.PutUint64(batch[maxTimestampAt:], uint64(ts))
	binary.BigEndian.PutUint32(batch[crcAt:], checksum(batch))
	return headerFields(batch)
}

// checksum is the CRC-32C of the part of batch that the crc field covers.
func checksum(batch []byte) uint32 {
	return crc32.Checksum(batch[attributesAt:], castagnoli)
}

// Checksum is the CRC-32C that batch's crc field must hold: of the bytes
// from the attributes to the end. A slice shorter than a batch header
// panics.
func Checksum(batch []byte) uint32 { return checksum(batch) }

// SetChecksum recomputes the crc field after the bytes it covers were
// changed (tests that build or corrupt batches by hand use it; the broker
// changes covered bytes only through the setters above). A slice shorter
// than a batch header panics.
func SetChecksum(batch []byte) {
	binary.BigEndian.PutUint32(batch[crcAt:], checksum(batch))
}
