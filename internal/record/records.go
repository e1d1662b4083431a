package record

import "fmt"

// Record is one record of a batch. Key and Value are nil when null and,
// like header values, alias the batch (or, for a compressed batch, the
// buffer Records decompressed into): they stay valid while the batch bytes
// are unchanged, and must be copied to outlive a buffer the caller reuses.
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	Key, Value     []byte
	Headers        []RecordHeader
}

// RecordHeader is a record header; Value is nil when null.
type RecordHeader struct {
	Key   string
	Value []byte
}

// Records validates batch and calls fn for each of its records in order
// until fn returns false, decompressing the records area first if the
// batch is compressed. decompressedMax bounds the decompressed size, so a
// small batch cannot make the broker allocate without limit; a batch that
// would exceed it fails with ErrDecompressedTooLarge. Records allocates and
// is meant for timestamp lookups, compaction and tools, not for the
// produce or fetch path.
func Records(batch []byte, decompressedMax int, fn func(Record) bool) error {
	h, err := ValidateStored(batch)
	if err != nil {
		return err
	}
	records := batch[HeaderSize:]
	if codec := h.Compression(); codec != CodecNone {
		if records, err = decompress(codec, records, decompressedMax); err != nil {
			return err
		}
		// Validate did not see inside: check every record before
		// handing out the first, so fn never sees half a bad batch.
		if err := checkRecords(records, h.NumRecords, false, h.LastOffsetDelta); err != nil {
			return fmt.Errorf("%v batch: %w", codec, err)
		}
	}
	for range h.NumRecords {
		view, rest, err := nextRecord(records)
		if err != nil {
			panic(fmt.Sprintf("record: checked records failed to decode: %v", err))
		}
		records = rest
		if !fn(view.record()) {
			return nil
		}
	}
	return nil
}

// record converts a checked view to a Record, decoding its headers.
func (v recordView) record() Record {
	r := Record{
		Attributes:     v.attributes,
		TimestampDelta: v.timestampDelta,
		OffsetDelta:    v.offsetDelta,
		Key:            v.key,
		Value:          v.value,
	}
	if v.headerCount > 0 {
		r.Headers = make([]RecordHeader, 0, v.headerCount)
		b := v.headers
		for range v.headerCount {
			key, value, rest, err := nextHeader(b)
			if err != nil {
				panic(fmt.Sprintf("record: checked header failed to decode: %v", err))
			}
			r.Headers = append(r.Headers, RecordHeader{Key: string(key), Value: value})
			b = rest
		}
	}
	return r
}
