package replica

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer collects log output written from any goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// restart closes the Manager, as a clean shutdown does, and opens a new
// one over the same dirs whose logs go to out, reconciled to the image.
func (c *testCluster) restart(out *lockedBuffer) {
	c.t.Helper()
	if err := c.m.Close(); err != nil {
		c.t.Fatal(err)
	}
	m, err := NewManager(Config{Dirs: c.m.dirs, NodeID: testNode, Image: c.image.Load,
		Logger: slog.New(slog.NewTextHandler(out, nil))})
	if err != nil {
		c.t.Fatal(err)
	}
	c.m = m
	c.t.Cleanup(func() { m.Close() })
	c.reconcile()
}

// checkpointOf reads t-0's leader-epoch-checkpoint.
func checkpointOf(t *testing.T, c *testCluster) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.m.dirs[0], "t-0", epochCheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// leader returns t-0 as led here in the current image.
func (c *testCluster) leader() *Partition {
	c.t.Helper()
	p, err := c.m.Leader("t", 0)
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

// TestPartitionEpochCache: becoming leader puts the epoch in the cache at
// the log end, before any append (Kafka's makeLeader), and writes the
// checkpoint; appends in the same epoch change nothing; a new epoch from
// a reconcile or from a request's image does; OffsetForLeaderEpoch and
// ListOffsets answer from it.
func TestPartitionEpochCache(t *testing.T) {
	c := newTestCluster(t)
	p := c.partition(3)
	if got, want := p.LeaderEpochs(), []EpochEntry{e(3, 0)}; !slices.Equal(got, want) {
		t.Errorf("cache of a new leader %v, want %v", got, want)
	}
	if got := checkpointOf(t, c); got != "0\n1\n3 0\n" {
		t.Errorf("checkpoint %q", got)
	}
	appendDurable(t, p, 3)
	appendDurable(t, p, 2)
	c.setTopic("t", 1, 1, testNode, 5)
	c.reconcile()
	appendDurable(t, p, 4)
	c.setTopic("t", 1, 1, testNode, 6) // not reconciled: the request path learns it
	p = c.leader()
	appendDurable(t, p, 1)
	want := []EpochEntry{e(3, 0), e(5, 5), e(6, 9)}
	if got := p.LeaderEpochs(); !slices.Equal(got, want) {
		t.Errorf("cache %v, want %v", got, want)
	}
	if got := checkpointOf(t, c); got != "0\n3\n3 0\n5 5\n6 9\n" {
		t.Errorf("checkpoint %q", got)
	}
	if got := storedEpochs(t, p); !slices.Equal(got, []int32{3, 3, 5, 6}) {
		t.Errorf("stored batch epochs %v", got)
	}
	for _, tc := range []struct {
		requested, epoch int32
		end              int64
	}{{3, 3, 5}, {4, 3, 5}, {5, 5, 9}, {6, 6, 10}, {7, -1, -1}, {2, 2, 0}, {-1, -1, -1}} {
		if epoch, end := p.EndOffsetForEpoch(tc.requested); epoch != tc.epoch || end != tc.end {
			t.Errorf("EndOffsetForEpoch(%d) = %d, %d; want %d, %d", tc.requested, epoch, end, tc.epoch, tc.end)
		}
	}
	for offset, want := range map[int64]int32{0: 3, 4: 3, 5: 5, 8: 5, 9: 6} {
		if got := p.EpochForOffset(offset); got != want {
			t.Errorf("EpochForOffset(%d) = %d, want %d", offset, got, want)
		}
	}
	if got := p.EarliestEpoch(); got != 3 {
		t.Errorf("EarliestEpoch = %d, want 3", got)
	}
}

// TestPartitionEpochCacheLogStart: moving the log start moves the cache's
// first entry to it and drops the entries wholly below (Kafka's
// truncateFromStart), in the checkpoint too.
func TestPartitionEpochCacheLogStart(t *testing.T) {
	c := newTestCluster(t)
	p := c.partition(1)
	appendDurable(t, p, 3)
	c.setTopic("t", 1, 1, testNode, 2)
	p = c.leader()
	appendDurable(t, p, 3)
	appendDurable(t, p, 3)
	for _, tc := range []struct {
		start int64
		want  []EpochEntry
		file  string
	}{
		{2, []EpochEntry{e(1, 2), e(2, 3)}, "0\n2\n1 2\n2 3\n"},
		{3, []EpochEntry{e(2, 3)}, "0\n1\n2 3\n"},
		{7, []EpochEntry{e(2, 7)}, "0\n1\n2 7\n"},
	} {
		if _, err := p.DeleteRecordsBefore(tc.start); err != nil {
			t.Fatal(err)
		}
		if got := p.LeaderEpochs(); !slices.Equal(got, tc.want) {
			t.Errorf("log start %d: cache %v, want %v", tc.start, got, tc.want)
		}
		if got := checkpointOf(t, c); got != tc.file {
			t.Errorf("log start %d: checkpoint %q, want %q", tc.start, got, tc.file)
		}
		if got := p.EarliestEpoch(); got != tc.want[0].Epoch {
			t.Errorf("log start %d: EarliestEpoch %d, want %d", tc.start, got, tc.want[0].Epoch)
		}
	}
}

// TestPartitionEpochCacheReopen: on open the checkpoint is read and fitted
// to the log; a missing, corrupt or contradicted one is rebuilt from the
// batches' partitionLeaderEpoch, the last two with a warning.
func TestPartitionEpochCacheReopen(t *testing.T) {
	for _, tc := range []struct {
		name       string
		checkpoint *string // nil removes the file
		want       []EpochEntry
		warning    string
	}{
		{name: "kept", want: []EpochEntry{e(1, 0), e(2, 3), e(4, 6)}},
		{name: "missing", checkpoint: nil, want: []EpochEntry{e(1, 0), e(2, 3), e(4, 6)}},
		{name: "corrupt", checkpoint: ptr("0\n3\n1 0\n"), want: []EpochEntry{e(1, 0), e(2, 3), e(4, 6)}, warning: "unreadable"},
		{name: "contradicted", checkpoint: ptr("0\n2\n1 0\n2 1\n"), want: []EpochEntry{e(1, 0), e(2, 3), e(4, 6)}, warning: "does not match"},
		{name: "entries past the log end dropped", checkpoint: ptr("0\n4\n1 0\n2 3\n3 6\n9 100\n"), want: []EpochEntry{e(1, 0), e(2, 3), e(4, 6)}},
		{name: "non-monotonic entries assigned as Kafka does", checkpoint: ptr("0\n3\n0 0\n1 0\n2 3\n"), want: []EpochEntry{e(1, 0), e(2, 3), e(4, 6)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCluster(t)
			p := c.partition(1)
			appendDurable(t, p, 3)
			c.setTopic("t", 1, 1, testNode, 2)
			p = c.leader()
			appendDurable(t, p, 3)
			file := filepath.Join(c.m.dirs[0], "t-0", epochCheckpointFile)
			if err := c.m.Close(); err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.name == "kept":
			case tc.checkpoint == nil:
				if err := os.Remove(file); err != nil {
					t.Fatal(err)
				}
			default:
				if err := os.WriteFile(file, []byte(*tc.checkpoint), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var out lockedBuffer
			c.setTopic("t", 1, 1, testNode, 4)
			c.restart(&out)
			p = c.leader()
			if got := p.LeaderEpochs(); !slices.Equal(got, tc.want) {
				t.Errorf("cache after restart %v, want %v", got, tc.want)
			}
			if got := checkpointOf(t, c); got != string(formatEpochCheckpoint(tc.want)) {
				t.Errorf("checkpoint after restart %q, want %q", got, formatEpochCheckpoint(tc.want))
			}
			warned := strings.Contains(out.String(), "level=WARN") && strings.Contains(out.String(), "leader epoch checkpoint")
			if tc.warning != "" && (!warned || !strings.Contains(out.String(), tc.warning)) {
				t.Errorf("no warning %q logged:\n%s", tc.warning, out.String())
			}
			if tc.warning == "" && warned {
				t.Errorf("unexpected warning:\n%s", out.String())
			}
		})
	}
}

func ptr(s string) *string { return &s }
