package replica

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// storedEpochs returns the partition leader epoch of every stored batch
// below the high watermark, in offset order.
func storedEpochs(t *testing.T, p *Partition) []int32 {
	t.Helper()
	b, err := p.Read(p.LogStartOffset(), 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	var epochs []int32
	for len(b) > 0 {
		batch, rest, err := record.Next(b)
		if err != nil {
			t.Fatal(err)
		}
		h, err := record.ValidateStored(batch)
		if err != nil {
			t.Fatalf("stored batch fails validation: %v", err)
		}
		epochs = append(epochs, h.PartitionLeaderEpoch)
		b = rest
	}
	return epochs
}

// TestPartitionAppend: offsets are assigned in order, a retried batch of
// an idempotent producer is a duplicate that writes nothing, bad batches
// are refused with the client's Kafka error, and every stored batch
// carries the leader epoch of its append.
func TestPartitionAppend(t *testing.T) {
	c := newTestCluster(t)
	p := c.partition(3)
	steps := []struct {
		name      string
		records   []byte
		opts      AppendOptions
		epoch     int32 // the image's epoch before the append; 0 keeps it
		wantBase  int64
		wantNext  int64
		wantDup   bool
		wantErr   error
		wantEnd   int64 // log end offset after the step
		wantEpoch []int32
	}{
		{name: "first batch", records: testBatch(t, 3, -1, -1), wantBase: 0, wantNext: 3, wantEnd: 3, wantEpoch: []int32{3}},
		{name: "second batch", records: testBatch(t, 2, -1, -1), wantBase: 3, wantNext: 5, wantEnd: 5, wantEpoch: []int32{3, 3}},
		{name: "idempotent", records: testBatch(t, 2, 7, 0), wantBase: 5, wantNext: 7, wantEnd: 7, wantEpoch: []int32{3, 3, 3}},
		{name: "retry is a duplicate", records: testBatch(t, 2, 7, 0), wantBase: 5, wantNext: 7, wantDup: true, wantEnd: 7, wantEpoch: []int32{3, 3, 3}},
		{name: "sequence gap", records: testBatch(t, 1, 7, 5), wantErr: kerr.OutOfOrderSequenceNumber, wantEnd: 7, wantEpoch: []int32{3, 3, 3}},
		{name: "no records", records: nil, wantErr: record.ErrInvalidRecord, wantEnd: 7, wantEpoch: []int32{3, 3, 3}},
		{name: "too large", records: testBatch(t, 1, -1, -1), opts: AppendOptions{MaxMessageBytes: 10, Now: 1000},
			wantErr: kerr.MessageTooLarge, wantEnd: 7, wantEpoch: []int32{3, 3, 3}},
		{name: "new leader epoch", records: testBatch(t, 1, -1, -1), epoch: 4, wantBase: 7, wantNext: 8, wantEnd: 8, wantEpoch: []int32{3, 3, 3, 4}},
	}
	for _, s := range steps {
		if s.epoch != 0 {
			c.setTopic("t", 1, 1, testNode, s.epoch)
			c.reconcile()
		}
		opts := s.opts
		if opts.MaxMessageBytes == 0 {
			opts = appendOptions()
		}
		res, err := p.Append(s.records, opts)
		if s.wantErr != nil {
			if !errors.Is(err, s.wantErr) {
				t.Errorf("%s: err %v, want %v", s.name, err, s.wantErr)
			}
		} else if err != nil {
			t.Errorf("%s: %v", s.name, err)
		} else {
			if res.BaseOffset != s.wantBase || res.NextOffset != s.wantNext || res.Duplicate != s.wantDup {
				t.Errorf("%s: got %+v, want base %d next %d duplicate %v", s.name, res, s.wantBase, s.wantNext, s.wantDup)
			}
			if err := p.WaitDurable(context.Background(), res.NextOffset); err != nil {
				t.Fatalf("%s: WaitDurable: %v", s.name, err)
			}
		}
		if got := p.LogEndOffset(); got != s.wantEnd {
			t.Errorf("%s: log end %d, want %d", s.name, got, s.wantEnd)
		}
		if got := storedEpochs(t, p); !equalInt32s(got, s.wantEpoch) {
			t.Errorf("%s: stored epochs %v, want %v", s.name, got, s.wantEpoch)
		}
	}
}

func equalInt32s(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHighWatermark: with the durable default the high watermark moves
// only once an append is fsynced; with relaxed flushing it moves at the
// append. The log end moves at once either way, and a fetch never reads
// past the high watermark.
func TestHighWatermark(t *testing.T) {
	for _, tc := range []struct {
		name           string
		flushMessages  int64
		wantAfterWrite int64
	}{
		{"durable", 1, 0},
		{"relaxed", 1 << 40, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCluster(t)
			c.logConfig.FlushMessages = tc.flushMessages
			p := c.partition(0)
			res, err := p.Append(testBatch(t, 3, -1, -1), appendOptions())
			if err != nil {
				t.Fatal(err)
			}
			if hw, end := p.HighWatermark(), p.LogEndOffset(); hw != tc.wantAfterWrite || end != 3 {
				t.Fatalf("after the write: high watermark %d, log end %d; want %d, 3", hw, end, tc.wantAfterWrite)
			}
			f, err := p.Fetch(0, 1<<20, true)
			if err != nil {
				t.Fatal(err)
			}
			if f.HighWatermark != tc.wantAfterWrite || (f.Records.Len() > 0) != (tc.wantAfterWrite > 0) {
				t.Errorf("fetch before fsync: high watermark %d, %d bytes", f.HighWatermark, f.Records.Len())
			}
			f.Records.Release()
			if err := p.WaitDurable(context.Background(), res.NextOffset); err != nil {
				t.Fatal(err)
			}
			if hw := p.HighWatermark(); hw != 3 {
				t.Fatalf("after fsync: high watermark %d, want 3", hw)
			}
			f, err = p.Fetch(0, 1<<20, true)
			if err != nil || f.HighWatermark != 3 || f.Records.Len() == 0 {
				t.Fatalf("fetch after fsync: %+v, %v", f, err)
			}
			f.Records.Release()
		})
	}
}

// TestFetchOffsets: a fetch reports the log start and high watermark even
// when it reads nothing, and an offset outside the log is
// OFFSET_OUT_OF_RANGE.
func TestFetchOffsets(t *testing.T) {
	c := newTestCluster(t)
	p := c.partition(0)
	for range 3 {
		res, err := p.Append(testBatch(t, 2, -1, -1), appendOptions())
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitDurable(context.Background(), res.NextOffset); err != nil {
			t.Fatal(err)
		}
	}
	if low, err := p.DeleteRecordsBefore(2); err != nil || low != 2 || p.LogStartOffset() != 2 {
		t.Fatalf("DeleteRecordsBefore(2) = %d, %v; log start %d", low, err, p.LogStartOffset())
	}
	if _, err := p.DeleteRecordsBefore(7); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Errorf("DeleteRecordsBefore past the high watermark: %v, want OFFSET_OUT_OF_RANGE", err)
	}
	for _, tc := range []struct {
		name     string
		offset   int64
		maxBytes int
		minOne   bool
		wantErr  bool
		wantData bool
	}{
		{"offsets only", 2, 0, false, false, false},
		{"read", 2, 1 << 20, true, false, true},
		{"at the high watermark", 6, 1 << 20, true, false, false},
		{"below the log start", 1, 1 << 20, true, true, false},
		{"past the log end", 7, 1 << 20, true, true, false},
	} {
		f, err := p.Fetch(tc.offset, tc.maxBytes, tc.minOne)
		if tc.wantErr != (err != nil) || err != nil && !(errors.Is(err, kerr.OffsetOutOfRange) && errors.Is(err, ErrOffsetOutOfRange)) {
			t.Errorf("%s: err %v", tc.name, err)
		}
		if f.LogStartOffset != 2 || f.HighWatermark != 6 || (f.Records.Len() > 0) != tc.wantData {
			t.Errorf("%s: log start %d, high watermark %d, %d bytes", tc.name, f.LogStartOffset, f.HighWatermark, f.Records.Len())
		}
		f.Records.Release()
	}
}

// TestListOffsetReads: the by-timestamp and max-timestamp reads find the
// records Build stamped (timestamps 1000, 1001 per batch).
func TestListOffsetReads(t *testing.T) {
	c := newTestCluster(t)
	p := c.partition(0)
	if _, _, found, err := p.MaxTimestamp(); found || err != nil {
		t.Fatalf("MaxTimestamp of an empty partition: found %v, %v", found, err)
	}
	res, err := p.Append(testBatch(t, 2, -1, -1), appendOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitDurable(context.Background(), res.NextOffset); err != nil {
		t.Fatal(err)
	}
	if off, ts, found, err := p.MaxTimestamp(); !found || err != nil || off != 1 || ts != 1001 {
		t.Errorf("MaxTimestamp = %d, %d, %v, %v; want 1, 1001", off, ts, found, err)
	}
	if off, ts, found, err := p.OffsetForTimestamp(1001); !found || err != nil || off != 1 || ts != 1001 {
		t.Errorf("OffsetForTimestamp(1001) = %d, %d, %v, %v; want 1, 1001", off, ts, found, err)
	}
	if _, _, found, err := p.OffsetForTimestamp(2000); found || err != nil {
		t.Errorf("OffsetForTimestamp(2000): found %v, %v", found, err)
	}
}

// TestCheckLeaderEpoch follows Kafka's Partition.checkCurrentLeaderEpoch:
// an older client epoch is fenced, a newer one unknown, none (-1) passes.
func TestCheckLeaderEpoch(t *testing.T) {
	c := newTestCluster(t)
	p := c.partition(5)
	for _, tc := range []struct {
		current int32
		want    error
	}{
		{-1, nil},
		{5, nil},
		{4, kerr.FencedLeaderEpoch},
		{0, kerr.FencedLeaderEpoch},
		{6, kerr.UnknownLeaderEpoch},
	} {
		err := p.CheckLeaderEpoch(tc.current)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("CheckLeaderEpoch(%d) with epoch 5 = %v, want %v", tc.current, err, tc.want)
		}
	}
}

// TestLeaderEpochFollowsTheImage: the epoch comes from the image a request
// is checked against, even before the Manager reconciles it, and never
// goes back.
func TestLeaderEpochFollowsTheImage(t *testing.T) {
	c := newTestCluster(t)
	p := c.partition(2)
	c.setTopic("t", 1, 1, testNode, 3) // not reconciled yet
	if _, err := c.m.Leader("t", 0); err != nil {
		t.Fatal(err)
	}
	if leader, epoch := p.Leader(); leader != testNode || epoch != 3 {
		t.Errorf("after Leader with the image at epoch 3: leader %d epoch %d", leader, epoch)
	}
	if err := p.CheckLeaderEpoch(3); err != nil {
		t.Errorf("the image's epoch is refused: %v", err)
	}
	// An old image seen late.
	p.setAssignment(metadata.Partition{Replicas: []int32{testNode}, ISR: []int32{testNode}, Leader: testNode, LeaderEpoch: 2}, testNode, time.Now())
	if got := p.LeaderEpoch(); got != 3 {
		t.Errorf("epoch went back to %d", got)
	}
}

// TestWaitDurableCancelled: a waiter whose context ended gets its error,
// and the records it appended still reach the disk and the high
// watermark.
func TestWaitDurableCancelled(t *testing.T) {
	c := newTestCluster(t)
	p := c.partition(0)
	res, err := p.Append(testBatch(t, 1, -1, -1), appendOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.WaitDurable(ctx, res.NextOffset); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitDurable with a cancelled context = %v", err)
	}
	testutil.Eventually(t, 5*time.Second, "the high watermark to cover the abandoned append", func() bool {
		return p.HighWatermark() == res.NextOffset
	})
	// Already durable: a cancelled context no longer matters.
	if err := p.WaitDurable(ctx, res.NextOffset); err != nil {
		t.Errorf("WaitDurable of a durable offset = %v", err)
	}
}

// TestWaitDurableClosed: a waiter on a closed partition gets
// KAFKA_STORAGE_ERROR, not a hang.
func TestWaitDurableClosed(t *testing.T) {
	c := newTestCluster(t)
	p := c.partition(0)
	res, err := p.Append(testBatch(t, 1, -1, -1), appendOptions())
	if err != nil {
		t.Fatal(err)
	}
	c.deleteTopic("t")
	c.reconcile()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.WaitDurable(ctx, res.NextOffset); !errors.Is(err, kerr.KafkaStorageError) {
		t.Errorf("WaitDurable on a closed partition = %v", err)
	}
}
