package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

// testCRC is computed here rather than with the package's own checksum, so
// the tests would notice if that covered the wrong bytes.
func testCRC(batch []byte) uint32 {
	return crc32.Checksum(batch[21:], crc32.MakeTable(crc32.Castagnoli))
}

// reseal makes batch's length and CRC match its bytes again, so that a
// test can change a covered field and reach the checks behind the CRC.
func reseal(batch []byte) []byte {
	binary.BigEndian.PutUint32(batch[8:], uint32(len(batch)-12))
	binary.BigEndian.PutUint32(batch[17:], testCRC(batch))
	return batch
}

// testRecords returns n records mixing null and empty keys and values, and
// headers with null and empty values.
func testRecords(n int) []kmsg.Record {
	records := make([]kmsg.Record, n)
	for i := range records {
		r := kmsg.Record{
			TimestampDelta64: int64(i*7 - 3),
			OffsetDelta:      int32(i),
			Key:              []byte(fmt.Sprintf("key-%d", i)),
			Value:            bytes.Repeat([]byte{byte(i)}, i*13),
		}
		switch i % 4 {
		case 1:
			r.Key = nil
		case 2:
			r.Key, r.Value = []byte{}, nil
		}
		if i%3 == 0 {
			r.Headers = []kmsg.Header{
				{Key: "trace", Value: []byte(fmt.Sprintf("t%d", i))},
				{Key: "", Value: nil},
				{Key: "empty", Value: []byte{}},
			}
		}
		records[i] = r
	}
	return records
}

// encodeRecords is the records area of an uncompressed batch.
func encodeRecords(records []kmsg.Record) []byte {
	var raw []byte
	for _, r := range records {
		r.Length = 0
		r.Length = int32(len(r.AppendTo(nil)) - 1) // a zero length is one byte
		raw = r.AppendTo(raw)
	}
	return raw
}

// compressWithKgo compresses a records area as franz-go producers do.
func compressWithKgo(t testing.TB, codec Codec, raw []byte) []byte {
	t.Helper()
	options := map[Codec]kgo.CompressionCodec{
		CodecGzip:   kgo.GzipCompression(),
		CodecSnappy: kgo.SnappyCompression(),
		CodecLZ4:    kgo.Lz4Compression(),
		CodecZstd:   kgo.ZstdCompression(),
	}
	if codec == CodecNone {
		return raw
	}
	compressor, err := kgo.DefaultCompressor(options[codec])
	if err != nil {
		t.Fatal(err)
	}
	out, used := compressor.Compress(new(bytes.Buffer), raw)
	if used != kgo.CompressionCodecType(codec) {
		t.Fatalf("compressor used codec %d, want %d", used, codec)
	}
	return bytes.Clone(out)
}

// sealBatch wraps a records area, compressed or not, in a v2 header.
func sealBatch(recordsArea []byte, n int32, attributes int16) []byte {
	batch := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attributes,
		LastOffsetDelta:      n - 1,
		FirstTimestamp:       1_700_000_000_000,
		MaxTimestamp:         1_700_000_000_000 + int64(n)*7,
		ProducerID:           42,
		ProducerEpoch:        3,
		FirstSequence:        100,
		NumRecords:           n,
		Records:              recordsArea,
	}
	return reseal(batch.AppendTo(nil))
}

func buildBatch(t testing.TB, codec Codec, records []kmsg.Record) []byte {
	t.Helper()
	area := compressWithKgo(t, codec, encodeRecords(records))
	return sealBatch(area, int32(len(records)), int16(codec))
}

// checkRoundTrip reads batch back with Records and compares with want.
func checkRoundTrip(t *testing.T, batch []byte, want []kmsg.Record) {
	t.Helper()
	var got []Record
	if err := Records(batch, 1<<20, func(r Record) bool { got = append(got, r); return true }); err != nil {
		t.Fatalf("Records: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Records gave %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if err := sameRecord(want[i], got[i]); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
}

func sameBytes(want, got []byte) bool {
	return (want == nil) == (got == nil) && bytes.Equal(want, got)
}

func sameRecord(want kmsg.Record, got Record) error {
	switch {
	case got.Attributes != want.Attributes, got.TimestampDelta != want.TimestampDelta64, got.OffsetDelta != want.OffsetDelta:
		return fmt.Errorf("got %+v, want %+v", got, want)
	case !sameBytes(want.Key, got.Key):
		return fmt.Errorf("key %q, want %q", got.Key, want.Key)
	case !sameBytes(want.Value, got.Value):
		return fmt.Errorf("value %q, want %q", got.Value, want.Value)
	case len(got.Headers) != len(want.Headers):
		return fmt.Errorf("%d headers, want %d", len(got.Headers), len(want.Headers))
	}
	for i, h := range want.Headers {
		if got.Headers[i].Key != h.Key || !sameBytes(h.Value, got.Headers[i].Value) {
			return fmt.Errorf("header %d is %+v, want %+v", i, got.Headers[i], h)
		}
	}
	return nil
}

func TestValidateAndRecordsEachCodec(t *testing.T) {
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			for _, n := range []int{1, 2, 17, 300} {
				records := testRecords(n)
				batch := buildBatch(t, codec, records)
				h, err := Validate(batch)
				if err != nil {
					t.Fatalf("%d records: %v", n, err)
				}
				if _, err := ValidateProduce(batch); err != nil {
					t.Fatalf("ValidateProduce: %v", err)
				}
				if h.Compression() != codec || h.NumRecords != int32(n) || h.Size() != len(batch) || h.LastOffset() != int64(n-1) {
					t.Fatalf("header %+v", h)
				}
				checkHeaderAgreesWithKmsg(t, batch, h)
				checkRoundTrip(t, batch, records)
			}
		})
	}
}

// checkHeaderAgreesWithKmsg decodes batch with franz-go as a second opinion.
func checkHeaderAgreesWithKmsg(t testing.TB, batch []byte, h Header) {
	t.Helper()
	var k kmsg.RecordBatch
	if err := k.ReadFrom(batch); err != nil {
		t.Fatalf("kmsg: %v", err)
	}
	want := Header{
		BaseOffset: k.FirstOffset, Length: k.Length, PartitionLeaderEpoch: k.PartitionLeaderEpoch,
		Magic: k.Magic, CRC: uint32(k.CRC), Attributes: k.Attributes, LastOffsetDelta: k.LastOffsetDelta,
		BaseTimestamp: k.FirstTimestamp, MaxTimestamp: k.MaxTimestamp, ProducerID: k.ProducerID,
		ProducerEpoch: k.ProducerEpoch, BaseSequence: k.FirstSequence, NumRecords: k.NumRecords,
	}
	if h != want {
		t.Fatalf("header %+v, kmsg reads %+v", h, want)
	}
}

// xerialFrame frames raw as the Java producer's snappy stream does, in
// blocks of blockSize bytes.
func xerialFrame(raw []byte, blockSize int) []byte {
	out := append([]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}, 0, 0, 0, 1, 0, 0, 0, 1)
	for len(raw) > 0 {
		n := min(blockSize, len(raw))
		block := s2.EncodeSnappy(nil, raw[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
		raw = raw[n:]
	}
	return out
}

func TestRecordsSnappyXerial(t *testing.T) {
	records := testRecords(40)
	batch := sealBatch(xerialFrame(encodeRecords(records), 100), 40, int16(CodecSnappy))
	if _, err := Validate(batch); err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, batch, records)

	// A block length past the end is corrupt, whatever the CRC says.
	area := xerialFrame(encodeRecords(records), 100)
	binary.BigEndian.PutUint32(area[16:], 1<<30)
	err := Records(sealBatch(area, 40, int16(CodecSnappy)), 1<<20, func(Record) bool { return true })
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("bad xerial block length: %v", err)
	}
}

func TestRecordsStopsWhenFnReturnsFalse(t *testing.T) {
	batch := buildBatch(t, CodecNone, testRecords(10))
	calls := 0
	if err := Records(batch, 1<<20, func(Record) bool { calls++; return calls < 3 }); err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Fatalf("fn called %d times, want 3", calls)
	}
}

// TestEveryBitFlip flips each bit of a batch in turn. CRC-32C catches every
// single-bit error in the bytes it covers; the fields outside it are either
// checked directly (magic, length, crc) or free for the leader to rewrite.
func TestEveryBitFlip(t *testing.T) {
	for _, codec := range []Codec{CodecNone, CodecZstd} {
		batch := buildBatch(t, codec, testRecords(5))
		for i := range len(batch) * 8 {
			flipped := bytes.Clone(batch)
			flipped[i/8] ^= 1 << (i % 8)
			_, err := Validate(flipped)
			uncovered := i/8 < 8 || (i/8 >= 12 && i/8 < 16) // baseOffset, partitionLeaderEpoch
			if uncovered && err != nil {
				t.Fatalf("%v: flipping bit %d of byte %d (not covered by the CRC): %v", codec, i%8, i/8, err)
			}
			if !uncovered && err == nil {
				t.Fatalf("%v: flipping bit %d of byte %d went unnoticed", codec, i%8, i/8)
			}
			if i/8 >= 21 && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%v: flipping bit %d of byte %d: %v, want ErrCorrupt", codec, i%8, i/8, err)
			}
		}
	}
}

// TestTruncation cuts a batch at every length: never a panic, always an
// error, and Next reports the torn tail a recovering log must cut.
func TestTruncation(t *testing.T) {
	for _, codec := range allCodecs {
		batch := buildBatch(t, codec, testRecords(6))
		for n := range len(batch) {
			cut := batch[:n]
			if _, err := Validate(cut); err == nil {
				t.Fatalf("%v: Validate accepted %d of %d bytes", codec, n, len(batch))
			}
			if err := Records(cut, 1<<20, func(Record) bool { return true }); err == nil {
				t.Fatalf("%v: Records accepted %d of %d bytes", codec, n, len(batch))
			}
			_, _, err := Next(cut)
			if n == 0 && err != io.EOF || n > 0 && !errors.Is(err, ErrTruncated) {
				t.Fatalf("%v: Next on %d of %d bytes: %v", codec, n, len(batch), err)
			}
		}
	}
}

// TestValidateIntact: torn tails are ErrTruncated and damaged bytes
// ErrCorrupt, while a batch whose CRC matches passes even if it breaks the
// rules Validate adds (here, framing of the records area), since recovery
// must not cut a batch that was written whole.
func TestValidateIntact(t *testing.T) {
	batch := buildBatch(t, CodecNone, testRecords(6))
	h, err := ValidateIntact(batch)
	if err != nil || h.NumRecords != 6 || h.Size() != len(batch) {
		t.Fatalf("whole batch: %+v, %v", h, err)
	}
	for n := range len(batch) {
		if _, err := ValidateIntact(batch[:n]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("%d of %d bytes: %v, want ErrTruncated", n, len(batch), err)
		}
	}
	for i := attributesAt; i < len(batch); i++ {
		flipped := bytes.Clone(batch)
		flipped[i] ^= 0x01
		if _, err := ValidateIntact(flipped); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("bit flip at %d: %v, want ErrCorrupt", i, err)
		}
	}
	if _, err := ValidateIntact(append(bytes.Clone(batch), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: %v, want ErrCorrupt", err)
	}
	bad := reseal(bytes.Clone(batch[:len(batch)-1]))
	if _, err := Validate(bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Validate of a resealed cut: %v, want ErrCorrupt", err)
	}
	if _, err := ValidateIntact(bad); err != nil {
		t.Fatalf("ValidateIntact of a resealed cut: %v, want nil", err)
	}
}

// TestTruncatedRecordsUnderValidCRC cuts the records area and reseals the
// header, as a buggy producer would send it: the CRC passes, and the record
// framing must catch the cut.
func TestTruncatedRecordsUnderValidCRC(t *testing.T) {
	for _, codec := range allCodecs {
		batch := buildBatch(t, codec, testRecords(6))
		for n := HeaderSize; n < len(batch); n++ {
			cut := reseal(bytes.Clone(batch[:n]))
			_, err := Validate(cut)
			if codec == CodecNone && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("records cut to %d bytes: %v, want ErrCorrupt", n-HeaderSize, err)
			}
			if codec != CodecNone && err != nil {
				t.Fatalf("%v: compressed records are not inspected, got %v", codec, err)
			}
			err = Records(cut, 1<<20, func(Record) bool { return true })
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%v: Records on records cut to %d bytes: %v, want ErrCorrupt", codec, n-HeaderSize, err)
			}
		}
	}
}

// rawRecord encodes one record by hand, so tests can write what no encoder
// would. Fields are appended verbatim after the length varint.
func rawRecord(fields ...[]byte) []byte {
	body := bytes.Join(fields, nil)
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

func varint(v int64) []byte { return binary.AppendVarint(nil, v) }

func TestValidateRejects(t *testing.T) {
	good := encodeRecords(testRecords(3))
	tests := []struct {
		name  string
		batch []byte
		want  error
	}{
		{"no records", sealBatch(nil, 0, 0), ErrInvalidRecord},
		{"negative count", sealBatch(nil, -1, 0), ErrInvalidRecord},
		{"lastOffsetDelta not count-1", func() []byte {
			b := sealBatch(good, 3, 0)
			binary.BigEndian.PutUint32(b[23:], 5)
			return reseal(b)
		}(), ErrInvalidRecord},
		{"count above records", sealBatch(good, 4, 0), ErrCorrupt},
		{"count below records", sealBatch(good, 2, 0), ErrCorrupt},
		{"offset deltas out of order", sealBatch(encodeRecords([]kmsg.Record{{OffsetDelta: 0}, {OffsetDelta: 2}}), 2, 0), ErrInvalidRecord},
		{"offset deltas repeated", sealBatch(encodeRecords([]kmsg.Record{{OffsetDelta: 0}, {OffsetDelta: 0}}), 2, 0), ErrInvalidRecord},
		{"unknown codec", sealBatch(good, 3, 5), ErrInvalidRecord},
		{"magic 1", func() []byte { b := sealBatch(good, 3, 0); b[16] = 1; return b }(), ErrUnsupportedMagic},
		{"small v0 message set", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ErrUnsupportedMagic},
		{"length past the bytes", func() []byte {
			b := sealBatch(good, 3, 0)
			binary.BigEndian.PutUint32(b[8:], uint32(len(b)))
			return b
		}(), ErrTruncated},
		{"bytes past the length", append(sealBatch(good, 3, 0), 0), ErrCorrupt},
		{"length inside the header", func() []byte {
			b := sealBatch(good, 3, 0)
			binary.BigEndian.PutUint32(b[8:], 48)
			return b
		}(), ErrCorrupt},
		{"crc", func() []byte { b := sealBatch(good, 3, 0); b[17]++; return b }(), ErrCorrupt},
		{"trailing byte in records", sealBatch(append(bytes.Clone(good), 0), 3, 0), ErrCorrupt},
		{"record length too long", sealBatch(rawRecord([]byte{0, 0, 0}, varint(-1), varint(-1), varint(0), []byte{0}), 1, 0), ErrCorrupt},
		{"record length too short", sealBatch(append(rawRecord([]byte{0, 0, 0}, varint(-1), varint(-1)), 0), 1, 0), ErrCorrupt},
		{"key past record", sealBatch(rawRecord([]byte{0, 0, 0}, varint(5), []byte("ab"), varint(-1), varint(0)), 1, 0), ErrCorrupt},
		{"key length -2", sealBatch(rawRecord([]byte{0, 0, 0}, varint(-2), varint(-1), varint(0)), 1, 0), ErrCorrupt},
		{"negative header count", sealBatch(rawRecord([]byte{0, 0, 0}, varint(-1), varint(-1), varint(-1)), 1, 0), ErrCorrupt},
		{"header count past record", sealBatch(rawRecord([]byte{0, 0, 0}, varint(-1), varint(-1), varint(3), varint(0), varint(0)), 1, 0), ErrCorrupt},
		{"null header key", sealBatch(rawRecord([]byte{0, 0, 0}, varint(-1), varint(-1), varint(1), varint(-1), varint(-1)), 1, 0), ErrInvalidRecord},
		{"overlong varint", sealBatch(rawRecord([]byte{0, 0}, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0}, varint(-1), varint(-1), varint(0)), 1, 0), ErrCorrupt},
		{"varint past 32 bits", sealBatch(rawRecord([]byte{0, 0}, []byte{0x80, 0x80, 0x80, 0x80, 0x10}, varint(-1), varint(-1), varint(0)), 1, 0), ErrCorrupt},
		{"overlong varlong", sealBatch(rawRecord([]byte{0}, bytes.Repeat([]byte{0x80}, 10), []byte{0, 0}, varint(-1), varint(-1), varint(0)), 1, 0), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Validate(tt.batch); !errors.Is(err, tt.want) {
				t.Fatalf("Validate: %v, want %v", err, tt.want)
			}
			if storedForm[tt.name] {
				// Records reads batches back from the log, where
				// compaction leaves these forms; ValidateStored
				// accepts them (TestValidateStoredAcceptsCompacted).
				return
			}
			if err := Records(tt.batch, 1<<20, func(Record) bool { t.Fatal("fn called"); return false }); !errors.Is(err, tt.want) {
				t.Fatalf("Records: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRecordBoundaries(t *testing.T) {
	// The widest legal varint and varlong values decode.
	records := []kmsg.Record{{TimestampDelta64: math.MinInt64, OffsetDelta: 0}, {TimestampDelta64: math.MaxInt64, OffsetDelta: 1}}
	batch := sealBatch(encodeRecords(records), 2, 0)
	checkRoundTrip(t, batch, records)

	for _, v := range []int32{0, 1, -1, 63, -64, 64, math.MaxInt32, math.MinInt32} {
		enc := binary.AppendVarint(nil, int64(v))
		if got, n := readVarint(enc); got != v || n != len(enc) {
			t.Errorf("readVarint(%x) = %d, %d; want %d, %d", enc, got, n, v, len(enc))
		}
	}
	if _, n := readVarint(binary.AppendVarint(nil, math.MaxInt32+1)); n != 0 {
		t.Errorf("readVarint accepted a value past int32")
	}
}

func TestControlBatches(t *testing.T) {
	// A transaction marker: control, transactional, one record.
	batch := sealBatch(encodeRecords(testRecords(1)), 1, controlFlag|transactionalFlag)
	h, err := Validate(batch)
	if err != nil || !h.Control() || !h.Transactional() {
		t.Fatalf("Validate: %+v, %v", h, err)
	}
	if _, err := ValidateProduce(batch); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("ValidateProduce: %v, want ErrInvalidRecord", err)
	}
}

func TestSetFieldsKeepBatchValid(t *testing.T) {
	for _, codec := range allCodecs {
		batch := buildBatch(t, codec, testRecords(4))
		SetBaseOffset(batch, 1<<40)
		SetPartitionLeaderEpoch(batch, 17)
		h, err := Validate(batch)
		if err != nil {
			t.Fatalf("%v after SetBaseOffset: %v", codec, err)
		}
		if h.BaseOffset != 1<<40 || h.LastOffset() != 1<<40+3 || h.NextOffset() != 1<<40+4 || h.PartitionLeaderEpoch != 17 || h.LogAppendTime() {
			t.Fatalf("%v: header %+v", codec, h)
		}
		createTime := h.Timestamp(Record{TimestampDelta: 5})

		returned := SetLogAppendTime(batch, 1_800_000_000_000)
		h, err = Validate(batch)
		if err != nil {
			t.Fatalf("%v after SetLogAppendTime: %v", codec, err)
		}
		if returned != h {
			t.Fatalf("%v: SetLogAppendTime returned %+v, batch reads %+v", codec, returned, h)
		}
		if !h.LogAppendTime() || h.MaxTimestamp != 1_800_000_000_000 || h.Compression() != codec {
			t.Fatalf("%v: header %+v", codec, h)
		}
		if createTime != h.BaseTimestamp+5 || h.Timestamp(Record{TimestampDelta: 5}) != 1_800_000_000_000 {
			t.Fatalf("%v: timestamps %d then %d", codec, createTime, h.Timestamp(Record{TimestampDelta: 5}))
		}
		checkHeaderAgreesWithKmsg(t, batch, h)
		checkRoundTrip(t, batch, testRecords(4))
	}
}

func TestLastSequence(t *testing.T) {
	tests := []struct{ base, delta, want int32 }{
		{0, 0, 0},
		{0, 4, 4},
		{100, 9, 109},
		{math.MaxInt32 - 5, 5, math.MaxInt32},
		{math.MaxInt32, 0, math.MaxInt32},
		{math.MaxInt32, 1, 0},
		{math.MaxInt32 - 1, 5, 3},
		{math.MaxInt32, math.MaxInt32, math.MaxInt32 - 1},
		{NoSequence, 7, NoSequence},
	}
	for _, tt := range tests {
		h := Header{BaseSequence: tt.base, LastOffsetDelta: tt.delta}
		if got := h.LastSequence(); got != tt.want {
			t.Errorf("LastSequence(base %d, delta %d) = %d, want %d", tt.base, tt.delta, got, tt.want)
		}
	}
}

func TestNext(t *testing.T) {
	var all []byte
	var sizes []int
	for i, codec := range allCodecs {
		b := buildBatch(t, codec, testRecords(i+1))
		all = append(all, b...)
		sizes = append(sizes, len(b))
	}
	rest := all
	for i := 0; ; i++ {
		batch, after, err := Next(rest)
		if err == io.EOF {
			if i != len(sizes) {
				t.Fatalf("EOF after %d batches, want %d", i, len(sizes))
			}
			break
		}
		if err != nil || len(batch) != sizes[i] || len(after) != len(rest)-sizes[i] {
			t.Fatalf("batch %d: %d bytes, %v", i, len(batch), err)
		}
		if _, err := Validate(batch); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		// The batch is capped, so appending to it cannot overwrite the next.
		if cap(batch) != len(batch) {
			t.Fatalf("batch %d has spare capacity %d", i, cap(batch)-len(batch))
		}
		rest = after
	}

	zeroed := make([]byte, 100) // a preallocated segment tail
	if _, _, err := Next(zeroed); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Next on zeroes: %v, want ErrCorrupt", err)
	}
}

func TestDecompressedBound(t *testing.T) {
	// 1 MiB of zeroes compresses to almost nothing: the bound, not the
	// batch size, is what stops it.
	records := []kmsg.Record{{Value: make([]byte, 1<<20)}}
	for _, codec := range allCodecs[1:] {
		batch := buildBatch(t, codec, records)
		err := Records(batch, 64<<10, func(Record) bool { t.Fatal("fn called"); return false })
		if !errors.Is(err, ErrDecompressedTooLarge) {
			t.Fatalf("%v over the bound: %v", codec, err)
		}
		if KafkaError(err) != kerr.MessageTooLarge {
			t.Fatalf("%v: KafkaError %v", codec, KafkaError(err))
		}
		if err := Records(batch, 2<<20, func(Record) bool { return true }); err != nil {
			t.Fatalf("%v within the bound: %v", codec, err)
		}
		if err := Records(batch, 0, func(Record) bool { return true }); !errors.Is(err, ErrDecompressedTooLarge) {
			t.Fatalf("%v with a zero bound: %v", codec, err)
		}
	}
}

func TestDecompressedBoundHostile(t *testing.T) {
	// A raw snappy block that claims 1 GiB must be refused on its claim.
	claim := append(binary.AppendUvarint(nil, 1<<30), 0)
	batch := sealBatch(claim, 1, int16(CodecSnappy))
	if err := Records(batch, 1<<20, func(Record) bool { return true }); !errors.Is(err, ErrDecompressedTooLarge) {
		t.Fatalf("snappy claim: %v", err)
	}
	// xerial blocks whose claims add up past the bound.
	area := xerialFrame(make([]byte, 300<<10), 32<<10)
	batch = sealBatch(area, 1, int16(CodecSnappy))
	if err := Records(batch, 256<<10, func(Record) bool { return true }); !errors.Is(err, ErrDecompressedTooLarge) {
		t.Fatalf("xerial claims: %v", err)
	}
	// A zstd stream without a declared content size is bounded while
	// decoding.
	var stream bytes.Buffer
	w, err := zstd.NewWriter(&stream, zstd.WithZeroFrames(true))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, 1<<20))
	w.Close()
	batch = sealBatch(stream.Bytes(), 1, int16(CodecZstd))
	if err := Records(batch, 64<<10, func(Record) bool { return true }); !errors.Is(err, ErrDecompressedTooLarge) {
		t.Fatalf("zstd stream: %v", err)
	}
}

func TestCompressedGarbage(t *testing.T) {
	garbage := []byte(strings.Repeat("not compressed at all ", 10))
	for _, codec := range allCodecs[1:] {
		batch := sealBatch(garbage, 1, int16(codec))
		if _, err := Validate(batch); err != nil {
			t.Fatalf("%v: Validate looks inside compressed records: %v", codec, err)
		}
		if err := Records(batch, 1<<20, func(Record) bool { return true }); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%v: %v, want ErrCorrupt", codec, err)
		}
	}
}

func TestKafkaError(t *testing.T) {
	tests := []struct {
		err  error
		want *kerr.Error
	}{
		{nil, nil},
		{fmt.Errorf("x: %w", ErrCorrupt), kerr.CorruptMessage},
		{ErrTruncated, kerr.CorruptMessage},
		{ErrInvalidRecord, kerr.InvalidRecord},
		{ErrUnsupportedMagic, kerr.UnsupportedForMessageFormat},
		{ErrDecompressedTooLarge, kerr.MessageTooLarge},
		{io.ErrUnexpectedEOF, kerr.UnknownServerError},
	}
	for _, tt := range tests {
		if got := KafkaError(tt.err); got != tt.want {
			t.Errorf("KafkaError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestCodecString(t *testing.T) {
	want := []string{"none", "gzip", "snappy", "lz4", "zstd", "codec(5)"}
	for i, w := range want {
		if got := Codec(i).String(); got != w {
			t.Errorf("Codec(%d) = %q, want %q", i, got, w)
		}
	}
}

// benchBatch is an uncompressed batch of about 16 KiB of 100-byte values.
func benchBatch(tb testing.TB) []byte {
	var records []kmsg.Record
	for i := 0; len(encodeRecords(records)) < 16<<10-HeaderSize-110; i++ {
		records = append(records, kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: int64(i), Value: bytes.Repeat([]byte{'v'}, 100)})
	}
	return buildBatch(tb, CodecNone, records)
}

func TestValidateDoesNotAllocate(t *testing.T) {
	batch := benchBatch(t)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Validate(batch); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Validate allocates %.1f times per batch", allocs)
	}
}

func BenchmarkValidate(b *testing.B) {
	batch := benchBatch(b)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// fuzzSeeds are valid batches of every codec, for the fuzzers to mutate.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for i, codec := range allCodecs {
		seeds = append(seeds, buildBatch(f, codec, testRecords(i+2)))
	}
	seeds = append(seeds, sealBatch(xerialFrame(encodeRecords(testRecords(3)), 50), 3, int16(CodecSnappy)))
	return seeds
}

func FuzzValidate(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFuzzBatch(t, data)
		// Random bytes almost never match the CRC; resealed, they reach
		// the record framing and the decompressors behind it.
		if len(data) >= HeaderSize {
			sealed := bytes.Clone(data)
			sealed[16] = Magic
			checkFuzzBatch(t, reseal(sealed))
		}
	})
}

func checkFuzzBatch(t *testing.T, data []byte) {
	h, err := Validate(data)
	if err != nil {
		if KafkaError(err) == kerr.UnknownServerError {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		return
	}
	if parsed, err := ParseHeader(data); err != nil || parsed != h {
		t.Fatalf("ParseHeader disagrees: %+v, %v; Validate gave %+v", parsed, err, h)
	}
	if batch, rest, err := Next(data); err != nil || len(batch) != len(data) || len(rest) != 0 {
		t.Fatalf("Next on a valid batch: %d bytes, %d left, %v", len(batch), len(rest), err)
	}
	n := int32(0)
	err = Records(data, 64<<10, func(r Record) bool {
		if r.OffsetDelta != n {
			t.Fatalf("record %d has offsetDelta %d", n, r.OffsetDelta)
		}
		n++
		return true
	})
	switch {
	case err == nil && n != h.NumRecords:
		t.Fatalf("Records gave %d records, header says %d", n, h.NumRecords)
	case err != nil && h.Compression() == CodecNone:
		t.Fatalf("Records failed on a valid uncompressed batch: %v", err)
	case err != nil && KafkaError(err) == kerr.UnknownServerError:
		t.Fatalf("error wraps no sentinel: %v", err)
	}
}

func FuzzNext(f *testing.F) {
	seeds := fuzzSeeds(f)
	f.Add(bytes.Join(seeds, nil))
	for _, seed := range seeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rest := data
		for len(rest) > 0 {
			batch, after, err := Next(rest)
			if err != nil {
				if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Next: %v", err)
				}
				if len(after) != len(rest) {
					t.Fatalf("Next consumed bytes on error")
				}
				return
			}
			if len(batch) < HeaderSize || len(batch)+len(after) != len(rest) {
				t.Fatalf("Next split %d bytes into %d and %d", len(rest), len(batch), len(after))
			}
			Validate(batch) // must not panic
			rest = after
		}
	})
}

// storedForm names the TestValidateRejects cases that are produce-only
// rules: a compacted batch may have fewer records than its offset range,
// down to none.
var storedForm = map[string]bool{"no records": true, "lastOffsetDelta not count-1": true}

// TestValidateStoredAcceptsCompacted: the forms compaction leaves pass
// ValidateStored and Records but not the produce-side Validate, and gaps
// must still increase within the batch's range.
func TestValidateStoredAcceptsCompacted(t *testing.T) {
	h := Header{BaseOffset: 10, LastOffsetDelta: 5, BaseTimestamp: 1, ProducerID: -1, BaseSequence: -1}
	kept := []Record{{OffsetDelta: 1, Value: []byte("a")}, {OffsetDelta: 4, Value: []byte("b")}}
	for _, recs := range [][]Record{kept, nil} {
		b, err := Build(h, recs, CodecNone, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ValidateStored(b); err != nil {
			t.Fatalf("ValidateStored of %d kept records: %v", len(recs), err)
		}
		if _, err := Validate(b); !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("Validate (produce rules) of a compacted batch: %v", err)
		}
		n := 0
		if err := Records(b, 1<<20, func(Record) bool { n++; return true }); err != nil || n != len(recs) {
			t.Fatalf("Records: %d records, %v", n, err)
		}
	}
	bad := []Record{{OffsetDelta: 4}, {OffsetDelta: 4}}
	b, _ := Build(h, bad, CodecNone, 1)
	if _, err := ValidateStored(b); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("repeated offset delta: %v", err)
	}
	past := []Record{{OffsetDelta: 6}}
	b, _ = Build(h, past, CodecNone, 1)
	if _, err := ValidateStored(b); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("offset delta past lastOffsetDelta: %v", err)
	}
}
