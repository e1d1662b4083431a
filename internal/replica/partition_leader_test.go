package replica

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/record"
)

// t0 is the tests' clock at the moment t-0 becomes leader.
var t0 = time.Unix(1_000_000, 0)

// testLag is replica.lag.time.max.ms in these tests.
const testLag = 10 * time.Second

// brokerEpoch is the registration epoch the tests give broker id.
func brokerEpoch(id int32) uint64 { return 100 + uint64(id) }

// setReplicated puts topic "t" with one partition into the image, with
// every broker of replicas registered and live, without reconciling.
func (c *testCluster) setReplicated(a metadata.Partition) {
	t := &metadata.Topic{Name: "t", ID: metadata.TopicID{1}, Partitions: 1, Assignments: []metadata.Partition{a}}
	next := &metadata.Image{Topics: map[string]*metadata.Topic{"t": t}, Brokers: map[int32]*metadata.Broker{}}
	for _, id := range []int32{1, 2, 3, 4} {
		next.Brokers[id] = &metadata.Broker{ID: id, Epoch: brokerEpoch(id)}
	}
	c.image.Store(next)
}

// assignment is t-0 over replicas 1, 2, 3 with isr, led by leader.
func assignment(isr []int32, leader, leaderEpoch, partitionEpoch int32) metadata.Partition {
	return metadata.Partition{Replicas: []int32{1, 2, 3}, ISR: isr, Leader: leader,
		LeaderEpoch: leaderEpoch, PartitionEpoch: partitionEpoch}
}

// replicatedLeader opens t-0 over replicas 1, 2, 3 with isr, led here in
// epoch 1 from t0 (so the followers' clocks are the test's), with an ISR
// queue the test drains itself.
func replicatedLeader(t *testing.T, isr ...int32) (*Partition, *isrEnv) {
	t.Helper()
	c := newTestCluster(t)
	c.setReplicated(assignment(isr, testNode, 0, 0))
	c.reconcile()
	p, ok := c.m.Get("t", 0)
	if !ok {
		t.Fatal("t-0 is not open")
	}
	env := newISREnv(testLag)
	p.attach(env)
	a := assignment(isr, testNode, 1, 1)
	c.setReplicated(a)
	p.setAssignment(a, testNode, t0)
	return p, env
}

// fetchAt is follower replica's fetch at offset at now, in the current
// leader epoch, without a last fetched epoch.
func fetchAt(t *testing.T, p *Partition, replica int32, offset int64, now time.Time) FollowerFetched {
	t.Helper()
	got, err := p.FetchForFollower(FollowerFetch{Replica: replica, FetchOffset: offset, LastFetchedEpoch: -1,
		CurrentLeaderEpoch: p.LeaderEpoch(), MaxBytes: 1 << 20, Now: now})
	if err != nil {
		t.Fatalf("fetch of %d at %d: %v", replica, offset, err)
	}
	got.Records.Release()
	return got
}

// readableEnd returns the offset after the last record a consumer can
// read from offset 0.
func readableEnd(t *testing.T, p *Partition) int64 {
	t.Helper()
	b, err := p.Read(0, 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	end := int64(0)
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
	return end
}

// checkHW fails unless the high watermark and what consumers may read
// are both want.
func checkHW(t *testing.T, p *Partition, want int64, when string) {
	t.Helper()
	if got := p.HighWatermark(); got != want {
		t.Errorf("%s: high watermark %d, want %d", when, got, want)
	}
	if got := readableEnd(t, p); got != want {
		t.Errorf("%s: consumers read up to %d, want %d", when, got, want)
	}
}

// TestHighWatermarkOverISR: the high watermark is the minimum over the
// ISR of the followers' fetch offsets and the leader's durable offset; an
// ISR follower that has not fetched since the leader took over holds it;
// consumers never read above it; it never goes back.
func TestHighWatermarkOverISR(t *testing.T) {
	p, _ := replicatedLeader(t, 1, 2, 3)
	appendDurable(t, p, 4)
	appendDurable(t, p, 6) // batches 0-3 and 4-9: followers fetch at batch ends
	checkHW(t, p, 0, "no follower fetched yet")
	fetchAt(t, p, 2, 10, t0.Add(time.Second))
	checkHW(t, p, 0, "follower 3 unknown")
	got := fetchAt(t, p, 3, 4, t0.Add(time.Second))
	checkHW(t, p, 4, "followers at 10 and 4")
	if got.HighWatermark != 4 {
		t.Errorf("the fetch that moved it answered high watermark %d, want 4", got.HighWatermark)
	}
	fetchAt(t, p, 3, 10, t0.Add(2*time.Second))
	checkHW(t, p, 10, "every follower at 10")

	// Followers ahead of the leader's fsync count only up to it.
	res, err := p.Append(testBatch(t, 5, -1, -1), appendOptions())
	if err != nil {
		t.Fatal(err)
	}
	fetchAt(t, p, 2, 15, t0.Add(3*time.Second))
	fetchAt(t, p, 3, 15, t0.Add(3*time.Second))
	if err := p.WaitDurable(context.Background(), res.NextOffset); err != nil {
		t.Fatal(err)
	}
	checkHW(t, p, 15, "leader fsynced what the followers have")
	fetchAt(t, p, 3, 12, t0.Add(4*time.Second)) // a follower that truncated
	checkHW(t, p, 15, "never backwards")
}

// TestHighWatermarkWaitsForCaughtUpFollower: a follower outside the ISR
// that is caught up holds the high watermark, so it can reach it and join
// (Kafka's shouldWaitForReplicaToJoinIsr), until it leaves the ISR by the
// controller's hand (fenced) or falls behind.
func TestHighWatermarkWaitsForCaughtUpFollower(t *testing.T) {
	p, _ := replicatedLeader(t, 1, 2)
	p.attach(nil) // no expansion: 3 stays outside the ISR
	appendDurable(t, p, 10)
	fetchAt(t, p, 2, 10, t0)
	fetchAt(t, p, 3, 10, t0) // at the leader's end: caught up
	appendDurable(t, p, 5)
	fetchAt(t, p, 2, 15, t0.Add(time.Second))
	checkHW(t, p, 10, "follower 3 caught up at 10")
	if rec := p.maybeShrinkISR(t0.Add(testLag + time.Second)); rec != nil {
		t.Fatalf("shrank %v", rec.ISR)
	}
	checkHW(t, p, 10, "follower 3 within the default lag")
	p.maybeShrinkISR(t0.Add(defaultLagTimeMax + time.Second))
	checkHW(t, p, 15, "follower 3 no longer caught up")
}

// TestHighWatermarkWithoutRemovedFollower: a follower the controller
// removes from the ISR (its broker was fenced) stops holding the high
// watermark at once, though it was caught up.
func TestHighWatermarkWithoutRemovedFollower(t *testing.T) {
	p, _ := replicatedLeader(t, 1, 2, 3)
	appendDurable(t, p, 5)
	fetchAt(t, p, 3, 5, t0)
	appendDurable(t, p, 5)
	fetchAt(t, p, 2, 10, t0)
	checkHW(t, p, 5, "follower 3 at 5")
	p.setAssignment(assignment([]int32{1, 2}, testNode, 1, 2), testNode, t0)
	checkHW(t, p, 10, "follower 3 removed by the controller")
}

// TestHighWatermarkRF1: with the leader alone in the ISR, its fsync moves
// the high watermark, as before replication, and WaitReplicated is the
// fsync wait.
func TestHighWatermarkRF1(t *testing.T) {
	c := newTestCluster(t)
	p := c.partition(0)
	res, err := p.Append(testBatch(t, 3, -1, -1), appendOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReplicated(context.Background(), res.NextOffset, 1); err != nil {
		t.Fatalf("WaitReplicated with the leader alone: %v", err)
	}
	checkHW(t, p, 3, "after the fsync")
	if got := p.ISR(); !slices.Equal(got, []int32{testNode}) {
		t.Errorf("ISR %v", got)
	}
}

// TestISRShrinkAfterLagTimeMax: an ISR follower that has not caught up
// within replica.lag.time.max.ms is proposed out; it holds the high
// watermark until the change is committed (the maximal ISR of a shrink is
// the old ISR), then the high watermark moves on without it.
func TestISRShrinkAfterLagTimeMax(t *testing.T) {
	p, _ := replicatedLeader(t, 1, 2, 3)
	appendDurable(t, p, 10)
	for s := time.Duration(1); s <= 11; s++ {
		fetchAt(t, p, 2, 10, t0.Add(s*time.Second)) // follower 2 keeps up, 3 is silent
	}
	if rec := p.maybeShrinkISR(t0.Add(testLag)); rec != nil {
		t.Fatalf("shrink within the lag: %+v", rec)
	}
	rec := p.maybeShrinkISR(t0.Add(testLag + time.Millisecond))
	if rec == nil {
		t.Fatal("no shrink after the lag")
	}
	want := metadata.AlterPartitionRecord{TopicID: p.TopicID, Partition: 0, Leader: testNode, LeaderEpoch: 1, PartitionEpoch: 1, ISR: []int32{1, 2}}
	if !alterEqual(*rec, want) {
		t.Errorf("proposed %+v, want %+v", *rec, want)
	}
	if again := p.maybeShrinkISR(t0.Add(testLag + time.Second)); again != nil {
		t.Errorf("a second change while one is in flight: %+v", again)
	}
	checkHW(t, p, 0, "shrink in flight")
	p.completeAlter(*rec, assignment([]int32{1, 2}, testNode, 1, 2), nil, t0.Add(12*time.Second))
	if got := p.ISR(); !slices.Equal(got, []int32{1, 2}) {
		t.Errorf("ISR after the shrink %v", got)
	}
	checkHW(t, p, 10, "shrink committed")
}

// TestISRExpandOnceCaughtUp: a follower outside the ISR is proposed in
// once its offset reaches the high watermark; it counts for the high
// watermark at once (maximal ISR, KIP-497), before the change commits.
func TestISRExpandOnceCaughtUp(t *testing.T) {
	p, env := replicatedLeader(t, 1, 2)
	appendDurable(t, p, 10)
	fetchAt(t, p, 2, 10, t0.Add(time.Second))
	checkHW(t, p, 10, "ISR 1, 2")
	fetchAt(t, p, 3, 0, t0.Add(time.Second))
	if q := env.take(); len(q) != 0 {
		t.Fatalf("proposed a follower below the high watermark: %+v", q[0].rec)
	}
	fetchAt(t, p, 3, 10, t0.Add(2*time.Second))
	q := env.take()
	if len(q) != 1 || q[0].p != p || !slices.Equal(q[0].rec.ISR, []int32{1, 2, 3}) || q[0].rec.PartitionEpoch != 1 {
		t.Fatalf("queued %+v, want one expansion to 1, 2, 3 from partition epoch 1", q)
	}

	// In flight: 3 counts, so the high watermark waits for it.
	appendDurable(t, p, 5)
	fetchAt(t, p, 2, 15, t0.Add(3*time.Second))
	checkHW(t, p, 10, "expansion in flight, 3 at 10")
	fetchAt(t, p, 3, 15, t0.Add(3*time.Second))
	checkHW(t, p, 15, "expansion in flight, 3 at 15")
	if got := p.ISR(); !slices.Equal(got, []int32{1, 2}) {
		t.Errorf("committed ISR before the answer %v", got)
	}
	p.completeAlter(q[0].rec, assignment([]int32{1, 2, 3}, testNode, 1, 2), nil, t0.Add(4*time.Second))
	if got, epoch := p.ISR(), p.PartitionEpoch(); !slices.Equal(got, []int32{1, 2, 3}) || epoch != 2 {
		t.Errorf("after the answer: ISR %v partition epoch %d", got, epoch)
	}
}

// TestISRExpandNeedsEpochStart: a follower joins only once it reached the
// start of the current leader epoch, even past a high watermark that lags
// behind it (Kafka's isFollowerInSync): a new leader's high watermark may
// be below records an earlier ISR acknowledged.
func TestISRExpandNeedsEpochStart(t *testing.T) {
	p, env := replicatedLeader(t, 1, 2)
	appendDurable(t, p, 10) // follower 2 never fetches: high watermark 0
	p.setAssignment(assignment([]int32{1, 2}, testNode, 2, 2), testNode, t0)
	checkHW(t, p, 0, "new epoch from 10")
	fetchAt(t, p, 3, 5, t0)
	if q := env.take(); len(q) != 0 {
		t.Errorf("proposed a follower below the epoch start: %+v", q[0].rec)
	}
	fetchAt(t, p, 3, 10, t0)
	if q := env.take(); len(q) != 1 {
		t.Errorf("a follower at the epoch start was not proposed: %d queued", len(q))
	}
}

// TestAlterPartitionRejected: a rejected change (here a stale partition
// epoch, INVALID_UPDATE_VERSION) is dropped: the committed ISR stays, the
// maximal ISR falls back to it, and no new change is proposed for
// alterRetryBackoff. An answer older than what an image already brought
// never takes the ISR back.
func TestAlterPartitionRejected(t *testing.T) {
	p, env := replicatedLeader(t, 1, 2)
	appendDurable(t, p, 10)
	fetchAt(t, p, 2, 10, t0)
	fetchAt(t, p, 3, 10, t0)
	q := env.take()
	if len(q) != 1 {
		t.Fatalf("%d queued", len(q))
	}
	p.completeAlter(q[0].rec, metadata.Partition{}, kerr.InvalidUpdateVersion, t0)
	if got := p.ISR(); !slices.Equal(got, []int32{1, 2}) {
		t.Errorf("ISR after a rejection %v", got)
	}
	fetchAt(t, p, 3, 10, t0.Add(alterRetryBackoff/2))
	if q := env.take(); len(q) != 0 {
		t.Errorf("proposed again within the backoff")
	}
	fetchAt(t, p, 3, 10, t0.Add(alterRetryBackoff))
	q = env.take()
	if len(q) != 1 {
		t.Fatalf("not proposed again after the backoff: %d queued", len(q))
	}

	// The image brings partition epoch 3 (the controller removed 2)
	// before the answer to the proposal from epoch 1 arrives.
	p.setAssignment(assignment([]int32{1}, testNode, 1, 3), testNode, t0.Add(2*time.Second))
	p.completeAlter(q[0].rec, assignment([]int32{1, 2, 3}, testNode, 1, 2), nil, t0.Add(2*time.Second))
	if got, epoch := p.ISR(), p.PartitionEpoch(); !slices.Equal(got, []int32{1}) || epoch != 3 {
		t.Errorf("a late answer took the ISR back to %v at partition epoch %d", got, epoch)
	}
}

// alterEqual compares two AlterPartition records.
func alterEqual(a, b metadata.AlterPartitionRecord) bool {
	return a.TopicID == b.TopicID && a.Partition == b.Partition && a.Leader == b.Leader &&
		a.BrokerEpoch == b.BrokerEpoch && a.LeaderEpoch == b.LeaderEpoch &&
		a.PartitionEpoch == b.PartitionEpoch && slices.Equal(a.ISR, b.ISR)
}

// epochLog builds t-0's leader log over epochs: 5 records in epoch 1
// (offsets 0-4), 5 in epoch 3 (5-9), then epoch 4 starts at 10 with no
// data. Followers 2 and 3 are in the ISR.
func epochLog(t *testing.T) *Partition {
	t.Helper()
	p, _ := replicatedLeader(t, 1, 2, 3)
	appendDurable(t, p, 5)
	p.setAssignment(assignment([]int32{1, 2, 3}, testNode, 3, 2), testNode, t0)
	appendDurable(t, p, 5)
	p.setAssignment(assignment([]int32{1, 2, 3}, testNode, 4, 3), testNode, t0)
	want := []EpochEntry{{1, 0}, {3, 5}, {4, 10}}
	if got := p.LeaderEpochs(); !slices.Equal(got, want) {
		t.Fatalf("epochs %v, want %v", got, want)
	}
	return p
}

// TestFollowerDivergence: the divergence answers of Kafka's
// Partition.readRecords for a follower's last fetched epoch, the cases of
// KIP-101 and KIP-279: a follower whose epoch the leader never had, or
// whose log in an epoch is longer than the leader's, gets the leader's
// end of the largest epoch <= its own and no records, and its offset does
// not count; a consistent one reads.
func TestFollowerDivergence(t *testing.T) {
	p := epochLog(t)
	cases := []struct {
		name          string
		lastEpoch     int32
		offset        int64
		diverging     *EpochEnd
		err           error
		recordsWanted bool
	}{
		{name: "in sync at the end", lastEpoch: 3, offset: 10},
		{name: "consistent, behind", lastEpoch: 1, offset: 5, recordsWanted: true},
		{name: "epoch the leader never had (KIP-279)", lastEpoch: 2, offset: 7, diverging: &EpochEnd{1, 5}},
		{name: "longer epoch than the leader's (KIP-101)", lastEpoch: 1, offset: 7, diverging: &EpochEnd{1, 5}},
		{name: "last epoch longer, current", lastEpoch: 3, offset: 11, diverging: &EpochEnd{3, 10}},
		{name: "epoch older than the cache", lastEpoch: 0, offset: 3, diverging: &EpochEnd{0, 0}},
		{name: "epoch newer than the leader's", lastEpoch: 5, offset: 10, err: kerr.OffsetOutOfRange},
		{name: "no last epoch, past the end", lastEpoch: -1, offset: 12, err: kerr.OffsetOutOfRange},
	}
	for _, tc := range cases {
		got, err := p.FetchForFollower(FollowerFetch{Replica: 2, FetchOffset: tc.offset, LastFetchedEpoch: tc.lastEpoch,
			CurrentLeaderEpoch: 4, MaxBytes: 1 << 20, Now: t0})
		n := got.Records.Len()
		got.Records.Release()
		switch {
		case tc.err != nil:
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
			}
			continue
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		switch {
		case tc.diverging == nil && got.Diverging != nil:
			t.Errorf("%s: diverging %+v", tc.name, *got.Diverging)
		case tc.diverging != nil && (got.Diverging == nil || *got.Diverging != *tc.diverging):
			t.Errorf("%s: diverging %v, want %+v", tc.name, got.Diverging, *tc.diverging)
		case tc.diverging != nil && n != 0:
			t.Errorf("%s: %d bytes of records with a diverging epoch", tc.name, n)
		case tc.recordsWanted && n == 0:
			t.Errorf("%s: no records", tc.name)
		}
	}
	// Only the consistent fetches counted: follower 2 is where the last
	// of them left it, 5; with 3 at 10 the high watermark is 5.
	fetchAt(t, p, 3, 10, t0)
	checkHW(t, p, 5, "after the divergence cases")
}

// TestFollowerFetchEpochChecks: a follower's current leader epoch is
// checked (FENCED/UNKNOWN_LEADER_EPOCH); a broker outside the replica set
// is UNKNOWN_LEADER_EPOCH with an epoch, NOT_LEADER_OR_FOLLOWER without;
// a partition not led here is NOT_LEADER_OR_FOLLOWER.
func TestFollowerFetchEpochChecks(t *testing.T) {
	p, _ := replicatedLeader(t, 1, 2, 3)
	cases := []struct {
		replica, epoch int32
		want           error
	}{
		{2, 0, kerr.FencedLeaderEpoch},
		{2, 2, kerr.UnknownLeaderEpoch},
		{4, 1, kerr.UnknownLeaderEpoch},
		{4, -1, kerr.NotLeaderForPartition},
		{2, -1, nil},
	}
	for _, tc := range cases {
		got, err := p.FetchForFollower(FollowerFetch{Replica: tc.replica, FetchOffset: 0, LastFetchedEpoch: -1,
			CurrentLeaderEpoch: tc.epoch, MaxBytes: 1 << 20, Now: t0})
		got.Records.Release()
		if !errors.Is(err, tc.want) || tc.want == nil && err != nil {
			t.Errorf("replica %d epoch %d: %v, want %v", tc.replica, tc.epoch, err, tc.want)
		}
	}
	p.setAssignment(assignment([]int32{2, 3}, 2, 2, 2), testNode, t0)
	if _, err := p.FetchForFollower(FollowerFetch{Replica: 2, LastFetchedEpoch: -1, CurrentLeaderEpoch: -1, Now: t0}); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Errorf("fetch from a former leader: %v", err)
	}
}

// TestCheckMinISR: acks=all appends are refused before the append when the
// committed ISR is smaller than min.insync.replicas, or when the
// partition is not led here.
func TestCheckMinISR(t *testing.T) {
	p, _ := replicatedLeader(t, 1, 2)
	if err := p.CheckMinISR(2); err != nil {
		t.Errorf("ISR of 2, min 2: %v", err)
	}
	if err := p.CheckMinISR(3); !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Errorf("ISR of 2, min 3: %v", err)
	}
	p.setAssignment(assignment([]int32{2}, 2, 2, 2), testNode, t0)
	if err := p.CheckMinISR(1); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Errorf("not the leader: %v", err)
	}
}

// waitReplicated starts WaitReplicated and returns its answer channel.
func waitReplicated(ctx context.Context, p *Partition, next int64, minISR int) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- p.WaitReplicated(ctx, next, minISR) }()
	return ch
}

// waitingReplicated blocks until n WaitReplicated calls are registered, so
// that what the test does next happens while they wait.
func waitingReplicated(t *testing.T, p *Partition, n int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		p.stateMu.Lock()
		got := len(p.lead.replicated)
		p.stateMu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d WaitReplicated calls waiting, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWaitReplicated: an acks=all wait ends once the ISR has the records,
// with NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below the
// minimum meanwhile, NOT_LEADER_OR_FOLLOWER when leadership is lost, and
// the context's error when it ends first.
func TestWaitReplicated(t *testing.T) {
	p, _ := replicatedLeader(t, 1, 2)
	res, err := p.Append(testBatch(t, 2, -1, -1), appendOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	if err := p.WaitReplicated(ctx, res.NextOffset, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReplicated before the follower fetched: %v", err)
	}
	cancel()
	p.stateMu.Lock()
	left := len(p.lead.replicated)
	p.stateMu.Unlock()
	if left != 0 {
		t.Errorf("%d waits left behind by a cancelled WaitReplicated", left)
	}

	done := waitReplicated(context.Background(), p, res.NextOffset, 2)
	waitingReplicated(t, p, 1)
	fetchAt(t, p, 2, res.NextOffset, t0.Add(time.Second))
	if err := <-done; err != nil {
		t.Errorf("WaitReplicated after the follower fetched: %v", err)
	}

	// The follower falls silent and is shrunk out; the next append
	// is acknowledged by the leader alone, fewer than 2.
	res, err = p.Append(testBatch(t, 2, -1, -1), appendOptions())
	if err != nil {
		t.Fatal(err)
	}
	done = waitReplicated(context.Background(), p, res.NextOffset, 2)
	waitingReplicated(t, p, 1)
	rec := p.maybeShrinkISR(t0.Add(time.Second + testLag + 1))
	if rec == nil {
		t.Fatal("no shrink")
	}
	p.completeAlter(*rec, assignment([]int32{1}, testNode, 1, 2), nil, t0.Add(time.Minute))
	if err := <-done; !errors.Is(err, kerr.NotEnoughReplicasAfterAppend) {
		t.Errorf("WaitReplicated across a shrink below the minimum: %v", err)
	}

	// Leadership moves while a wait is pending.
	p.setAssignment(assignment([]int32{1, 2}, testNode, 1, 3), testNode, t0.Add(time.Minute))
	res, err = p.Append(testBatch(t, 2, -1, -1), appendOptions())
	if err != nil {
		t.Fatal(err)
	}
	done = waitReplicated(context.Background(), p, res.NextOffset, 1)
	waitingReplicated(t, p, 1)
	p.setAssignment(assignment([]int32{2}, 2, 2, 4), testNode, t0.Add(time.Minute))
	if err := <-done; !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Errorf("WaitReplicated across a leader change: %v", err)
	}
}

// TestManagerFollower: a replica fetch is refused unless it comes from a
// registered, unfenced broker of the partition's replica set with its
// current registration epoch (or none, before Fetch v15).
func TestManagerFollower(t *testing.T) {
	c := newTestCluster(t)
	c.setReplicated(assignment([]int32{1, 2, 3}, testNode, 0, 0))
	c.reconcile()
	im := *c.image.Load()
	im.Brokers = map[int32]*metadata.Broker{}
	for id, b := range c.image.Load().Brokers {
		nb := *b
		nb.Fenced = id == 3
		im.Brokers[id] = &nb
	}
	c.image.Store(&im)
	cases := []struct {
		name    string
		topic   string
		replica int32
		epoch   int64
		want    error
	}{
		{"a replica with its epoch", "t", 2, int64(brokerEpoch(2)), nil},
		{"a replica without an epoch", "t", 2, -1, nil},
		{"a stale broker epoch", "t", 2, int64(brokerEpoch(2)) - 1, kerr.NotLeaderForPartition},
		{"a newer broker epoch", "t", 2, int64(brokerEpoch(2)) + 1, kerr.NotLeaderForPartition},
		{"a fenced replica", "t", 3, -1, kerr.NotLeaderForPartition},
		{"a broker outside the replica set", "t", 4, -1, kerr.NotLeaderForPartition},
		{"an unknown broker", "t", 9, -1, kerr.NotLeaderForPartition},
		{"this broker", "t", testNode, -1, kerr.NotLeaderForPartition},
		{"an unknown topic", "nope", 2, -1, kerr.UnknownTopicOrPartition},
	}
	for _, tc := range cases {
		p, err := c.m.Follower(tc.topic, 0, tc.replica, tc.epoch)
		switch {
		case tc.want == nil && (err != nil || p == nil):
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	c.setReplicated(assignment([]int32{2, 3}, 2, 1, 1))
	if _, err := c.m.Follower("t", 0, 3, -1); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Errorf("a partition led elsewhere: %v", err)
	}
}

// TestWatchLogEnd: a replica's long poll wakes on an append, before the
// high watermark moves.
func TestWatchLogEnd(t *testing.T) {
	p, _ := replicatedLeader(t, 1, 2)
	w := NewWaiter()
	defer w.Close()
	w.WatchLogEnd(p)
	if _, err := p.Append(testBatch(t, 1, -1, -1), appendOptions()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := w.Wait(ctx); err != nil {
		t.Errorf("an append did not wake WatchLogEnd: %v", err)
	}
	if hw := p.HighWatermark(); hw != 0 {
		t.Errorf("high watermark %d before the follower fetched", hw)
	}
}

// TestRunISRSendsAlterPartition: RunISR carries an expansion from a
// follower's fetch to AlterPartition, with this broker's epoch, and hands
// the answer to the partition.
func TestRunISRSendsAlterPartition(t *testing.T) {
	c := newTestCluster(t)
	sent := make(chan metadata.AlterPartitionRecord, 1)
	c.m.alter = func(_ context.Context, r metadata.AlterPartitionRecord) (metadata.Partition, error) {
		sent <- r
		return assignment(r.ISR, r.Leader, r.LeaderEpoch, r.PartitionEpoch+1), nil
	}
	c.m.brokerEpoch = func() uint64 { return brokerEpoch(testNode) }
	c.setReplicated(assignment([]int32{1, 2}, testNode, 0, 0))
	c.reconcile()
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		c.m.RunISR(stop)
	}()
	p, err := c.m.Follower("t", 0, 3, int64(brokerEpoch(3)))
	if err != nil {
		t.Fatal(err)
	}
	fetchAt(t, p, 3, 0, time.Now())
	r := <-sent
	close(stop)
	<-stopped
	if r.BrokerEpoch != brokerEpoch(testNode) || !slices.Equal(r.ISR, []int32{1, 2, 3}) {
		t.Errorf("sent %+v", r)
	}
	if got := p.ISR(); !slices.Equal(got, []int32{1, 2, 3}) {
		t.Errorf("ISR after the answer %v", got)
	}
}

// TestShrinkISRsQueues: the ISR loop's pass proposes, for every partition
// led here, the shrink of followers silent for longer than the lag.
func TestShrinkISRsQueues(t *testing.T) {
	c := newTestCluster(t)
	c.setReplicated(assignment([]int32{1, 2, 3}, testNode, 0, 0))
	c.reconcile()
	p, err := c.m.Leader("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	c.m.shrinkISRs(time.Now())
	if q := c.m.isr.take(); len(q) != 0 {
		t.Fatalf("shrank followers within the lag: %v", q[0].rec.ISR)
	}
	c.m.shrinkISRs(time.Now().Add(time.Hour))
	q := c.m.isr.take()
	if len(q) != 1 || q[0].p != p || !slices.Equal(q[0].rec.ISR, []int32{testNode}) {
		t.Fatalf("queued %+v, want the shrink of t-0 to the leader alone", q)
	}
}

// setLeader makes p lead alone, as broker leader in epoch, for tests
// that build a partition outside a Manager (the follower side's fake
// leaders): setAssignment with an ISR of the leader alone.
func (p *Partition) setLeader(leader, epoch int32) {
	p.setAssignment(metadata.Partition{Replicas: []int32{leader}, ISR: []int32{leader}, Leader: leader, LeaderEpoch: epoch},
		leader, time.Now())
}
