package group

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/record"
)

// offsetsBatchGolden is what the coordinator wrote to __consumer_offsets
// for goldenRecords before record built its batches (captured from the
// hand-written encoder this package had): header with no producer and no
// leader epoch, then an offset commit, an offset tombstone and a group
// metadata record with an empty value.
const offsetsBatchGolden = "" +
	"0000000000000000" + "0000007c" + "ffffffff" + "02" + "9e48416b" + // baseOffset, batchLength, leader epoch, magic, crc
	"0000" + "00000002" + "0000018bcfe569c8" + "0000018bcfe569c8" + // attributes, lastOffsetDelta, base and max timestamp
	"ffffffffffffffff" + "ffff" + "ffffffff" + "00000003" + // producer id, epoch, base sequence, record count
	"56000000180001000167000174000000033200030000000000" + // record 0: OffsetCommitKey v1 g/t/3 ...
	"00002a0000000500016d0000018bcfe5687b00" + // ... OffsetCommitValue v3 offset 42, epoch 5, "m"
	"24000002180001000167000174000000040100" + // record 1: OffsetCommitKey g/t/4, null value
	"160000040a00020001670000" // record 2: GroupMetadataKey v2 g, empty value

func goldenRecords() []keyValue {
	return []keyValue{
		{offsetKey("g", topicPartition{"t", 3}), offsetValue(offset{offset: 42, leaderEpoch: 5, metadata: "m", commitTimestamp: 1_700_000_000_123})},
		{offsetKey("g", topicPartition{"t", 4}), nil},
		{groupKey("g"), []byte{}},
	}
}

// TestBuildBatchGolden: building through record writes byte for byte what
// the coordinator wrote before, so offsets topics written by earlier
// versions and by this one read the same.
func TestBuildBatchGolden(t *testing.T) {
	want, err := hex.DecodeString(offsetsBatchGolden)
	if err != nil {
		t.Fatal(err)
	}
	got := buildBatch(goldenRecords(), 1_700_000_000_456)
	if !bytes.Equal(got, want) {
		t.Fatalf("batch changed:\n got %x\nwant %x", got, want)
	}
}

// TestBuildBatchReadable: the batch passes the broker's own produce-path
// checks, decodes with franz-go's kmsg as a Kafka tool would, and replays
// to the same keys and values (null stays null, empty stays empty).
func TestBuildBatchReadable(t *testing.T) {
	in := goldenRecords()
	b := buildBatch(in, 1_700_000_000_456)
	h, err := record.Validate(b)
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	if h.ProducerID != -1 || h.PartitionLeaderEpoch != -1 || h.MaxTimestamp != 1_700_000_000_456 || h.NumRecords != 3 {
		t.Fatalf("header %+v", h)
	}
	var kb kmsg.RecordBatch
	if err := kb.ReadFrom(b); err != nil {
		t.Fatalf("kmsg: %v", err)
	}
	if kb.NumRecords != 3 || kb.LastOffsetDelta != 2 || kb.FirstTimestamp != 1_700_000_000_456 {
		t.Fatalf("kmsg batch %+v", kb)
	}
	var i int
	err = replayBatch(b, func(key, value []byte) {
		if !bytes.Equal(key, in[i].key) || !bytes.Equal(value, in[i].value) || (value == nil) != (in[i].value == nil) {
			t.Errorf("record %d: key %x value %x, want %x %x", i, key, value, in[i].key, in[i].value)
		}
		i++
	})
	if err != nil || i != len(in) {
		t.Fatalf("replay: %d records, err %v", i, err)
	}
}
