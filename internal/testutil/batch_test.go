package testutil

import (
	"fmt"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/internal/record"
)

func TestBatch(t *testing.T) {
	b := Batch(7, 2, 40, Record{Timestamp: 1000, Value: "a"}, Record{Timestamp: 3000, Value: "b"}, Record{Timestamp: 2000, Value: "c"})
	h, err := record.ValidateProduce(b)
	if err != nil {
		t.Fatalf("Batch is not a valid produce batch: %v", err)
	}
	if h.ProducerID != 7 || h.ProducerEpoch != 2 || h.BaseSequence != 40 || h.NumRecords != 3 ||
		h.BaseTimestamp != 1000 || h.MaxTimestamp != 3000 || h.PartitionLeaderEpoch != -1 || h.Compression() != record.CodecNone {
		t.Fatalf("header %+v", h)
	}
	var values []string
	if err := record.Records(b, 1<<20, func(r record.Record) bool {
		values = append(values, fmt.Sprintf("%s@%d", r.Value, h.Timestamp(r)))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a@1000", "b@3000", "c@2000"}; !slices.Equal(values, want) {
		t.Fatalf("records %v, want %v", values, want)
	}
}
