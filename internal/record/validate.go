package record

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Validate checks one complete batch as a broker must before appending it:
// magic 2, batchLength equal to len(batch), the CRC-32C, at least one
// record, lastOffsetDelta equal to recordCount-1, and a codec Kafka
// defines. For an uncompressed batch it also walks every record, checking
// that the varint framing fills the records area exactly and that offset
// deltas run 0..n-1 in order. Compressed batches are stored as sent, so
// their records are not decompressed here; Records checks them when it
// reads them.
//
// Validate does not allocate unless it returns an error.
func Validate(batch []byte) (Header, error) { return validate(batch, true) }

// ValidateStored checks a batch read back from a log: what Validate checks,
// except that compaction may have removed records, so the count may be
// below lastOffsetDelta+1 (even zero: Kafka keeps an empty batch to carry
// a producer's last sequence) and offset deltas only need to increase.
func ValidateStored(batch []byte) (Header, error) { return validate(batch, false) }

// ValidateIntact checks only that batch is one whole batch as it was
// written: magic 2, batchLength equal to len(batch), and the CRC-32C. It
// fails with ErrTruncated when bytes are missing (a torn write), and with
// ErrCorrupt or ErrUnsupportedMagic when the bytes are damaged.
//
// It is what log recovery needs: the log ends at the first torn or
// CRC-invalid batch, and a batch whose CRC matches was written whole, so
// the rules that Validate and ValidateStored add on top (record counts,
// codecs, record framing) are not reasons to cut acknowledged data there.
// Validate, ValidateStored and ValidateProduce all begin with it.
func ValidateIntact(batch []byte) (Header, error) {
	h, err := ParseHeader(batch)
	if err != nil {
		return h, err
	}
	if size := h.Size(); size > len(batch) {
		return h, fmt.Errorf("%w: batchLength %d needs %d bytes, have %d", ErrTruncated, h.Length, size, len(batch))
	} else if size < len(batch) {
		return h, fmt.Errorf("%w: batchLength %d covers %d bytes, given %d", ErrCorrupt, h.Length, size, len(batch))
	}
	if computed := checksum(batch); computed != h.CRC {
		return h, fmt.Errorf("%w: crc 0x%08x computed, 0x%08x stored", ErrCorrupt, computed, h.CRC)
	}
	return h, nil
}

func validate(batch []byte, dense bool) (Header, error) {
	h, err := ValidateIntact(batch)
	if err != nil {
		return h, err
	}
	// Kafka's LogValidator.validateBatch rejects these as INVALID_RECORD,
	// including a negative count: the CRC matched, so the producer meant it.
	switch {
	case dense && h.NumRecords <= 0, h.NumRecords < 0:
		return h, fmt.Errorf("%w: recordCount %d", ErrInvalidRecord, h.NumRecords)
	case dense && h.LastOffsetDelta != h.NumRecords-1, h.LastOffsetDelta < h.NumRecords-1:
		return h, fmt.Errorf("%w: lastOffsetDelta %d with recordCount %d", ErrInvalidRecord, h.LastOffsetDelta, h.NumRecords)
	}
	if codec := h.Compression(); !codec.Known() {
		return h, fmt.Errorf("%w: unknown compression %v", ErrInvalidRecord, codec)
	}
	if h.Compression() == CodecNone {
		if err := checkRecords(batch[HeaderSize:], h.NumRecords, dense, h.LastOffsetDelta); err != nil {
			return h, err
		}
	}
	return h, nil
}

// ValidateProduce is Validate for a batch that arrives in a Produce
// request. Control batches (transaction markers) are written only by the
// broker's transaction coordinator, so a client that sends one is refused,
// as Kafka's LogValidator does for AppendOrigin.CLIENT.
func ValidateProduce(batch []byte) (Header, error) {
	h, err := Validate(batch)
	if err != nil {
		return h, err
	}
	if h.Control() {
		return h, fmt.Errorf("%w: clients may not write control batches", ErrInvalidRecord)
	}
	return h, nil
}

// Next splits b, zero or more concatenated batches as in a Produce request
// or a segment file, into its first batch and the rest. It frames by
// batchLength only; the caller validates the batch. Next returns io.EOF
// when b is empty, ErrTruncated when the length field or the batch it
// announces does not fit in b, and ErrCorrupt when batchLength is too small
// to hold a header (stepping by it would misframe everything after).
func Next(b []byte) (batch, rest []byte, err error) {
	if len(b) == 0 {
		return nil, nil, io.EOF
	}
	if len(b) < lengthFieldEnd {
		return nil, b, fmt.Errorf("%w: %d bytes, batch length field ends at %d", ErrTruncated, len(b), lengthFieldEnd)
	}
	length := int32(binary.BigEndian.Uint32(b[lengthAt:]))
	if length < lengthMin {
		return nil, b, fmt.Errorf("%w: batchLength %d, header alone needs %d", ErrCorrupt, length, lengthMin)
	}
	size := lengthFieldEnd + int(length)
	if size > len(b) {
		return nil, b, fmt.Errorf("%w: batchLength %d needs %d bytes, have %d", ErrTruncated, length, size, len(b))
	}
	return b[:size:size], b[size:], nil
}
