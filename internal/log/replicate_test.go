package log

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/internal/record"
)

// replicatedBatch is faultBatch(i) placed at base with leader epoch epoch,
// as a leader's log holds it, and its header.
func replicatedBatch(t *testing.T, i int, base int64, epoch int32) ([]byte, record.Header, []int64) {
	t.Helper()
	spec, batch := faultBatch(t, i)
	record.SetBaseOffset(batch, base)
	record.SetPartitionLeaderEpoch(batch, epoch)
	h, err := record.ValidateStored(batch)
	if err != nil {
		t.Fatal(err)
	}
	return batch, h, spec.testTimestamps()
}

// copyLog copies leader's batches from offset to its log end into
// follower with AppendReplicated, as a follower's fetches do, in reads of
// maxBytes.
func copyLog(t *testing.T, leader, follower *Log, offset int64, maxBytes int) {
	t.Helper()
	for {
		sec, err := leader.ReadSectionToEnd(offset, maxBytes, true)
		if err != nil {
			t.Fatal(err)
		}
		if sec.Len() == 0 {
			return
		}
		b, err := sec.AppendTo(nil)
		sec.Release()
		if err != nil {
			t.Fatal(err)
		}
		for len(b) > 0 {
			batch, rest, err := record.Next(b)
			if err != nil {
				t.Fatal(err)
			}
			h, err := record.ValidateStored(batch)
			if err != nil {
				t.Fatal(err)
			}
			if err := follower.AppendReplicated(batch, h); err != nil {
				t.Fatalf("AppendReplicated at %d: %v", h.BaseOffset, err)
			}
			offset, b = h.NextOffset(), rest
		}
	}
}

// TestAppendReplicated: a follower that copies a leader's log batch by
// batch ends with the same files: the same segments, bytes (offsets and
// leader epochs kept) and index files, before and after a restart.
func TestAppendReplicated(t *testing.T) {
	cfg := smallConfig()
	leader := mustOpen(t, t.TempDir(), cfg, OpenOptions{})
	var ws []written
	for i := range 40 {
		spec, batch := faultBatch(t, i)
		h, err := record.Validate(batch)
		if err != nil {
			t.Fatal(err)
		}
		record.SetPartitionLeaderEpoch(batch, int32(i/10))
		base, err := leader.Append(batch, h)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, written{base: base, next: base + int64(h.NumRecords), bytes: bytes.Clone(batch), timestamps: spec.testTimestamps()})
	}
	fdir := t.TempDir()
	follower := mustOpen(t, fdir, cfg, OpenOptions{})
	copyLog(t, leader, follower, 0, 1500)
	if err := follower.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, hw, end := follower.Offsets(); hw != ws[39].next || end != ws[39].next {
		t.Fatalf("follower offsets hw %d end %d, want %d", hw, end, ws[39].next)
	}
	checkReadsBack(t, follower, ws)
	mustClose(t, leader)
	mustClose(t, follower)
	if !slices.Equal(segmentBases(t, leader.Dir()), segmentBases(t, fdir)) {
		t.Fatalf("follower segments %v, leader's %v", segmentBases(t, fdir), segmentBases(t, leader.Dir()))
	}
	for _, base := range segmentBases(t, fdir) {
		for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			name := segmentName(base) + suffix
			want, err1 := os.ReadFile(filepath.Join(leader.Dir(), name))
			got, err2 := os.ReadFile(filepath.Join(fdir, name))
			if err1 != nil || err2 != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s differs from the leader's (%v, %v)", name, err1, err2)
			}
		}
	}
	follower = mustOpen(t, fdir, cfg, OpenOptions{RecoveryPoint: -1})
	checkReadsBack(t, follower, ws)
}

// TestAppendReplicatedRefuses: a batch below the log end, one whose CRC
// does not match and one whose header was not its own are refused and
// leave the log as it was.
func TestAppendReplicatedRefuses(t *testing.T) {
	l := mustOpen(t, t.TempDir(), smallConfig(), OpenOptions{})
	batch, h, _ := replicatedBatch(t, 0, 10, 1)
	if err := l.AppendReplicated(batch, h); err != nil {
		t.Fatal(err)
	}
	batch, h, _ = replicatedBatch(t, 1, h.LastOffset(), 1)
	if err := l.AppendReplicated(batch, h); !errors.Is(err, ErrBelowLogEnd) {
		t.Fatalf("batch overlapping the log end: %v", err)
	}
	batch, h, _ = replicatedBatch(t, 1, 20, 1)
	batch[len(batch)-1] ^= 1
	if err := l.AppendReplicated(batch, h); !errors.Is(err, record.ErrCorrupt) {
		t.Fatalf("corrupt batch: %v", err)
	}
	batch, h, _ = replicatedBatch(t, 1, 20, 1)
	h.BaseOffset = 30
	if err := l.AppendReplicated(batch, h); err == nil {
		t.Fatal("batch with another's header appended")
	}
	if start, _, end := l.Offsets(); start != 0 || end != 11 {
		t.Fatalf("offsets start %d end %d after refusals, want 0 and 11", start, end)
	}
}

// TestAppendReplicatedGaps: batches past the log end leave gaps that
// reads step over; a gap past what 32-bit relative offsets reach rolls a
// new segment at the batch, or replaces an empty active segment; all of
// it survives a restart.
func TestAppendReplicatedGaps(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, smallConfig(), OpenOptions{})
	bases := []int64{5, 9, 100, 1 << 32, 1<<32 + 10, 3 << 32}
	var hs []record.Header
	for i, base := range bases {
		batch, h, _ := replicatedBatch(t, i, base, int32(i))
		if err := l.AppendReplicated(batch, h); err != nil {
			t.Fatalf("AppendReplicated at %d: %v", base, err)
		}
		hs = append(hs, h)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	// The first segment stayed at 0 (it fits), then 1<<32 and 3<<32 did not.
	wantBases := []int64{0, 1 << 32, 3 << 32}
	check := func(l *Log) {
		t.Helper()
		if got := segmentBases(t, dir); !slices.Equal(got, wantBases) {
			t.Fatalf("segments %v, want %v", got, wantBases)
		}
		if _, hw, end := l.Offsets(); end != hs[len(hs)-1].NextOffset() || hw != end {
			t.Fatalf("hw %d end %d, want both %d", hw, end, hs[len(hs)-1].NextOffset())
		}
		for i, h := range hs {
			from := int64(0)
			if i > 0 {
				from = hs[i-1].NextOffset()
			}
			b, err := l.Read(from, 1, true)
			if err != nil {
				t.Fatalf("read at %d: %v", from, err)
			}
			got := splitBatches(t, b)
			if len(got) != 1 || got[0] != h {
				t.Fatalf("read at %d (a gap before %d) returned %+v", from, h.BaseOffset, got)
			}
		}
	}
	check(l)
	mustClose(t, l)
	l = mustOpen(t, dir, smallConfig(), OpenOptions{RecoveryPoint: -1})
	check(l)
	mustClose(t, l)

	// An empty log whose first batch lies past its segment's reach.
	dir = t.TempDir()
	l = mustOpen(t, dir, smallConfig(), OpenOptions{})
	batch, h, _ := replicatedBatch(t, 0, 5<<32, 0)
	if err := l.AppendReplicated(batch, h); err != nil {
		t.Fatal(err)
	}
	if got := segmentBases(t, dir); !slices.Equal(got, []int64{5 << 32}) {
		t.Fatalf("segments %v, want the empty one replaced by %d", got, int64(5<<32))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if b, err := l.Read(h.BaseOffset, 1<<20, true); err != nil || len(splitBatches(t, b)) != 1 {
		t.Fatalf("read of the batch: %v", err)
	}
}

// TestAppendReplicatedRelaxed: with relaxed flushing a replicated batch
// is readable once written, as an appended one is.
func TestAppendReplicatedRelaxed(t *testing.T) {
	l := mustOpen(t, t.TempDir(), relaxedConfig(), OpenOptions{})
	batch, h, _ := replicatedBatch(t, 0, 7, 3)
	if err := l.AppendReplicated(batch, h); err != nil {
		t.Fatal(err)
	}
	if _, hw, end := l.Offsets(); hw != h.NextOffset() || end != hw {
		t.Fatalf("hw %d end %d, want both %d", hw, end, h.NextOffset())
	}
}
