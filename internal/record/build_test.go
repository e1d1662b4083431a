package record

import (
	"bytes"
	"testing"
)

// TestBuildRoundTrip: batches built from records validate and give the
// same records back, for every codec, keeping offsets and timestamps.
func TestBuildRoundTrip(t *testing.T) {
	in := []Record{
		{TimestampDelta: 0, OffsetDelta: 0, Key: []byte("a"), Value: []byte("1"), Headers: []RecordHeader{{Key: "h", Value: []byte("v")}}},
		{TimestampDelta: 5, OffsetDelta: 3, Key: []byte("b"), Value: nil},
		{TimestampDelta: 9, OffsetDelta: 7, Key: nil, Value: bytes.Repeat([]byte("x"), 300), Headers: []RecordHeader{{Key: "n", Value: nil}}},
	}
	h := Header{BaseOffset: 100, LastOffsetDelta: 9, BaseTimestamp: 1000, ProducerID: 7, ProducerEpoch: 2, BaseSequence: 40}
	for _, codec := range []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			b, err := Build(h, in, codec, 1009)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Compression() != codec || got.BaseOffset != 100 || got.LastOffsetDelta != 9 || got.NumRecords != 3 ||
				got.MaxTimestamp != 1009 || got.ProducerID != 7 || got.ProducerEpoch != 2 || got.BaseSequence != 40 || got.Size() != len(b) {
				t.Fatalf("header %+v", got)
			}
			var out []Record
			if err := Records(b, 1<<20, func(r Record) bool { out = append(out, r); return true }); err != nil {
				t.Fatalf("records of a built batch: %v", err)
			}
			if len(out) != len(in) {
				t.Fatalf("%d records, want %d", len(out), len(in))
			}
			for i := range in {
				a, b := in[i], out[i]
				if a.OffsetDelta != b.OffsetDelta || a.TimestampDelta != b.TimestampDelta || !bytes.Equal(a.Key, b.Key) ||
					(a.Key == nil) != (b.Key == nil) || !bytes.Equal(a.Value, b.Value) || (a.Value == nil) != (b.Value == nil) ||
					len(a.Headers) != len(b.Headers) {
					t.Fatalf("record %d: got %+v, want %+v", i, b, a)
				}
			}
		})
	}
}
