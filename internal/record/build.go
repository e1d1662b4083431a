package record

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Build encodes records into a RecordBatch v2. The header fields of h are
// kept (base offset, partition leader epoch, last offset delta, producer
// id, epoch and base sequence, timestamp type, transactional and control
// bits); the codec becomes codec, and the record count, max timestamp,
// length and CRC are computed. Records keep their offset and timestamp
// deltas relative to h, so a batch rebuilt from some of its records (by
// compaction) or re-encoded with another codec (a topic's
// compression.type) keeps every record's offset and timestamp.
// maxTimestamp is the batch's max timestamp to store: for CreateTime the
// caller passes the largest record timestamp, for LogAppendTime the append
// time.
func Build(h Header, records []Record, codec Codec, maxTimestamp int64) ([]byte, error) {
	if !codec.Known() {
		return nil, fmt.Errorf("%w: codec %d", ErrInvalidRecord, codec)
	}
	raw := appendRecords(nil, records)
	body := raw
	if codec != CodecNone {
		c, err := kgo.DefaultCompressor(codecOption(codec))
		if err != nil {
			return nil, fmt.Errorf("build %v batch: %w", codec, err)
		}
		var buf bytes.Buffer
		out, _ := c.Compress(&buf, raw)
		body = append([]byte(nil), out...)
	}
	return seal(h, body, len(records), codec, maxTimestamp), nil
}

// BuildUncompressed is Build without compression, which cannot fail: for
// the batches the broker writes itself (the group coordinator's offsets
// and group metadata, transaction markers), so that every batch the broker
// writes is framed and checksummed here.
func BuildUncompressed(h Header, records []Record, maxTimestamp int64) []byte {
	return seal(h, appendRecords(nil, records), len(records), CodecNone, maxTimestamp)
}

// seal writes the header of h in front of a records area of n records
// encoded with codec, then the length and CRC that cover them.
func seal(h Header, body []byte, n int, codec Codec, maxTimestamp int64) []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(body))
	binary.BigEndian.PutUint64(b[baseOffsetAt:], uint64(h.BaseOffset))
	binary.BigEndian.PutUint32(b[lengthAt:], uint32(HeaderSize-lengthFieldEnd+len(body)))
	binary.BigEndian.PutUint32(b[partitionLeaderEpochAt:], uint32(h.PartitionLeaderEpoch))
	b[magicAt] = Magic
	attrs := h.Attributes&^codecMask | int16(codec)
	binary.BigEndian.PutUint16(b[attributesAt:], uint16(attrs))
	binary.BigEndian.PutUint32(b[lastOffsetDeltaAt:], uint32(h.LastOffsetDelta))
	binary.BigEndian.PutUint64(b[baseTimestampAt:], uint64(h.BaseTimestamp))
	binary.BigEndian.PutUint64(b[maxTimestampAt:], uint64(maxTimestamp))
	binary.BigEndian.PutUint64(b[producerIDAt:], uint64(h.ProducerID))
	binary.BigEndian.PutUint16(b[producerEpochAt:], uint16(h.ProducerEpoch))
	binary.BigEndian.PutUint32(b[baseSequenceAt:], uint32(h.BaseSequence))
	binary.BigEndian.PutUint32(b[numRecordsAt:], uint32(n))
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[crcAt:], checksum(b))
	return b
}

func codecOption(c Codec) kgo.CompressionCodec {
	switch c {
	case CodecGzip:
		return kgo.GzipCompression()
	case CodecSnappy:
		return kgo.SnappyCompression()
	case CodecLZ4:
		return kgo.Lz4Compression()
	case CodecZstd:
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

// appendRecords encodes records one after the other, as a records area.
func appendRecords(dst []byte, records []Record) []byte {
	for _, r := range records {
		dst = appendRecord(dst, r)
	}
	return dst
}

// appendRecord encodes one record: length, attributes, timestamp and offset
// deltas, key, value and headers, with Kafka's zigzag varints.
func appendRecord(dst []byte, r Record) []byte {
	var body []byte
	body = append(body, byte(r.Attributes))
	body = binary.AppendVarint(body, r.TimestampDelta)
	body = binary.AppendVarint(body, int64(r.OffsetDelta))
	body = appendVarBytes(body, r.Key)
	body = appendVarBytes(body, r.Value)
	body = binary.AppendVarint(body, int64(len(r.Headers)))
	for _, h := range r.Headers {
		body = appendVarBytes(body, []byte(h.Key))
		body = appendVarBytes(body, h.Value)
	}
	dst = binary.AppendVarint(dst, int64(len(body)))
	return append(dst, body...)
}

// appendVarBytes writes a varint length (-1 for nil) and the bytes.
func appendVarBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}
