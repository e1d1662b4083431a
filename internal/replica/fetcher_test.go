package replica

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/record"
)

func TestDivergenceTruncation(t *testing.T) {
	tests := []struct {
		name                      string
		leaderEpoch               int32
		leaderEnd                 int64
		followerEpoch             int32
		followerEnd               int64
		logEnd, fetchOffset, want int64
	}{
		{"leader knows no end: nothing cut", 3, -1, 3, 50, 50, 50, 50},
		{"leader has no epoch: its end", -1, 20, 2, 40, 50, 50, 20},
		{"follower has no epoch up to the leader's: leader's end", 2, 20, -1, -1, 50, 50, 20},
		{"same epoch, leader shorter (KIP-101)", 2, 30, 2, 50, 50, 50, 30},
		{"same epoch, follower's epoch ends first (KIP-279)", 1, 15, 1, 10, 20, 20, 10},
		{"same epoch, never past the log end", 2, 80, 2, 50, 50, 50, 50},
		{"follower never saw the leader's epoch: its own epoch's end, ask again", 3, 30, 2, 20, 40, 40, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := divergenceTruncation(tt.leaderEpoch, tt.leaderEnd, tt.followerEpoch, tt.followerEnd, tt.logEnd, tt.fetchOffset)
			if got != tt.want {
				t.Errorf("divergenceTruncation = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestFetcherCatchUp: a follower copies the leader's batches byte for
// byte, with their epochs, and takes the leader's high watermark once
// its copy is durable; records appended later follow.
func TestFetcherCatchUp(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	appendN(t, leader, 3, 1, 5)
	leadIn(leader, 2)
	appendN(t, leader, 2)
	fl := newFakeLeader(t, leader)
	c, _ := followedCluster(t, fl)
	c.setAssignment(leaderNode, 2)
	follower := c.hosted()
	eventually(t, "catch-up", caughtUp(follower, leader))
	sameLog(t, follower, leader)
	if d, end := follower.log.Durable(), follower.LogEndOffset(); d != end {
		t.Errorf("durable %d, log end %d: the follower's copy is not fsynced", d, end)
	}

	appendN(t, leader, 4)
	eventually(t, "the next records", caughtUp(follower, leader))
	sameLog(t, follower, leader)

	// The fetch after the copy asks from the durable end.
	var last FetchRequest
	eventually(t, "a fetch from the log end", func() bool {
		fl.mu.Lock()
		defer fl.mu.Unlock()
		last = fl.requests[len(fl.requests)-1]
		return last.Partitions[0].FetchOffset == leader.LogEndOffset()
	})
	if last.ReplicaID != testNode || last.MaxBytes != 10<<20 || len(last.Partitions) != 1 {
		t.Fatalf("request %+v", last)
	}
	if fp := last.Partitions[0]; fp.CurrentLeaderEpoch != 2 || fp.LastFetchedEpoch != 2 || fp.FetchOffset != leader.LogEndOffset() || fp.MaxBytes != 1<<20 {
		t.Errorf("partition request %+v", fp)
	}
}

// TestFetcherFollowsAfterLeading: a broker that led epoch 1 and wrote
// records the new leader never got (KIP-101) cuts them when it follows in
// epoch 2, and then holds exactly the leader's log.
func TestFetcherTruncatesUncommittedRecordsOfAnOldLeader(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	appendN(t, leader, 5)
	fl := newFakeLeader(t, leader)
	c, _ := followedCluster(t, fl)

	// This broker leads epoch 1 first and gets 5 more records.
	c.setAssignment(testNode, 1)
	follower := c.hosted()
	appendN(t, follower, 5, 5)

	// Broker 2 leads epoch 2 with the first 5 only, and appends.
	leadIn(leader, 2)
	appendN(t, leader, 3)
	c.setAssignment(leaderNode, 2)
	eventually(t, "truncation and catch-up", caughtUp(follower, leader))
	sameLog(t, follower, leader)
}

// TestFetcherKIP279: the follower's latest epoch is one the leader never
// saw; the leader answers with the epoch before it, which ends on the
// leader after where it ends on the follower: the follower cuts to its
// own end of that epoch (not the leader's), so the records of its unknown
// epoch go.
func TestFetcherKIP279(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	appendN(t, leader, 5)
	fl := newFakeLeader(t, leader)
	c, _ := followedCluster(t, fl)
	c.setAssignment(testNode, 1)
	follower := c.hosted()
	appendN(t, follower, 5) // epoch 1: 0..4, as the leader's

	c.setAssignment(testNode, 2)
	// Epoch 2 here only: 5..9, in batches of one, so that a cut at the
	// leader's end of epoch 1 (7) would keep 5 and 6 of epoch 2.
	appendN(t, follower, 1, 1, 1, 1, 1)

	// The leader stays in epoch 1 longer (5..6), then leads epoch 3.
	appendN(t, leader, 2)
	leadIn(leader, 3)
	appendN(t, leader, 4)
	c.setAssignment(leaderNode, 3)
	eventually(t, "truncation and catch-up", caughtUp(follower, leader))
	sameLog(t, follower, leader)
}

// TestFetcherOutOfRangeBelowLogStart: a follower with an empty disk, or
// one behind the leader's retention, starts over at the leader's log start.
func TestFetcherOutOfRangeBelowLogStart(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	appendN(t, leader, 5, 5, 5)
	if _, err := leader.DeleteRecordsBefore(10); err != nil {
		t.Fatal(err)
	}
	fl := newFakeLeader(t, leader)
	c, _ := followedCluster(t, fl)
	c.setAssignment(leaderNode, 1)
	follower := c.hosted()
	eventually(t, "catch-up from the log start", caughtUp(follower, leader))
	if got := follower.LogStartOffset(); got != 10 {
		t.Errorf("follower's log start %d, want 10", got)
	}
	sameLog(t, follower, leader)
}

// TestFetcherOutOfRangePastLogEnd: a leader whose log is shorter than the
// follower's (an unclean election) answers OFFSET_OUT_OF_RANGE; the
// follower cuts back to the leader's high watermark and goes on.
func TestFetcherOutOfRangePastLogEnd(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	appendN(t, leader, 6)
	fl := newFakeLeader(t, leader)
	c, _ := followedCluster(t, fl)
	c.setAssignment(testNode, 1)
	follower := c.hosted()
	appendN(t, follower, 6, 4)
	once := true
	fl.set(func(fl *fakeLeader) {
		fl.script = func(fp FetchPartition) *FetchedPartition {
			if !once {
				return nil
			}
			once = false
			return &FetchedPartition{Topic: fp.Topic, Partition: fp.Partition, Err: kerr.OffsetOutOfRange,
				HighWatermark: 6, LogStartOffset: 0, DivergingEpoch: -1, DivergingEndOffset: -1}
		}
	})
	c.setAssignment(leaderNode, 1)
	eventually(t, "truncation to the leader's end", caughtUp(follower, leader))
	sameLog(t, follower, leader)
}

// TestFetcherLeaderChangeMidFetch: an answer to a fetch sent before the
// partition moved to a new leader epoch is dropped, and the next fetch is
// made in the new epoch.
func TestFetcherLeaderChangeMidFetch(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	appendN(t, leader, 3)
	fl := newFakeLeader(t, leader)
	c, _ := followedCluster(t, fl)
	c.setAssignment(leaderNode, 1)
	follower := c.hosted()
	eventually(t, "catch-up", caughtUp(follower, leader))

	// Hold the next fetch, with records that must never land.
	block := make(chan struct{})
	// Bogus: another producer's batch, in the epoch the leader moves to,
	// so no divergence check would find it later.
	bogus := testBatch(t, 2, 7, 0)
	fl.set(func(fl *fakeLeader) {
		fl.block = block
		fl.script = func(fp FetchPartition) *FetchedPartition {
			if fp.CurrentLeaderEpoch != 1 {
				return nil
			}
			return &FetchedPartition{Topic: fp.Topic, Partition: fp.Partition, HighWatermark: 100,
				DivergingEpoch: -1, DivergingEndOffset: -1, Records: withBase(bogus, fp.FetchOffset, 2)}
		}
	})
	before := fl.fetchCount()
	eventually(t, "a fetch in flight", func() bool { return fl.fetchCount() > before })

	leadIn(leader, 2)
	appendN(t, leader, 2)
	c.setAssignment(leaderNode, 2)
	fl.set(func(fl *fakeLeader) { fl.block = nil })
	close(block)
	eventually(t, "catch-up in epoch 2", caughtUp(follower, leader))
	sameLog(t, follower, leader)
}

// withBase returns a copy of batch at base offset with epoch stamped.
func withBase(batch []byte, base int64, epoch int32) []byte {
	b := append([]byte(nil), batch...)
	record.SetBaseOffset(b, base)
	record.SetPartitionLeaderEpoch(b, epoch)
	return b
}

// TestFetcherBecomingLeaderStopsFetching: once Reconcile makes this
// broker the leader, the partition is not fetched any more and takes
// appends as leader; a partition without a live leader is not fetched.
func TestFetcherBecomingLeaderStopsFetching(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	appendN(t, leader, 3)
	fl := newFakeLeader(t, leader)
	c, fs := followedCluster(t, fl)
	c.setAssignment(leaderNode, 1)
	follower := c.hosted()
	eventually(t, "catch-up", caughtUp(follower, leader))

	c.setAssignment(testNode, 2)
	if _, _, ok := fs.following(TP{"t", 0}); ok {
		t.Fatal("still fetched after becoming leader")
	}
	fs.mu.Lock()
	n := len(fs.fetchers)
	fs.mu.Unlock()
	if n != 0 {
		t.Errorf("%d fetchers left running with nothing to fetch", n)
	}
	appendN(t, follower, 2)
	if got := follower.LogEndOffset(); got != 5 {
		t.Errorf("log end %d after appending as leader, want 5", got)
	}
	if got := follower.EpochForOffset(3); got != 2 {
		t.Errorf("epoch of offset 3 is %d, want 2", got)
	}

	c.setAssignment(-1, 3)
	if _, _, ok := fs.following(TP{"t", 0}); ok {
		t.Error("fetched without a leader")
	}
	c.setAssignment(leaderNode, 4)
	if _, epoch, ok := fs.following(TP{"t", 0}); !ok || epoch != 4 {
		t.Errorf("following = %d, %v; want epoch 4", epoch, ok)
	}
}

// TestFetcherBacksOff: failed fetches are retried after
// replica.fetch.backoff.ms, on a new connection.
func TestFetcherBacksOff(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	fl := newFakeLeader(t, leader)
	fl.set(func(fl *fakeLeader) { fl.fail = errors.New("connection refused") })
	c, _ := followedCluster(t, fl)
	start := time.Now()
	c.setAssignment(leaderNode, 1)
	checkBackoff(t, fl, start)
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.opened < 2 || fl.closed < fl.opened-1 {
		t.Errorf("opened %d, closed %d: a failed connection is replaced", fl.opened, fl.closed)
	}
}

// TestFetcherPartitionErrorBacksOff: a partition the leader refuses
// (FENCED_LEADER_EPOCH: the follower's image is older) waits
// replica.fetch.backoff.ms before it is fetched again.
func TestFetcherPartitionErrorBacksOff(t *testing.T) {
	leader := openLeaderPartition(t, 5)
	fl := newFakeLeader(t, leader)
	c, _ := followedCluster(t, fl)
	start := time.Now()
	c.setAssignment(leaderNode, 1) // leader is in 5: fenced
	checkBackoff(t, fl, start)
}

// checkBackoff checks that fetches are retried, each after the test
// config's 20 ms backoff: the fourth comes no sooner than 60 ms after
// the start.
func checkBackoff(t *testing.T, fl *fakeLeader, start time.Time) {
	t.Helper()
	eventually(t, "four fetches", func() bool { return fl.fetchCount() >= 4 })
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Errorf("four fetches in %v with a 20 ms backoff", took)
	}
}

// TestFetchersCloseStopsLongPoll: Close returns promptly while a fetch
// waits on the leader, and leaves no goroutine behind (goleak in
// TestMain).
func TestFetchersCloseStopsLongPoll(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	fl := newFakeLeader(t, leader)
	block := make(chan struct{})
	defer close(block)
	fl.set(func(fl *fakeLeader) { fl.block = block })
	c, fs := followedCluster(t, fl)
	c.setAssignment(leaderNode, 1)
	eventually(t, "a fetch in flight", func() bool { return fl.fetchCount() > 0 })
	start := time.Now()
	fs.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	c.setAssignment(leaderNode, 2) // ignored once closed
	if _, _, ok := fs.following(TP{"t", 0}); ok {
		t.Error("closed fetchers took a partition")
	}
}

// TestFetchersSpreadOverFetchers: with num.replica.fetchers > 1 every
// partition goes to one fetcher, the same one each time.
func TestFetchersSpreadOverFetchers(t *testing.T) {
	fs := NewFetchers(FetcherConfig{NumFetchers: 3})
	seen := map[int]bool{}
	for i := range int32(30) {
		id := fs.fetcherID(TP{"topic", i})
		if id < 0 || id >= 3 || id != fs.fetcherID(TP{"topic", i}) {
			t.Fatalf("fetcher id %d", id)
		}
		seen[id] = true
	}
	if len(seen) != 3 {
		t.Errorf("30 partitions went to %d of 3 fetchers", len(seen))
	}
}

// TestFetcherFollowerHighWatermark: the follower's high watermark is the
// leader's while the follower has the records, and its own durable end
// while it lags; the leader's log start is followed up to it.
func TestFetcherFollowerHighWatermark(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	appendN(t, leader, 5, 5)
	fl := newFakeLeader(t, leader)
	var leaderHW atomic.Int64
	leaderHW.Store(3)
	fl.set(func(fl *fakeLeader) {
		fl.script = func(fp FetchPartition) *FetchedPartition {
			fp.MaxBytes = 0 // one batch a fetch
			r := fl.read(leader, fp)
			r.HighWatermark = leaderHW.Load()
			return &r
		}
	})
	c, _ := followedCluster(t, fl)
	c.setAssignment(leaderNode, 1)
	follower := c.hosted()
	// One batch a fetch (MaxBytes 0 with minOne): after the first the
	// follower holds 0..4, and the leader's high watermark is 3.
	eventually(t, "the first batch", func() bool { return follower.LogEndOffset() >= 5 })
	eventually(t, "high watermark 3", func() bool { return follower.HighWatermark() == 3 })
	eventually(t, "catch-up", func() bool { return follower.LogEndOffset() == 10 })
	if hw := follower.HighWatermark(); hw != 3 {
		t.Errorf("high watermark %d past the leader's 3", hw)
	}
	leaderHW.Store(10)
	eventually(t, "high watermark 10", func() bool { return follower.HighWatermark() == 10 })

	if _, err := leader.DeleteRecordsBefore(5); err != nil {
		t.Fatal(err)
	}
	eventually(t, "log start 5", func() bool { return follower.LogStartOffset() == 5 })
}

// TestFetcherEpochLedWithoutRecords: this broker led an epoch without
// appending, so its cache ends in an epoch the new leader never had; the
// leader's divergence answer cuts no record, only that cache entry, and
// the follower goes on at once (no backoff).
func TestFetcherEpochLedWithoutRecords(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	appendN(t, leader, 5)
	fl := newFakeLeader(t, leader)
	c := newTestCluster(t)
	cfg := testFetcherConfig(fl)
	cfg.Backoff = time.Hour // a backoff would time the test out
	c.m.SetFetchers(NewFetchers(cfg))
	c.setAssignment(testNode, 1)
	follower := c.hosted()
	appendN(t, follower, 5)
	c.setAssignment(testNode, 2) // led, nothing appended

	leadIn(leader, 3)
	appendN(t, leader, 3)
	c.setAssignment(leaderNode, 3)
	eventually(t, "catch-up", caughtUp(follower, leader))
	sameLog(t, follower, leader)
}

// TestFetcherStopsBeforeTheLogCloses: a topic deleted while its partition
// is fetched leaves its fetcher before its log closes and its directory
// goes; the fetcher then stops.
func TestFetcherStopsBeforeTheLogCloses(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	appendN(t, leader, 3)
	fl := newFakeLeader(t, leader)
	c, fs := followedCluster(t, fl)
	c.setAssignment(leaderNode, 1)
	follower := c.hosted()
	eventually(t, "catch-up", caughtUp(follower, leader))
	for range 3 { // more fetches in flight while the topic goes
		appendN(t, leader, 1)
	}
	c.deleteTopic("t")
	c.reconcile()
	if _, _, ok := fs.following(TP{"t", 0}); ok {
		t.Fatal("a deleted partition is still fetched")
	}
	fs.mu.Lock()
	n := len(fs.fetchers)
	fs.mu.Unlock()
	if n != 0 {
		t.Errorf("%d fetchers left", n)
	}
}

// TestFetcherRelaxedFlush: with flush.messages above 1 the follower, like
// the leader, does not fsync each append; it still copies everything and
// takes the leader's high watermark up to what it has written.
func TestFetcherRelaxedFlush(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	appendN(t, leader, 3, 4)
	fl := newFakeLeader(t, leader)
	c, _ := followedCluster(t, fl)
	c.logConfig.FlushMessages = 1 << 30
	c.setAssignment(leaderNode, 1)
	follower := c.hosted()
	eventually(t, "catch-up", caughtUp(follower, leader))
	sameLog(t, follower, leader)
}
