package record

import "fmt"

// The smallest encodings: a record body is attributes, timestampDelta,
// offsetDelta, keyLength, valueLength and headerCount, one byte each at
// least, and its length varint adds one more; a header is a key length and
// a value length. Counts are checked against these before any loop runs,
// so a hostile count is refused at once rather than after a long walk.
const (
	recordBodySizeMin = 6
	recordSizeMin     = 1 + recordBodySizeMin
	headerSizeMin     = 2
)

// recordView is one record as it lies in the records area; key, value and
// headers alias that area.
type recordView struct {
	attributes     int8
	timestampDelta int64
	offsetDelta    int32
	key, value     []byte // nil when null
	headerCount    int32
	headers        []byte // headerCount framed headers, already checked
}

// checkRecords walks the n records that must fill records exactly, checking
// framing and offset deltas: with dense they run 0..n-1, as a producer
// writes them; otherwise (a batch compaction rebuilt) they increase and
// stay within 0..lastOffsetDelta. It does not allocate unless it returns an
// error.
func checkRecords(records []byte, n int32, dense bool, lastOffsetDelta int32) error {
	if int64(n) > int64(len(records)/recordSizeMin) {
		return fmt.Errorf("%w: recordCount %d cannot fit in %d bytes of records", ErrCorrupt, n, len(records))
	}
	size := len(records)
	prev := int32(-1)
	for i := range n {
		r, rest, err := nextRecord(records)
		if err != nil {
			return fmt.Errorf("record %d at records byte %d: %w", i, size-len(records), err)
		}
		if dense && r.offsetDelta != i || !dense && (r.offsetDelta <= prev || r.offsetDelta > lastOffsetDelta) {
			return fmt.Errorf("%w: record %d has offsetDelta %d", ErrInvalidRecord, i, r.offsetDelta)
		}
		prev = r.offsetDelta
		records = rest
	}
	if len(records) != 0 {
		return fmt.Errorf("%w: %d bytes after the last of %d records", ErrCorrupt, len(records), n)
	}
	return nil
}

// nextRecord decodes the record at the start of b and returns it with the
// bytes after it. The record's length varint must frame its fields exactly.
func nextRecord(b []byte) (r recordView, rest []byte, err error) {
	length, n := readVarint(b)
	if n == 0 {
		return r, nil, fmt.Errorf("%w: bad length varint", ErrCorrupt)
	}
	if length < recordBodySizeMin || int(length) > len(b)-n {
		return r, nil, fmt.Errorf("%w: record length %d with %d bytes left", ErrCorrupt, length, len(b)-n)
	}
	body := b[n : n+int(length)]
	rest = b[n+int(length):]

	r.attributes = int8(body[0])
	body = body[1:]
	if r.timestampDelta, n = readVarlong(body); n == 0 {
		return r, nil, fmt.Errorf("%w: bad timestampDelta varlong", ErrCorrupt)
	}
	body = body[n:]
	if r.offsetDelta, n = readVarint(body); n == 0 {
		return r, nil, fmt.Errorf("%w: bad offsetDelta varint", ErrCorrupt)
	}
	body = body[n:]
	var ok bool
	if r.key, body, ok = readBytes(body); !ok {
		return r, nil, fmt.Errorf("%w: bad key framing", ErrCorrupt)
	}
	if r.value, body, ok = readBytes(body); !ok {
		return r, nil, fmt.Errorf("%w: bad value framing", ErrCorrupt)
	}
	if r.headerCount, n = readVarint(body); n == 0 {
		return r, nil, fmt.Errorf("%w: bad headerCount varint", ErrCorrupt)
	}
	body = body[n:]
	if r.headerCount < 0 || int(r.headerCount) > len(body)/headerSizeMin {
		return r, nil, fmt.Errorf("%w: headerCount %d with %d bytes left", ErrCorrupt, r.headerCount, len(body))
	}
	r.headers = body
	for i := range r.headerCount {
		if _, _, body, err = nextHeader(body); err != nil {
			return r, nil, fmt.Errorf("header %d: %w", i, err)
		}
	}
	if len(body) != 0 {
		return r, nil, fmt.Errorf("%w: %d bytes left in record after its headers", ErrCorrupt, len(body))
	}
	return r, rest, nil
}

// nextHeader decodes the record header at the start of b.
func nextHeader(b []byte) (key, value, rest []byte, err error) {
	keyLength, n := readVarint(b)
	if n == 0 {
		return nil, nil, nil, fmt.Errorf("%w: bad key length varint", ErrCorrupt)
	}
	// A header key is a Java String that may not be null; Kafka's
	// DefaultRecord.readHeaders refuses it as an invalid record.
	if keyLength == -1 {
		return nil, nil, nil, fmt.Errorf("%w: null header key", ErrInvalidRecord)
	}
	if key, rest, ok := readBytes(b); ok {
		if value, rest, ok = readBytes(rest); ok {
			return key, value, rest, nil
		}
		return nil, nil, nil, fmt.Errorf("%w: bad value framing", ErrCorrupt)
	}
	return nil, nil, nil, fmt.Errorf("%w: bad key framing", ErrCorrupt)
}

// readBytes decodes a varint length and that many bytes, -1 meaning null.
// The field is capped at its length so that appending to it cannot write
// over the bytes after it.
func readBytes(b []byte) (field, rest []byte, ok bool) {
	length, n := readVarint(b)
	switch {
	case n == 0 || length < -1 || int(length) > len(b)-n:
		return nil, nil, false
	case length == -1:
		return nil, b[n:], true
	default:
		end := n + int(length)
		return b[n:end:end], b[end:], true
	}
}
