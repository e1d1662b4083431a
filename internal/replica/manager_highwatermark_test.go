package replica

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/sluice-dev/sluice/internal/record"
)

// fetchedEnd is the high watermark a consumer's Fetch from offset 0
// reports and the offset after the last record it returns.
func fetchedEnd(t *testing.T, p *Partition) (hw, end int64) {
	t.Helper()
	f, err := p.Fetch(0, 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Records.AppendTo(nil)
	f.Records.Release()
	if err != nil {
		t.Fatal(err)
	}
	for len(b) > 0 {
		batch, rest, err := record.Next(b)
		if err != nil {
			t.Fatal(err)
		}
		h, err := record.ParseHeader(batch)
		if err != nil {
			t.Fatal(err)
		}
		end, b = h.NextOffset(), rest
	}
	return f.HighWatermark, end
}

// checkReadable fails unless the high watermark is want and consumers,
// through Read and Fetch, see exactly the records below it, while the
// log keeps logEnd.
func checkReadable(t *testing.T, p *Partition, want, logEnd int64, when string) {
	t.Helper()
	checkHW(t, p, want, when)
	if hw, end := fetchedEnd(t, p); hw != want || end != want {
		t.Errorf("%s: Fetch reports high watermark %d and returns records up to %d, want both %d", when, hw, end, want)
	}
	if got := p.LogEndOffset(); got != logEnd {
		t.Errorf("%s: log end %d, want %d", when, got, logEnd)
	}
}

// tp0 returns t-0 from the Manager.
func (c *testCluster) tp0() *Partition {
	c.t.Helper()
	p, ok := c.m.Get("t", 0)
	if !ok {
		c.t.Fatal("t-0 is not open")
	}
	return p
}

// TestHighWatermarkCheckpoint: the high watermark is checkpointed in
// Kafka's replication-offset-checkpoint and a partition reopens with it
// (clean or unclean restart), not at its log end: records a leader had
// not seen replicated on its ISR, or a follower had not heard committed,
// stay unread until the high watermark moves again, as a leader or a
// follower. A leader alone in its ISR reads to its log end at once.
func TestHighWatermarkCheckpoint(t *testing.T) {
	c := newTestCluster(t)
	c.setReplicated(assignment([]int32{1, 2}, testNode, 0, 0))
	c.reconcile()
	p := c.tp0()
	for range 3 {
		appendDurable(t, p, 3)
	}
	fetchAt(t, p, 2, 3, t0)
	checkReadable(t, p, 3, 9, "leader, follower 2 at 3")

	c.reopen(true)
	checkReadable(t, c.tp0(), 3, 9, "leader after a clean restart")
	b, err := os.ReadFile(filepath.Join(c.m.dirs[0], highWatermarkFile))
	if err != nil || string(b) != "0\n1\nt 0 3\n" {
		t.Fatalf("%s holds %q (%v), want Kafka's format with t 0 3", highWatermarkFile, b, err)
	}

	// Following broker 2: the leader's high watermark moves it, never
	// past this log's durable end.
	c.setReplicated(assignment([]int32{2, 1}, 2, 1, 1))
	c.reconcile()
	p = c.tp0()
	checkReadable(t, p, 3, 9, "follower before its first fetch")
	p.followHighWatermark(6, p.LogEndOffset())
	checkReadable(t, p, 6, 9, "follower after its leader's high watermark 6")
	if err := c.m.CheckpointHighWatermarks(); err != nil {
		t.Fatal(err)
	}
	p.followHighWatermark(20, p.LogEndOffset())
	checkReadable(t, p, 9, 9, "follower at its log end")

	// A crash after the checkpoint: the checkpointed 6, lower than the
	// high watermark was, never higher.
	c.reopen(false)
	checkReadable(t, c.tp0(), 6, 9, "follower after a crash")

	// A checkpoint past the log end (the tail was lost) is cut to it;
	// none at all starts at the log start.
	c.m.Close()
	if err := writeHighWatermarks(c.m.dirs[0], map[TP]int64{{"t", 0}: 100}); err != nil {
		t.Fatal(err)
	}
	c.m = c.newManager(c.m.dirs[0])
	c.reconcile()
	checkReadable(t, c.tp0(), 9, 9, "checkpoint past the log end")
	c.m.Close()
	if err := os.Remove(filepath.Join(c.m.dirs[0], highWatermarkFile)); err != nil {
		t.Fatal(err)
	}
	c.m = c.newManager(c.m.dirs[0])
	c.reconcile()
	checkReadable(t, c.tp0(), 0, 9, "no checkpoint")

	// Leading alone: its durable end is the high watermark at once, as
	// for every RF=1 partition.
	c.setReplicated(assignment([]int32{1}, testNode, 2, 2))
	c.reconcile()
	checkReadable(t, c.tp0(), 9, 9, "leader alone in its ISR")
}

// TestHighWatermarkCheckpointRF1: a single-replica partition reopens
// readable to its log end, clean or not, as before replication.
func TestHighWatermarkCheckpointRF1(t *testing.T) {
	for _, clean := range []bool{true, false} {
		c := newTestCluster(t)
		p := c.partition(0)
		appendDurable(t, p, 4)
		if err := c.m.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		appendDurable(t, p, 4) // after the checkpoint
		c.reopen(clean)
		checkReadable(t, c.tp0(), 8, 8, "RF=1 after a restart")
	}
}

// TestFollowerRestartKeepsHighWatermark: a follower copies records the
// leader has not committed yet (its high watermark lags its log end),
// crashes and restarts: consumers of the restarted copy see only what
// was committed when it last checkpointed, not the copied tail, which a
// new leader may not have; once fetching again, the leader's high
// watermark moves it on.
func TestFollowerRestartKeepsHighWatermark(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	appendN(t, leader, 3, 4, 5)
	var leaderHW atomic.Int64
	leaderHW.Store(3)
	fl := newFakeLeader(t, leader)
	fl.set(func(fl *fakeLeader) {
		fl.script = func(fp FetchPartition) *FetchedPartition {
			// A leader waiting for a third ISR member: it serves its
			// log to the end with a high watermark held back.
			r := fl.read(leader, fp)
			if r.Err == nil && r.DivergingEpoch < 0 {
				b, err := leader.ReadToEnd(fp.FetchOffset, int(fp.MaxBytes), true)
				if err != nil {
					t.Errorf("leader read: %v", err)
				}
				r.Records = b
			}
			r.HighWatermark = leaderHW.Load()
			return &r
		}
	})
	c, fs := followedCluster(t, fl)
	c.setAssignment(leaderNode, 1)
	follower := c.hosted()
	eventually(t, "the copy of the uncommitted tail", func() bool {
		return follower.LogEndOffset() == 12 && follower.HighWatermark() == 3
	})
	checkReadable(t, follower, 3, 12, "follower before the crash")
	if err := c.m.Checkpoint(); err != nil {
		t.Fatal(err)
	}

	// The crash: fetching stops, the logs close, nothing is checkpointed
	// or marked clean.
	fs.Close()
	c.m.Each(func(p *Partition) { p.close() })
	c.m = c.newManager(c.m.dirs[0])
	c.m.SetFetchers(NewFetchers(testFetcherConfig(fl)))
	leaderHW.Store(7)
	c.reconcile()
	follower = c.hosted()
	if hw := follower.HighWatermark(); hw != 3 && hw != 7 {
		t.Errorf("restarted follower's high watermark %d, want the checkpointed 3 or the leader's 7", hw)
	}
	if _, end := fetchedEnd(t, follower); end > 7 {
		t.Errorf("a consumer of the restarted follower reads up to %d, past the leader's high watermark 7", end)
	}
	eventually(t, "the leader's high watermark", func() bool { return follower.HighWatermark() == 7 })
	checkReadable(t, follower, 7, 12, "follower after fetching again")
}
