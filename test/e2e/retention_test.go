package e2e

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// TestDeleteRecordsAndRetention: DeleteRecords moves the log start offset
// (ListOffsets earliest follows, a fetch below it is out of range, and a
// restart keeps it), and retention.bytes deletes old segments in the
// background.
func TestDeleteRecordsAndRetention(t *testing.T) {
	b := StartBroker(t, "KAFKA_LOG_RETENTION_CHECK_INTERVAL_MS=100", "KAFKA_LOG_SEGMENT_DELETE_DELAY_MS=0")
	// Uncompressed, so segment sizes follow the record sizes.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := testContext(t, time.Minute)
	segBytes := "20000"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": &segBytes}, "dr"); err != nil {
		t.Fatal(err)
	}
	// Recent timestamps: retention.ms (7 days) judges by them.
	recs := makeRecords("dr", 2000)
	for _, r := range recs {
		r.Timestamp = time.Now()
	}
	// In chunks, so that segments roll at segment.bytes.
	for i := 0; i < len(recs); i += 100 {
		produceAll(t, cl, recs[i:i+100])
	}

	resp, err := adm.DeleteRecords(ctx, kadm.Offsets{"dr": {0: {Topic: "dr", Partition: 0, At: 500}}})
	if err != nil || resp.Error() != nil {
		t.Fatalf("DeleteRecords: %v %v", err, resp.Error())
	}
	if low, _ := resp.Lookup("dr", 0); low.LowWatermark != 500 {
		t.Fatalf("low watermark %d, want 500", low.LowWatermark)
	}
	checkStart := func(want int64) {
		t.Helper()
		starts, err := adm.ListStartOffsets(ctx, "dr")
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := starts.Lookup("dr", 0); o.Offset != want {
			t.Fatalf("earliest offset %d, want %d", o.Offset, want)
		}
	}
	checkStart(500)
	b.Stop()
	b.Start()
	checkStart(500)
	got := consumeN(t, b.Addr, "dr", 1500)
	if got[0].Offset != 500 {
		t.Fatalf("first consumed offset %d, want 500", got[0].Offset)
	}

	// retention.bytes of one segment: the background check deletes the
	// rest of the old segments.
	keep := "20000"
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.bytes", Value: &keep}}, "dr"); err != nil {
		t.Fatalf("alter retention.bytes: %v", err)
	}
	if !testutil.WaitForEvery(10*time.Second, 100*time.Millisecond, func() bool {
		starts, err := adm.ListStartOffsets(ctx, "dr")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := starts.Lookup("dr", 0)
		return o.Offset > 1500
	}) {
		t.Fatalf("retention.bytes did not delete old segments within 10s")
	}
}
