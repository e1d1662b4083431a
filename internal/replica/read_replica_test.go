package replica

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// testRacks puts broker n in rack "r<n>", except brokers 3 and 4, which
// share r3 so the tests can compare two candidates of one rack.
var testRacks = map[int32]string{1: "r1", 2: "r2", 3: "r3", 4: "r3"}

// setRacks gives the image's brokers the racks of racks, and fences the
// brokers of fenced.
func (c *testCluster) setRacks(racks map[int32]string, fenced ...int32) {
	old := c.image.Load()
	next := &metadata.Image{Topics: old.Topics, Brokers: map[int32]*metadata.Broker{}}
	for id, b := range old.Brokers {
		nb := *b
		if r, ok := racks[id]; ok {
			nb.Rack = &r
		}
		for _, f := range fenced {
			nb.Fenced = nb.Fenced || f == id
		}
		next.Brokers[id] = &nb
	}
	c.image.Store(next)
}

// rackLeader opens t-0 led here in epoch 1 over replicas a.Replicas with
// isr, the brokers in testRacks, and the Manager's selector set to
// selector. Followers start as the image's ISR says, caught up at t0.
func rackLeader(t *testing.T, selector string, replicas []int32, isr ...int32) (*testCluster, *Partition) {
	t.Helper()
	c := newTestCluster(t)
	c.m.selector = selector
	a := metadata.Partition{Replicas: replicas, ISR: isr, Leader: testNode}
	c.setReplicated(a)
	c.reconcile()
	p, ok := c.m.Get("t", 0)
	if !ok {
		t.Fatal("t-0 is not open")
	}
	p.attach(newISREnv(testLag))
	a.LeaderEpoch, a.PartitionEpoch = 1, 1
	c.setReplicated(a)
	c.setRacks(testRacks)
	p.setAssignment(a, testNode, t0)
	appendN(t, p, 10)
	return c, p
}

// followerFetch is replica's fetch of p at offset, its log starting at
// logStart, at now.
func followerFetch(t *testing.T, p *Partition, replica int32, offset, logStart int64, now time.Time) {
	t.Helper()
	got, err := p.FetchForFollower(FollowerFetch{Replica: replica, FetchOffset: offset, LastFetchedEpoch: -1,
		CurrentLeaderEpoch: p.LeaderEpoch(), LogStartOffset: logStart, MaxBytes: 1 << 20, Now: now})
	if err != nil {
		t.Fatalf("fetch of %d at %d: %v", replica, offset, err)
	}
	got.Records.Release()
}

// TestPreferredReadReplica: the leader sends a consumer that names its
// rack to an in-sync follower of that rack holding the fetch offset, as
// Kafka's RackAwareReplicaSelector; otherwise it keeps it.
func TestPreferredReadReplica(t *testing.T) {
	all := []int32{1, 2, 3}
	for _, tc := range []struct {
		name     string
		selector string
		isr      []int32
		rack     string
		offset   int64
		fenced   []int32
		// fetches are the followers' fetches before the consumer's:
		// replica, offset, log start.
		fetches [][3]int64
		want    int32 // -1: read here
	}{
		{name: "rack of an in-sync follower", selector: RackAwareReplicaSelector, isr: all, rack: "r2", offset: 5,
			fetches: [][3]int64{{2, 10, 0}, {3, 10, 0}}, want: 2},
		{name: "no selector", isr: all, rack: "r2", offset: 5,
			fetches: [][3]int64{{2, 10, 0}}, want: -1},
		{name: "an unknown selector", selector: "com.example.Selector", isr: all, rack: "r2", offset: 5,
			fetches: [][3]int64{{2, 10, 0}}, want: -1},
		{name: "no client rack", selector: RackAwareReplicaSelector, isr: all, rack: "", offset: 5,
			fetches: [][3]int64{{2, 10, 0}}, want: -1},
		{name: "the leader's rack", selector: RackAwareReplicaSelector, isr: all, rack: "r1", offset: 5,
			fetches: [][3]int64{{2, 10, 0}}, want: -1},
		{name: "a rack without replicas", selector: RackAwareReplicaSelector, isr: all, rack: "r9", offset: 5,
			fetches: [][3]int64{{2, 10, 0}}, want: -1},
		{name: "follower outside the ISR", selector: RackAwareReplicaSelector, isr: []int32{1, 3}, rack: "r2", offset: 5,
			fetches: [][3]int64{{2, 10, 0}}, want: -1},
		{name: "follower not fetched in this epoch", selector: RackAwareReplicaSelector, isr: all, rack: "r2", offset: 0,
			want: -1},
		{name: "follower behind the offset", selector: RackAwareReplicaSelector, isr: all, rack: "r2", offset: 8,
			fetches: [][3]int64{{2, 7, 0}}, want: -1},
		{name: "follower at the offset", selector: RackAwareReplicaSelector, isr: all, rack: "r2", offset: 7,
			fetches: [][3]int64{{2, 7, 0}}, want: 2},
		{name: "offset below the follower's log start", selector: RackAwareReplicaSelector, isr: all, rack: "r2", offset: 3,
			fetches: [][3]int64{{2, 10, 4}}, want: -1},
		{name: "follower log start unknown", selector: RackAwareReplicaSelector, isr: all, rack: "r2", offset: 3,
			fetches: [][3]int64{{2, 10, -1}}, want: 2},
		{name: "fenced follower", selector: RackAwareReplicaSelector, isr: all, rack: "r2", offset: 5, fenced: []int32{2},
			fetches: [][3]int64{{2, 10, 0}}, want: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, p := rackLeader(t, tc.selector, all, tc.isr...)
			c.setRacks(testRacks, tc.fenced...)
			for _, f := range tc.fetches {
				followerFetch(t, p, int32(f[0]), f[1], f[2], t0.Add(time.Second))
			}
			got, ok := c.m.PreferredReadReplica(p, tc.rack, tc.offset, t0.Add(2*time.Second))
			if tc.want < 0 && ok || tc.want >= 0 && (!ok || got != tc.want) {
				t.Errorf("PreferredReadReplica(%q, %d) = %d, %v; want %d", tc.rack, tc.offset, got, ok, tc.want)
			}
		})
	}
}

// TestPreferredReadReplicaMostCaughtUp: of two in-sync followers in the
// consumer's rack, the one with the larger log end wins; with equal log
// ends, the one caught up most recently; then the larger broker id, as
// Kafka's ReplicaView.comparator orders them.
func TestPreferredReadReplicaMostCaughtUp(t *testing.T) {
	replicas := []int32{1, 2, 3, 4}
	c, p := rackLeader(t, RackAwareReplicaSelector, replicas, 1, 2, 3, 4)
	now := t0.Add(time.Minute)
	check := func(offset int64, want int32) {
		t.Helper()
		if got, ok := c.m.PreferredReadReplica(p, "r3", offset, now); !ok || got != want {
			t.Errorf("PreferredReadReplica(r3, %d) = %d, %v; want %d", offset, got, ok, want)
		}
	}
	// 3 and 4 caught up at t0 (the ISR's start); 4 has more.
	followerFetch(t, p, 3, 6, 0, t0.Add(time.Second))
	followerFetch(t, p, 4, 8, 0, t0.Add(time.Second))
	check(5, 4)
	// Equal log ends: both reach the leader's end, 3 later than 4.
	followerFetch(t, p, 4, 10, 0, t0.Add(2*time.Second))
	followerFetch(t, p, 3, 10, 0, t0.Add(3*time.Second))
	check(5, 3)
	// Equal in all but the id: the larger.
	followerFetch(t, p, 4, 10, 0, t0.Add(3*time.Second))
	check(5, 4)
}

// TestPreferredReadReplicaNotLeader: a follower never redirects.
func TestPreferredReadReplicaNotLeader(t *testing.T) {
	c := newTestCluster(t)
	c.m.selector = RackAwareReplicaSelector
	c.setReplicated(metadata.Partition{Replicas: []int32{2, 1}, ISR: []int32{2, 1}, Leader: 2, LeaderEpoch: 1})
	c.setRacks(testRacks)
	c.reconcile()
	p, err := c.m.ReadReplica("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c.m.PreferredReadReplica(p, "r2", 0, t0); ok {
		t.Errorf("a follower redirected to %d", got)
	}
}

// TestManagerReadReplica: a consumer fetch that may read from a
// follower gets the partition on the leader and on every replica; a
// broker that is no replica, or has not opened it, refuses it as Leader
// does.
func TestManagerReadReplica(t *testing.T) {
	c := newTestCluster(t)
	c.setTopic("here", 1, 1, testNode, 0)
	c.setTopic("leaderless", 3, 1, -1, 0)
	c.setTopic("elsewhere", 2, 1, 2, 0)
	c.image.Load().Topics["elsewhere"].Assignments[0].Replicas = []int32{2, testNode} // followed here
	c.setTopic("other", 4, 1, 2, 0)                                                   // neither led nor followed here
	c.reconcile()
	c.setTopic("opening", 5, 1, 2, 0)
	c.image.Load().Topics["opening"].Assignments[0].Replicas = []int32{2, testNode} // not reconciled
	for _, tc := range []struct {
		topic string
		want  error
	}{
		{"here", nil},
		{"elsewhere", nil},
		{"other", kerr.NotLeaderForPartition},
		{"leaderless", kerr.NotLeaderForPartition},
		{"opening", kerr.NotLeaderForPartition},
		{"nosuch", kerr.UnknownTopicOrPartition},
	} {
		p, err := c.m.ReadReplica(tc.topic, 0)
		switch {
		case tc.want == nil && (err != nil || p == nil || p.Topic != tc.topic):
			t.Errorf("ReadReplica(%s) = %v, %v", tc.topic, p, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("ReadReplica(%s) error %v, want %v", tc.topic, err, tc.want)
		}
	}
}

// TestFollowerRead: a consumer reading a followed partition reads up to
// the follower's high watermark, nothing between it and the log end, and
// gets OFFSET_OUT_OF_RANGE past the log end, as Kafka's log read answers
// any replica; its long poll wakes when that high watermark moves; its
// current leader epoch is checked against the follower's.
func TestFollowerRead(t *testing.T) {
	leader := openLeaderPartition(t, 1)
	appendN(t, leader, 4, 6)
	batches, err := leader.ReadToEnd(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}

	c := newTestCluster(t)
	c.setReplicated(metadata.Partition{Replicas: []int32{leaderNode, testNode}, ISR: []int32{leaderNode, testNode},
		Leader: leaderNode, LeaderEpoch: 1})
	c.reconcile()
	p, err := c.m.ReadReplica("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	end, err := p.appendAsFollower(batches, leaderNode, 1)
	if err != nil || end != 10 {
		t.Fatalf("appendAsFollower = %d, %v; want 10", end, err)
	}
	if err := p.WaitDurable(context.Background(), end); err != nil {
		t.Fatal(err)
	}
	// A consumer's long poll on the follower wakes when the high
	// watermark the follower takes from its leader moves.
	w := NewWaiter()
	defer w.Close()
	w.Watch(p)
	p.followHighWatermark(4, end) // the leader's high watermark covers the first batch
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Wait(ctx); err != nil {
		t.Fatalf("the long poll on the follower was not woken: %v", err)
	}

	for _, tc := range []struct {
		offset    int64
		wantBytes bool
		wantErr   error
	}{
		{0, true, nil},
		{4, false, nil}, // past the high watermark, inside the log
		{10, false, nil},
		{11, false, kerr.OffsetOutOfRange},
	} {
		f, err := p.Fetch(tc.offset, 1<<20, true)
		got := f.Records.Len()
		f.Records.Release()
		if !errors.Is(err, tc.wantErr) || (got > 0) != tc.wantBytes {
			t.Errorf("Fetch(%d) = %d bytes, %v; want bytes %v, error %v", tc.offset, got, err, tc.wantBytes, tc.wantErr)
		}
		if f.HighWatermark != 4 {
			t.Errorf("Fetch(%d) high watermark %d, want 4", tc.offset, f.HighWatermark)
		}
	}
	if b, err := p.Read(0, 1<<20, false); err != nil || len(b) == 0 {
		t.Fatalf("Read = %d bytes, %v", len(b), err)
	}
	if err := p.CheckLeaderEpoch(0); !errors.Is(err, kerr.FencedLeaderEpoch) {
		t.Errorf("CheckLeaderEpoch(0) on a follower in epoch 1 = %v, want FENCED_LEADER_EPOCH", err)
	}
	if err := p.CheckLeaderEpoch(2); !errors.Is(err, kerr.UnknownLeaderEpoch) {
		t.Errorf("CheckLeaderEpoch(2) on a follower in epoch 1 = %v, want UNKNOWN_LEADER_EPOCH", err)
	}
}
