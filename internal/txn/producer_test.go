package txn

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/record"
)

// batch is the part of a batch header that producer state looks at.
type batch struct {
	producerID int64
	epoch      int16
	seq        int32 // baseSequence
	records    int32
}

func (b batch) header(baseOffset, maxTimestamp int64) record.Header {
	return record.Header{
		BaseOffset:      baseOffset,
		Magic:           record.Magic,
		LastOffsetDelta: b.records - 1,
		NumRecords:      b.records,
		BaseTimestamp:   maxTimestamp,
		MaxTimestamp:    maxTimestamp,
		ProducerID:      b.producerID,
		ProducerEpoch:   b.epoch,
		BaseSequence:    b.seq,
	}
}

// Outcomes of a step, as written in the tables.
const (
	accepted      = "accepted"
	outOfOrder    = "OUT_OF_ORDER_SEQUENCE_NUMBER"
	invalidEpoch  = "INVALID_PRODUCER_EPOCH"
	duplicateOf   = "duplicate of step " // followed by the step index
	unknownResult = "unexpected"
)

// step is one produce attempt; accepted batches are appended (Update) at
// the fake log's end, as the partition does.
type step struct {
	batch
	want string
}

func dup(stepIndex int) string { return fmt.Sprint(duplicateOf, stepIndex) }

// runSteps plays steps against fresh producer state and checks each
// outcome. A duplicate must come back with the base offset and timestamp
// the original step was appended with.
func runSteps(t *testing.T, steps []step) *Partition {
	t.Helper()
	p := NewPartition()
	var logEnd int64
	appendedAt := map[int]record.Header{}
	for i, s := range steps {
		ts := int64(1000 + i)
		h := s.header(logEnd, ts)
		d, err := p.Check(h)
		var got string
		switch {
		case err == nil && d == nil:
			got = accepted
		case err == nil:
			got = unknownResult
			for j, orig := range appendedAt {
				if orig.BaseOffset == d.BaseOffset && orig.MaxTimestamp == d.Timestamp {
					got = dup(j)
				}
			}
		case errors.Is(err, kerr.OutOfOrderSequenceNumber):
			got = outOfOrder
		case errors.Is(err, kerr.InvalidProducerEpoch):
			got = invalidEpoch
		default:
			got = fmt.Sprintf("error %v", err)
		}
		if err != nil && d != nil {
			t.Fatalf("step %d: both a duplicate and an error", i)
		}
		if got != s.want {
			t.Fatalf("step %d (%+v): %s (err %v), want %s", i, s.batch, got, err, s.want)
		}
		if got == accepted {
			p.Update(h, ts)
			appendedAt[i] = h
			logEnd += int64(s.records)
		}
	}
	return p
}

func TestCheckAndUpdate(t *testing.T) {
	const pid = 7
	b := func(epoch int16, seq, records int32) batch { return batch{pid, epoch, seq, records} }
	cases := []struct {
		name  string
		steps []step
	}{
		{"unknown producer may start at zero", []step{
			{b(0, 0, 1), accepted},
		}},
		{"unknown producer may start at any sequence", []step{
			{b(3, 4711, 2), accepted},
			{b(3, 4713, 1), accepted},
		}},
		{"unknown producer may start at MaxInt32", []step{
			{b(0, math.MaxInt32, 1), accepted},
			{b(0, 0, 1), accepted},
		}},
		{"in sequence", []step{
			{b(0, 0, 3), accepted},
			{b(0, 3, 1), accepted},
			{b(0, 4, 10), accepted},
			{b(0, 14, 1), accepted},
		}},
		{"gap", []step{
			{b(0, 0, 3), accepted},
			{b(0, 4, 1), outOfOrder},
			{b(0, 3, 1), accepted},
		}},
		{"sequence before the next, not a duplicate", []step{
			{b(0, 0, 3), accepted},
			{b(0, 3, 3), accepted},
			{b(0, 2, 1), outOfOrder}, // inside an appended batch
			{b(0, 3, 2), outOfOrder}, // same first sequence, other last sequence
			{b(0, 6, 1), accepted},
		}},
		{"duplicate of each of the last five", []step{
			{b(0, 0, 2), accepted},  // 0: sixth oldest once step 5 is in
			{b(0, 2, 1), accepted},  // 1
			{b(0, 3, 4), accepted},  // 2
			{b(0, 7, 1), accepted},  // 3
			{b(0, 8, 2), accepted},  // 4
			{b(0, 10, 1), accepted}, // 5
			{b(0, 10, 1), dup(5)},
			{b(0, 8, 2), dup(4)},
			{b(0, 7, 1), dup(3)},
			{b(0, 3, 4), dup(2)},
			{b(0, 2, 1), dup(1)},
			// Kafka keeps five batches: the sixth oldest is no longer
			// known, and its sequence is not the next one.
			{b(0, 0, 2), outOfOrder},
			{b(0, 11, 1), accepted},
			{b(0, 2, 1), outOfOrder}, // step 1 has now dropped out too
			{b(0, 3, 4), dup(2)},
		}},
		{"duplicate of the first batch while it is remembered", []step{
			{b(0, 0, 5), accepted},
			{b(0, 0, 5), dup(0)},
			{b(0, 0, 5), dup(0)},
			{b(0, 5, 1), accepted},
		}},
		{"older epoch", []step{
			{b(2, 0, 1), accepted},
			{b(1, 1, 1), invalidEpoch},
			{b(1, 0, 1), invalidEpoch},
			{b(0, 0, 1), invalidEpoch},
			{b(2, 1, 1), accepted},
		}},
		{"newer epoch at sequence zero", []step{
			{b(0, 0, 3), accepted},
			{b(0, 3, 1), accepted},
			{b(1, 0, 2), accepted},
			{b(1, 0, 2), dup(2)},
			{b(1, 2, 1), accepted},
			// The old epoch is fenced, its batches included.
			{b(0, 3, 1), invalidEpoch},
			{b(0, 4, 1), invalidEpoch},
		}},
		{"newer epoch at another sequence", []step{
			{b(0, 0, 3), accepted},
			{b(1, 3, 1), outOfOrder},
			{b(1, 1, 1), outOfOrder},
			{b(5, 0, 1), accepted},
		}},
		{"duplicates are per epoch", []step{
			{b(0, 0, 1), accepted},
			{b(1, 0, 1), accepted},
			{b(1, 0, 1), dup(1)},
			{b(2, 0, 1), accepted}, // same sequence, new epoch: new batch
		}},
		{"sequence wraps at MaxInt32", []step{
			{b(0, math.MaxInt32-1, 1), accepted},
			{b(0, math.MaxInt32, 1), accepted},
			{b(0, 0, 1), accepted},
			{b(0, 1, 1), accepted},
		}},
		{"batch spanning the wrap continues after it", []step{
			{b(0, math.MaxInt32-5, 6), accepted}, // MaxInt32-5 .. MaxInt32
			{b(0, 0, 3), accepted},               // 0..2
			{b(0, 3, 1), accepted},
			{b(0, math.MaxInt32-5, 6), dup(0)},
		}},
		{"batch crossing the wrap", []step{
			{b(0, math.MaxInt32-2, 1), accepted},
			{b(0, math.MaxInt32-1, 4), accepted}, // MaxInt32-1, MaxInt32, 0, 1
			{b(0, 1, 1), outOfOrder},
			{b(0, math.MaxInt32-1, 4), dup(1)},
			{b(0, 2, 1), accepted},
		}},
		{"after MaxInt32 comes only zero", []step{
			{b(0, math.MaxInt32, 1), accepted},
			{b(0, math.MaxInt32, 1), dup(0)},
			{b(0, 1, 1), outOfOrder},
			{b(0, 0, 1), accepted},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runSteps(t, c.steps) })
	}
}

func TestProducersAreIndependent(t *testing.T) {
	runSteps(t, []step{
		{batch{1, 0, 0, 2}, accepted},
		{batch{2, 4, 100, 1}, accepted},
		{batch{1, 0, 2, 1}, accepted},
		{batch{2, 4, 101, 1}, accepted},
		{batch{2, 4, 2, 1}, outOfOrder}, // producer 1's next sequence, not 2's
		{batch{1, 4, 0, 1}, accepted},   // a new epoch for 1 leaves 2 alone
		{batch{2, 3, 102, 1}, invalidEpoch},
		{batch{2, 4, 100, 1}, dup(1)},
	})
}

// TestNoProducerID: batches from producers without idempotence are never
// checked and leave no state behind.
func TestNoProducerID(t *testing.T) {
	p := runSteps(t, []step{
		{batch{-1, -1, -1, 3}, accepted},
		{batch{-1, -1, -1, 3}, accepted},
		{batch{-1, -1, -1, 1}, accepted},
	})
	if p.Len() != 0 {
		t.Fatalf("%d producers tracked for batches without a producer id", p.Len())
	}
}

func TestErrorsNameTheProducer(t *testing.T) {
	p := NewPartition()
	p.Update(batch{42, 3, 0, 1}.header(0, 0), 0)
	for _, h := range []record.Header{batch{42, 2, 1, 1}.header(1, 0), batch{42, 3, 5, 1}.header(1, 0), batch{42, 4, 5, 1}.header(1, 0)} {
		if _, err := p.Check(h); err == nil || !strings.Contains(err.Error(), "producer 42") {
			t.Fatalf("error %v does not name the producer", err)
		}
	}
}

func TestExpire(t *testing.T) {
	p := NewPartition()
	p.Update(batch{1, 0, 0, 1}.header(0, 0), 100)
	p.Update(batch{2, 0, 0, 1}.header(1, 0), 200)
	p.Update(batch{3, 0, 0, 1}.header(2, 0), 150)
	p.Update(batch{3, 0, 1, 1}.header(3, 0), 300) // an append refreshes the clock
	if p.Len() != 3 {
		t.Fatalf("Len %d, want 3", p.Len())
	}
	p.Expire(200) // idle since before 200: producer 1 only
	if p.Len() != 2 {
		t.Fatalf("Len %d after Expire(200), want 2", p.Len())
	}
	// An expired producer is unknown again: any sequence is accepted, and
	// its old batches are no longer duplicates.
	if d, err := p.Check(batch{1, 0, 57, 1}.header(4, 0)); d != nil || err != nil {
		t.Fatalf("expired producer: duplicate %v, err %v", d, err)
	}
	if d, err := p.Check(batch{1, 0, 0, 1}.header(4, 0)); d != nil || err != nil {
		t.Fatalf("expired producer's old batch: duplicate %v, err %v", d, err)
	}
	// The others keep their state.
	if _, err := p.Check(batch{2, 0, 5, 1}.header(4, 0)); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("producer 2 after expiry of 1: %v", err)
	}
	if d, _ := p.Check(batch{3, 0, 1, 1}.header(4, 0)); d == nil || d.BaseOffset != 3 {
		t.Fatalf("producer 3 duplicate after expiry of 1: %+v", d)
	}
	p.Expire(301)
	if p.Len() != 0 {
		t.Fatalf("Len %d after expiring everything", p.Len())
	}
}

// TestRebuildFromLog replays appended batches through Update, as the
// partition does from ScanHeaders at start-up, and checks that the rebuilt
// state answers like the state that saw the appends.
func TestRebuildFromLog(t *testing.T) {
	live := NewPartition()
	var appended []record.Header
	var logEnd int64
	for i := range 20 {
		h := batch{int64(i % 3), 1, int32(i / 3 * 2), 2}.header(logEnd, int64(i))
		if d, err := live.Check(h); d != nil || err != nil {
			t.Fatalf("batch %d: %v %v", i, d, err)
		}
		live.Update(h, 0)
		appended = append(appended, h)
		logEnd += 2
	}
	rebuilt := NewPartition()
	for _, h := range appended {
		rebuilt.Update(h, 0)
	}
	for i, h := range appended {
		d1, err1 := live.Check(h)
		d2, err2 := rebuilt.Check(h)
		if (d1 == nil) != (d2 == nil) || (d1 != nil && *d1 != *d2) || (err1 == nil) != (err2 == nil) {
			t.Fatalf("batch %d: live %v %v, rebuilt %v %v", i, d1, err1, d2, err2)
		}
	}
}
