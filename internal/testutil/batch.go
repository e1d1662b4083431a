package testutil

import (
	"github.com/sluice-dev/sluice/internal/record"
)

// Record is one record of a Batch: a create time in milliseconds and a
// value; the key is null.
type Record struct {
	Timestamp int64
	Value     string
}

// Batch is an uncompressed RecordBatch v2 as a producer sends it
// (baseOffset 0, partitionLeaderEpoch -1, a valid CRC), built by
// record.Build so that tests carry no batch encoder of their own.
// producerID -1 (with epoch and baseSequence -1) is a batch without
// idempotence. It panics on an empty records list.
func Batch(producerID int64, epoch int16, baseSequence int32, records ...Record) []byte {
	first, maxTimestamp := records[0].Timestamp, records[0].Timestamp
	for _, r := range records {
		first, maxTimestamp = min(first, r.Timestamp), max(maxTimestamp, r.Timestamp)
	}
	rs := make([]record.Record, len(records))
	for i, r := range records {
		rs[i] = record.Record{TimestampDelta: r.Timestamp - first, OffsetDelta: int32(i), Value: []byte(r.Value)}
	}
	h := record.Header{
		PartitionLeaderEpoch: -1,
		LastOffsetDelta:      int32(len(records) - 1),
		BaseTimestamp:        first,
		ProducerID:           producerID,
		ProducerEpoch:        epoch,
		BaseSequence:         baseSequence,
	}
	b, err := record.Build(h, rs, record.CodecNone, maxTimestamp)
	if err != nil {
		panic(err) // only an unknown codec fails, and this is CodecNone
	}
	return b
}
