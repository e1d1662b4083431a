package record

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// Golden end transaction markers: the bytes Kafka 4.1's
// MemoryRecords.withEndTransactionMarker(0, 1700000000000,
// NO_PARTITION_LEADER_EPOCH, 4242, 7, new EndTransactionMarker(type, 3))
// returns, printed with jshell against kafka-clients 4.1.0. They differ in
// the control type and so in the CRC.
const (
	commitMarkerGolden = "" +
		"0000000000000000" + "00000042" + "ffffffff" + "02" + "59451860" + // baseOffset, batchLength 66, leader epoch, magic, crc
		"0030" + "00000000" + "0000018bcfe56800" + "0000018bcfe56800" + // transactional|control, lastOffsetDelta, timestamps
		"0000000000001092" + "0007" + "ffffffff" + "00000001" + // producer id 4242, epoch 7, no sequence, one record
		"20" + "00" + "00" + "00" + // record length 16, attributes, timestampDelta, offsetDelta
		"08" + "0000" + "0001" + // key length 4: version 0, type COMMIT
		"0c" + "0000" + "00000003" + // value length 6: version 0, coordinatorEpoch 3
		"00" // no headers
	abortMarkerGolden = "" +
		"0000000000000000" + "00000042" + "ffffffff" + "02" + "ad7bce28" +
		"0030" + "00000000" + "0000018bcfe56800" + "0000018bcfe56800" +
		"0000000000001092" + "0007" + "ffffffff" + "00000001" +
		"20" + "00" + "00" + "00" +
		"08" + "0000" + "0000" + // type ABORT
		"0c" + "0000" + "00000003" +
		"00"
)

// TestEndTxnMarkers: commit and abort markers are Kafka's bytes, pass
// Validate (and not ValidateProduce, which is for clients), say control
// and transactional, and read back to their type and coordinator epoch.
func TestEndTxnMarkers(t *testing.T) {
	for _, tc := range []struct {
		typ    ControlType
		golden string
	}{
		{ControlCommit, commitMarkerGolden},
		{ControlAbort, abortMarkerGolden},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			want, err := hex.DecodeString(tc.golden)
			if err != nil {
				t.Fatal(err)
			}
			m := EndTxnMarker{Type: tc.typ, CoordinatorEpoch: 3}
			b := BuildEndTxnMarker(4242, 7, m, 1_700_000_000_000)
			if !bytes.Equal(b, want) {
				t.Fatalf("marker bytes:\n got %x\nwant %x", b, want)
			}
			h, err := Validate(b)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !h.Control() || !h.Transactional() || h.LogAppendTime() || h.Compression() != CodecNone ||
				h.ProducerID != 4242 || h.ProducerEpoch != 7 || h.BaseSequence != NoSequence || h.NumRecords != 1 {
				t.Fatalf("header %+v", h)
			}
			if _, err := ValidateProduce(b); !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("ValidateProduce: %v, want ErrInvalidRecord", err)
			}
			got, err := ReadEndTxnMarker(b)
			if err != nil || got != m {
				t.Fatalf("ReadEndTxnMarker: %+v, %v; want %+v", got, err, m)
			}
		})
	}
}

// TestParseEndTxnMarker: keys and values as Kafka reads them, newer
// versions taken as version 0, malformed ones refused as invalid records.
func TestParseEndTxnMarker(t *testing.T) {
	value := []byte{0, 0, 0, 0, 1, 2}
	for _, tc := range []struct {
		name       string
		key, value []byte
		want       EndTxnMarker
		ok         bool
	}{
		{"commit", []byte{0, 0, 0, 1}, value, EndTxnMarker{ControlCommit, 0x0102}, true},
		{"abort", []byte{0, 0, 0, 0}, value, EndTxnMarker{ControlAbort, 0x0102}, true},
		{"newer versions", []byte{0, 1, 0, 1, 9}, []byte{0, 1, 0xff, 0xff, 0xff, 0xfe, 7}, EndTxnMarker{ControlCommit, -2}, true},
		{"short key", []byte{0, 0, 0}, value, EndTxnMarker{}, false},
		{"null key", nil, value, EndTxnMarker{}, false},
		{"negative key version", []byte{0xff, 0xff, 0, 1}, value, EndTxnMarker{}, false},
		{"leader change type", []byte{0, 0, 0, 2}, value, EndTxnMarker{}, false},
		{"short value", []byte{0, 0, 0, 1}, value[:5], EndTxnMarker{}, false},
		{"null value", []byte{0, 0, 0, 1}, nil, EndTxnMarker{}, false},
		{"negative value version", []byte{0, 0, 0, 1}, []byte{0x80, 0, 0, 0, 0, 1}, EndTxnMarker{}, false},
	} {
		got, err := ParseEndTxnMarker(tc.key, tc.value)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
		if !tc.ok && !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: %+v, %v; want ErrInvalidRecord", tc.name, got, err)
		}
	}
	if typ, err := ParseControlType([]byte{0, 0, 0, 3}); err != nil || typ != 3 || typ.String() != "CONTROL(3)" {
		t.Errorf("unknown control type: %v, %v; want it returned as is", typ, err)
	}
}

// TestReadEndTxnMarkerRefuses: a data batch, and a control batch whose
// record is not a marker, are not read as markers.
func TestReadEndTxnMarkerRefuses(t *testing.T) {
	data := BuildUncompressed(Header{LastOffsetDelta: 0}, []Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 3}}}, 0)
	if _, err := ReadEndTxnMarker(data); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("data batch: %v, want ErrInvalidRecord", err)
	}
	notMarker := BuildUncompressed(Header{Attributes: controlFlag | transactionalFlag}, []Record{{Key: []byte{0, 0, 0, 2}, Value: []byte{}}}, 0)
	if _, err := ReadEndTxnMarker(notMarker); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("leader change record: %v, want ErrInvalidRecord", err)
	}
	torn := BuildEndTxnMarker(1, 0, EndTxnMarker{ControlCommit, 0}, 0)
	if _, err := ReadEndTxnMarker(torn[:len(torn)-1]); !errors.Is(err, ErrTruncated) {
		t.Errorf("torn marker: %v, want ErrTruncated", err)
	}
}

// FuzzReadEndTxnMarker: any bytes are refused or read as a marker, never a
// panic; a marker read back rebuilds to a batch that reads the same.
func FuzzReadEndTxnMarker(f *testing.F) {
	for _, golden := range []string{commitMarkerGolden, abortMarkerGolden} {
		b, err := hex.DecodeString(golden)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ReadEndTxnMarker(data)
		if err != nil {
			return
		}
		h, err := ValidateStored(data)
		if err != nil || !h.Control() {
			t.Fatalf("read a marker from a batch that ValidateStored refuses: %+v, %v", h, err)
		}
		again, err := ReadEndTxnMarker(BuildEndTxnMarker(h.ProducerID, h.ProducerEpoch, m, h.MaxTimestamp))
		if err != nil || again != m {
			t.Fatalf("rebuilt marker reads %+v, %v; want %+v", again, err, m)
		}
	})
}
