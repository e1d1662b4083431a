package replica

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/vfs"
	"github.com/sluice-dev/sluice/internal/vfs/errorfs"
)

// e is a short EpochEntry for tables.
func e(epoch int32, start int64) EpochEntry { return EpochEntry{epoch, start} }

// TestAssignEpoch: Kafka's LeaderEpochFileCache.assign. A new latest
// epoch is appended; the latest epoch again at a later offset changes
// nothing; an entry that breaks monotonicity drops the entries it
// conflicts with from the end (a follower truncating, later).
func TestAssignEpoch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []EpochEntry
		assign  EpochEntry
		want    []EpochEntry
		changed bool
	}{
		{"first", nil, e(0, 0), []EpochEntry{e(0, 0)}, true},
		{"newer epoch", []EpochEntry{e(0, 0)}, e(2, 10), []EpochEntry{e(0, 0), e(2, 10)}, true},
		{"same epoch later", []EpochEntry{e(0, 0), e(2, 10)}, e(2, 15), []EpochEntry{e(0, 0), e(2, 10)}, false},
		{"same epoch same offset", []EpochEntry{e(2, 10)}, e(2, 10), []EpochEntry{e(2, 10)}, false},
		{"same epoch earlier", []EpochEntry{e(0, 0), e(2, 10)}, e(2, 5), []EpochEntry{e(0, 0), e(2, 5)}, true},
		{"newer epoch same offset", []EpochEntry{e(0, 0), e(2, 10)}, e(3, 10), []EpochEntry{e(0, 0), e(3, 10)}, true},
		{"newer epoch earlier offset", []EpochEntry{e(0, 0), e(2, 10), e(3, 20)}, e(4, 15), []EpochEntry{e(0, 0), e(2, 10), e(4, 15)}, true},
		{"older epoch", []EpochEntry{e(0, 0), e(2, 10), e(3, 20)}, e(1, 30), []EpochEntry{e(0, 0), e(1, 30)}, true},
	} {
		got, changed := assignEpoch(slices.Clone(tc.entries), tc.assign)
		if !slices.Equal(got, tc.want) || changed != tc.changed {
			t.Errorf("%s: assign %v to %v = %v (changed %v), want %v (changed %v)", tc.name, tc.assign, tc.entries, got, changed, tc.want, tc.changed)
		}
	}
}

// TestTruncateEpochs: from the end, entries starting at or past the new
// log end go; from the start, entries below the new log start go and the
// one covering it starts there (truncateFromStart(6) keeps an entry at 6).
func TestTruncateEpochs(t *testing.T) {
	entries := []EpochEntry{e(0, 0), e(2, 10), e(5, 20)}
	for _, tc := range []struct {
		end  int64
		want []EpochEntry
	}{
		{30, entries},
		{21, entries},
		{20, []EpochEntry{e(0, 0), e(2, 10)}},
		{11, []EpochEntry{e(0, 0), e(2, 10)}},
		{10, []EpochEntry{e(0, 0)}},
		{0, []EpochEntry{}},
		{-1, entries}, // Kafka ignores a negative end offset
	} {
		if got := truncateEpochsFromEnd(slices.Clone(entries), tc.end); !slices.Equal(got, tc.want) {
			t.Errorf("truncate from end at %d = %v, want %v", tc.end, got, tc.want)
		}
	}
	for _, tc := range []struct {
		start int64
		want  []EpochEntry
	}{
		{0, entries},
		{6, []EpochEntry{e(0, 6), e(2, 10), e(5, 20)}},
		{10, []EpochEntry{e(2, 10), e(5, 20)}},
		{15, []EpochEntry{e(2, 15), e(5, 20)}},
		{25, []EpochEntry{e(5, 25)}},
	} {
		before := slices.Clone(entries)
		if got := truncateEpochsFromStart(entries, tc.start); !slices.Equal(got, tc.want) {
			t.Errorf("truncate from start at %d = %v, want %v", tc.start, got, tc.want)
		}
		if !slices.Equal(entries, before) {
			t.Fatalf("truncate from start at %d changed its input to %v", tc.start, entries)
		}
	}
}

// TestEndOffsetForEpoch: Kafka's LeaderEpochFileCache.endOffsetFor.
func TestEndOffsetForEpoch(t *testing.T) {
	entries := []EpochEntry{e(2, 5), e(4, 10), e(7, 20)}
	const logEnd = 30
	for _, tc := range []struct {
		name      string
		entries   []EpochEntry
		requested int32
		epoch     int32
		end       int64
	}{
		{"latest epoch ends at the log end", entries, 7, 7, logEnd},
		{"an epoch ends where the next starts", entries, 4, 4, 20},
		{"the first epoch", entries, 2, 2, 10},
		{"an unknown epoch between: the largest below it", entries, 5, 4, 20},
		{"an unknown epoch between, first gap", entries, 3, 2, 10},
		{"older than the first: itself and the first start", entries, 1, 1, 5},
		{"epoch 0 older than the first", entries, 0, 0, 5},
		{"newer than the latest", entries, 8, -1, -1},
		{"undefined", entries, -1, -1, -1},
		{"empty cache", nil, 0, -1, -1},
		{"one entry, latest", []EpochEntry{e(0, 0)}, 0, 0, logEnd},
		{"the largest epoch there is", entries, 1<<31 - 1, -1, -1},
	} {
		epoch, end := endOffsetForEpoch(tc.entries, tc.requested, logEnd)
		if epoch != tc.epoch || end != tc.end {
			t.Errorf("%s: endOffsetFor(%d) = %d, %d; want %d, %d", tc.name, tc.requested, epoch, end, tc.epoch, tc.end)
		}
	}
}

// TestEpochForOffset: Kafka's epochForOffset.
func TestEpochForOffset(t *testing.T) {
	entries := []EpochEntry{e(2, 5), e(4, 10), e(7, 20)}
	for _, tc := range []struct {
		offset int64
		want   int32
	}{{0, -1}, {4, -1}, {5, 2}, {9, 2}, {10, 4}, {19, 4}, {20, 7}, {1 << 40, 7}, {1<<63 - 1, 7}} {
		if got := epochForOffset(entries, tc.offset); got != tc.want {
			t.Errorf("epochForOffset(%d) = %d, want %d", tc.offset, got, tc.want)
		}
	}
	if got := epochForOffset(nil, 0); got != -1 {
		t.Errorf("epochForOffset on an empty cache = %d, want -1", got)
	}
}

// TestEpochCheckpointFormat: Kafka's leader-epoch-checkpoint text survives
// a round trip byte for byte, and what Kafka would refuse is refused.
func TestEpochCheckpointFormat(t *testing.T) {
	entries := []EpochEntry{e(0, 0), e(3, 120), e(4, 1<<40)}
	text := "0\n3\n0 0\n3 120\n4 1099511627776\n"
	if got := string(formatEpochCheckpoint(entries)); got != text {
		t.Errorf("format = %q, want %q", got, text)
	}
	if got, err := parseEpochCheckpoint([]byte(text)); err != nil || !slices.Equal(got, entries) {
		t.Errorf("parse = %v, %v; want %v", got, err, entries)
	}
	if got, err := parseEpochCheckpoint([]byte("0\n0\n")); err != nil || len(got) != 0 {
		t.Errorf("parse of an empty checkpoint = %v, %v", got, err)
	}
	// Kafka splits on any whitespace.
	if got, err := parseEpochCheckpoint([]byte("0\n1\n2   7\n")); err != nil || !slices.Equal(got, []EpochEntry{e(2, 7)}) {
		t.Errorf("parse with spaces = %v, %v", got, err)
	}
	for name, bad := range map[string]string{
		"empty":           "",
		"version 1":       "1\n1\n0 0\n",
		"no count":        "0\n",
		"count too big":   "0\n2\n0 0\n",
		"count too small": "0\n1\n0 0\n1 5\n",
		"three fields":    "0\n1\n0 0 0\n",
		"not a number":    "0\n1\nx 0\n",
		"negative epoch":  "0\n1\n-1 0\n",
		"negative start":  "0\n1\n0 -5\n",
		"huge count":      "0\n99999999999\n",
	} {
		if got, err := parseEpochCheckpoint([]byte(bad)); !errors.Is(err, errBadEpochCheckpoint) {
			t.Errorf("%s: parse %q = %v, %v; want errBadEpochCheckpoint", name, bad, got, err)
		}
	}
}

// scanOf runs an epochScan over batches given as (base, last, epoch).
func scanOf(logStart int64, batches ...[3]int64) *epochScan {
	s := &epochScan{logStart: logStart}
	for _, b := range batches {
		s.observe(record.Header{BaseOffset: b[0], LastOffsetDelta: int32(b[1] - b[0]), PartitionLeaderEpoch: int32(b[2])})
	}
	return s
}

// TestEpochScan: the runs of a log's batches give the cache a rebuild
// starts from: one entry per epoch at its first batch, clamped to the log
// start; batches without an epoch, wholly below the log start, or with an
// epoch older than one seen are skipped.
func TestEpochScan(t *testing.T) {
	s := scanOf(4,
		[3]int64{0, 2, 0},   // wholly below the log start
		[3]int64{3, 5, 1},   // straddles it: epoch 1 starts at 4
		[3]int64{6, 6, 1},   // same epoch
		[3]int64{7, 7, -1},  // no epoch
		[3]int64{8, 9, 3},   // new epoch
		[3]int64{10, 10, 2}, // older: skipped
		[3]int64{11, 12, 3},
	)
	want := []EpochEntry{e(1, 4), e(3, 8)}
	if got := s.entries(); !slices.Equal(got, want) {
		t.Errorf("entries = %v, want %v", got, want)
	}
	if got := s.runs[1].last; got != 12 {
		t.Errorf("epoch 3's last offset %d, want 12", got)
	}
}

// TestReconcileEpochs: a checkpoint is fitted to the log as Kafka's log
// loading does, and refused when the log's batches contradict it.
func TestReconcileEpochs(t *testing.T) {
	for _, tc := range []struct {
		name       string
		checkpoint []EpochEntry
		scan       *epochScan
		logEnd     int64
		want       []EpochEntry
		ok         bool
	}{
		{"matches", []EpochEntry{e(0, 0), e(2, 10)},
			scanOf(0, [3]int64{0, 9, 0}, [3]int64{10, 14, 2}), 15, []EpochEntry{e(0, 0), e(2, 10)}, true},
		{"an epoch started without data stays", []EpochEntry{e(0, 0), e(2, 10), e(4, 12)},
			scanOf(0, [3]int64{0, 9, 0}, [3]int64{10, 11, 2}), 13, []EpochEntry{e(0, 0), e(2, 10), e(4, 12)}, true},
		{"an entry at or past the log end goes (recovery cut)", []EpochEntry{e(0, 0), e(2, 10), e(4, 12)},
			scanOf(0, [3]int64{0, 9, 0}, [3]int64{10, 11, 2}), 12, []EpochEntry{e(0, 0), e(2, 10)}, true},
		{"the log start moves the first entry", []EpochEntry{e(0, 0), e(2, 10)},
			scanOf(12, [3]int64{10, 14, 2}), 15, []EpochEntry{e(2, 12)}, true},
		{"batches newer than the checkpoint are added", []EpochEntry{e(0, 0)},
			scanOf(0, [3]int64{0, 9, 0}, [3]int64{10, 14, 5}), 15, []EpochEntry{e(0, 0), e(5, 10)}, true},
		{"an empty checkpoint takes the log's", []EpochEntry{},
			scanOf(0, [3]int64{0, 9, 1}), 10, []EpochEntry{e(1, 0)}, true},
		{"an epoch boundary in the wrong place", []EpochEntry{e(0, 0), e(2, 8)},
			scanOf(0, [3]int64{0, 9, 0}, [3]int64{10, 14, 2}), 15, nil, false},
		{"an epoch the checkpoint lacks", []EpochEntry{e(0, 0), e(3, 10)},
			scanOf(0, [3]int64{0, 9, 0}, [3]int64{10, 14, 2}, [3]int64{15, 16, 3}), 17, nil, false},
		{"the log starts before the checkpoint", []EpochEntry{e(2, 10)},
			scanOf(0, [3]int64{0, 9, 0}, [3]int64{10, 14, 2}), 15, nil, false},
	} {
		got, ok := reconcileEpochs(tc.checkpoint, tc.scan, tc.logEnd)
		if ok != tc.ok || ok && !slices.Equal(got, tc.want) {
			t.Errorf("%s: reconcile = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestEpochCacheWriteFailure: a checkpoint write that fails leaves the
// cache right in memory and the old file in place (the write is atomic),
// and the next flush writes it.
func TestEpochCacheWriteFailure(t *testing.T) {
	dir := t.TempDir()
	fs := errorfs.Wrap(vfs.Default)
	c := newEpochCache(fs, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c.assign(0, 0)
	fsync := fs.Inject(errorfs.Rule{Op: errorfs.OpSync, Path: "*" + epochCheckpointFile + "*"})
	c.assign(3, 10)
	if fsync.Fired() == 0 {
		t.Fatal("the rule never fired")
	}
	if got := c.snapshot(); !slices.Equal(got, []EpochEntry{e(0, 0), e(3, 10)}) || c.latestEpoch() != 3 {
		t.Errorf("cache after a failed write %v (latest %d)", got, c.latestEpoch())
	}
	file := filepath.Join(dir, epochCheckpointFile)
	if b, err := os.ReadFile(file); err != nil || string(b) != "0\n1\n0 0\n" {
		t.Errorf("file after a failed write %q, %v; want the previous one", b, err)
	}
	if err := c.flushIfDirty(); err == nil {
		t.Error("flush with the disk still failing succeeded")
	}
	fsync.Remove()
	if err := c.flushIfDirty(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "0\n2\n0 0\n3 10\n" {
		t.Errorf("file after the retry %q, %v", b, err)
	}
}
