package handler

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/record"
)

// sectionLog returns a log holding one batch per value size, each batch
// one record with a value of that many bytes.
func sectionLog(t *testing.T, valueSizes ...int) *log.Log {
	t.Helper()
	cfg := log.DefaultConfig()
	cfg.FlushMessages = 1 << 40 // visible at once
	l, err := log.Open(t.TempDir(), cfg, log.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for i, n := range valueSizes {
		value := bytes.Repeat([]byte{byte('a' + i%26)}, n)
		h := record.Header{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: int64(i)}
		batch, err := record.Build(h, []record.Record{{Value: value}}, record.CodecNone, int64(i))
		if err != nil {
			t.Fatal(err)
		}
		hh, err := record.Validate(batch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(batch, hh); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// testFetchResponse builds a response at version with two topics: the
// first with a section of every given log (sizes chosen so compact length
// prefixes take one to four bytes), an empty partition and a failed one;
// the second with one more section. The partitions after a section carry
// tagged fields in flexible versions, which kmsg writes after the records.
func testFetchResponse(t *testing.T, version int16, logs []*log.Log) *FetchResponse {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(version)
	r := newFetchResponse(req)
	for ti := range 2 {
		st := kmsg.NewFetchResponseTopic()
		st.Topic = []string{"first", "second"}[ti]
		st.TopicID[0] = byte(ti + 1)
		ls := logs[:len(logs)-1]
		if ti == 1 {
			ls = logs[len(logs)-1:]
		}
		for pi, l := range ls {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition, sp.HighWatermark, sp.RecordBatches = int32(pi), 1, []byte{}
			sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = 1, int32(pi)
			sec, err := l.ReadSection(0, 8<<20, true)
			if err != nil || sec.Len() == 0 {
				t.Fatalf("ReadSection: %d bytes, %v", sec.Len(), err)
			}
			r.sections = append(r.sections, fetchSection{topic: ti, partition: len(st.Partitions), sec: sec})
			st.Partitions = append(st.Partitions, sp)
		}
		if ti == 0 {
			empty := kmsg.NewFetchResponseTopicPartition()
			empty.Partition, empty.RecordBatches = 100, []byte{}
			failed := kmsg.NewFetchResponseTopicPartition()
			failed.Partition, failed.ErrorCode, failed.RecordBatches = 101, kerr.OffsetOutOfRange.Code, []byte{}
			st.Partitions = append(st.Partitions, empty, failed)
		}
		r.Topics = append(r.Topics, st)
		r.topicNames = append(r.topicNames, st.Topic)
	}
	t.Cleanup(r.Release)
	return r
}

// materialized is the response encoded the plain way, record bytes copied
// into RecordBatches: what every path must produce.
func materialized(t *testing.T, r *FetchResponse, dst []byte) []byte {
	t.Helper()
	plain := *r.FetchResponse
	plain.Topics = append([]kmsg.FetchResponseTopic(nil), r.Topics...)
	for i := range plain.Topics {
		plain.Topics[i].Partitions = append([]kmsg.FetchResponseTopicPartition(nil), r.Topics[i].Partitions...)
	}
	for _, fs := range r.sections {
		b, err := fs.sec.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		plain.Topics[fs.topic].Partitions[fs.partition].RecordBatches = b
	}
	return plain.AppendTo(dst)
}

// TestFetchResponseEncodings: at every Fetch version served, the split
// encoding with the sections spliced in at its cuts, and the copying
// AppendTo, give the bytes kmsg encodes with the records in memory.
func TestFetchResponseEncodings(t *testing.T) {
	// Value sizes whose batches need compact length prefixes of 1, 2, 3
	// and 4 bytes: < 127, < 16 KiB, < 2 MiB, >= 2 MiB.
	logs := []*log.Log{
		sectionLog(t, 10),
		sectionLog(t, 300, 5000),
		sectionLog(t, 200_000),
		sectionLog(t, 2<<20, 10),
		sectionLog(t, 40),
	}
	for version := int16(4); version <= 16; version++ {
		r := testFetchResponse(t, version, logs)
		prefix := []byte("frame header")
		want := materialized(t, r, bytes.Clone(prefix))

		split, cuts := r.AppendSplit(bytes.Clone(prefix))
		if len(cuts) != len(r.sections) {
			t.Fatalf("v%d: %d cuts for %d sections", version, len(cuts), len(r.sections))
		}
		var got []byte
		at := 0
		for i, sec := range r.Sections() {
			got = append(got, split[at:cuts[i]]...)
			got, _ = sec.AppendTo(got)
			at = cuts[i]
		}
		got = append(got, split[at:]...)
		if !bytes.Equal(got, want) {
			t.Fatalf("v%d: split encoding with sections spliced in differs from kmsg's (%d bytes, want %d)", version, len(got), len(want))
		}
		if len(split)+r.SectionBytes() != len(want) {
			t.Fatalf("v%d: split %d + sections %d bytes, want %d", version, len(split), r.SectionBytes(), len(want))
		}
		if copied := r.AppendTo(bytes.Clone(prefix)); !bytes.Equal(copied, want) {
			t.Fatalf("v%d: copying AppendTo differs from kmsg's encoding", version)
		}
		for _, st := range r.Topics {
			for _, sp := range st.Partitions {
				if sp.RecordBatches == nil || len(sp.RecordBatches) != 0 {
					t.Fatalf("v%d: RecordBatches left as %d bytes after encoding", version, len(sp.RecordBatches))
				}
			}
		}
		decoded := kmsg.NewPtrFetchResponse()
		decoded.SetVersion(version)
		if err := decoded.ReadFrom(want[len(prefix):]); err != nil {
			t.Fatalf("v%d: kmsg cannot decode the response: %v", version, err)
		}
	}
}

// TestFetchResponsePlaceholderCollision: a nonce that occurs elsewhere in
// the encoding, before or after a placeholder, is noticed rather than cut
// at the wrong place.
func TestFetchResponsePlaceholderCollision(t *testing.T) {
	nonce := []byte("0123456789ab")
	for _, c := range []struct {
		name   string
		before string // topic name, encoded before the placeholder
		after  string // second topic's name, encoded after it
		ok     bool
	}{
		{"alone", "t", "u", true},
		{"in an earlier field", "x" + string(nonce) + "y", "u", false},
		{"with the right index, earlier", string(nonce) + "\x00\x00\x00\x00", "u", false},
		{"in a later field", "t", string(nonce), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := sectionLog(t, 100)
			r := testFetchResponse(t, 12, []*log.Log{l, sectionLog(t, 10)})
			r.Topics[0].Topic, r.Topics[1].Topic = c.before, c.after
			for i, fs := range r.sections {
				p := binary.BigEndian.AppendUint32(bytes.Clone(nonce), uint32(i))
				r.Topics[fs.topic].Partitions[fs.partition].RecordBatches = p
			}
			b := r.FetchResponse.AppendTo(nil)
			if _, _, ok := r.cutPlaceholders(b, 0, nonce); ok != c.ok {
				t.Fatalf("cutPlaceholders ok = %v, want %v", ok, c.ok)
			}
		})
	}
}

// TestFetchResponseCopyFailure: a section whose file was cut short since
// the response was built answers its partition with KAFKA_STORAGE_ERROR on
// the copying path, and the other partitions keep their records.
func TestFetchResponseCopyFailure(t *testing.T) {
	logs := []*log.Log{sectionLog(t, 100), sectionLog(t, 200)}
	r := testFetchResponse(t, 12, logs)
	f, pos := r.sections[0].sec.File()
	if err := f.Truncate(pos + 10); err != nil {
		t.Fatal(err)
	}
	decoded := kmsg.NewPtrFetchResponse()
	decoded.SetVersion(12)
	if err := decoded.ReadFrom(r.AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	failed, kept := decoded.Topics[0].Partitions[0], decoded.Topics[1].Partitions[0]
	if failed.ErrorCode != kerr.KafkaStorageError.Code || len(failed.RecordBatches) != 0 {
		t.Fatalf("cut-short partition: error %d, %d bytes", failed.ErrorCode, len(failed.RecordBatches))
	}
	if kept.ErrorCode != 0 || len(kept.RecordBatches) != r.sections[1].sec.Len() {
		t.Fatalf("other partition: error %d, %d bytes", kept.ErrorCode, len(kept.RecordBatches))
	}
}
