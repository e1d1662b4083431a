package group

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// answerWait bounds how long a test waits for something that should
// happen. (Something that should not happen is checked with expectQuiet,
// in a synctest bubble, rather than by watching for a while.)
const answerWait = 2 * time.Second

// errDisk is what a failed fsync returns from the broker's partitions.
var errDisk = fmt.Errorf("%w: fsync: input/output error", kerr.KafkaStorageError)

// holdFsyncs makes every WaitDurable of st wait for the test: each
// announces its offset on entered and returns what the test sends on
// release. Waits still held when the test ends succeed.
func holdFsyncs(t *testing.T, st *memStorage) (entered chan int64, release chan error) {
	entered, release = make(chan int64, 64), make(chan error)
	stop := make(chan struct{})
	st.mu.Lock()
	st.durable = func(_ int32, next int64) error {
		select {
		case entered <- next:
		case <-stop:
			return nil
		}
		select {
		case err := <-release:
			return err
		case <-stop:
			return nil
		}
	}
	st.mu.Unlock()
	t.Cleanup(func() { close(stop) }) // before the coordinator's Close
	return entered, release
}

func awaitFsync(t *testing.T, entered chan int64, what string) {
	t.Helper()
	select {
	case <-entered:
	case <-time.After(answerWait):
		t.Fatalf("%s: answered without waiting for its fsync", what)
	}
}

func recvWithin[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(answerWait):
		t.Fatalf("%s: no answer", what)
	}
	var zero T
	return zero
}

// expectQuiet fails the test if ch has a value once every goroutine of
// the test's synctest bubble is blocked: the answer is not merely late,
// nothing can send it. It must run inside synctest.Test.
func expectQuiet[T any](t *testing.T, ch chan T, what string) {
	t.Helper()
	synctest.Wait()
	select {
	case v := <-ch:
		t.Fatalf("%s answered before its fsync: %+v", what, v)
	default:
	}
}

func commitAsync(c *Coordinator, req CommitRequest) chan int16 {
	ch := make(chan int16, 1)
	go func() { ch <- c.CommitOffsets(context.Background(), req) }()
	return ch
}

func simpleCommit(group string, offset int64) CommitRequest {
	return CommitRequest{Group: group, Generation: -1, Commits: []Commit{{Topic: "t", Partition: 0, Offset: offset, LeaderEpoch: -1}}}
}

// fetchOne returns the committed offset of topic's partition 0.
func fetchOne(t *testing.T, c *Coordinator, group, topic string) int64 {
	t.Helper()
	got, code := c.FetchOffsets(context.Background(), group, []kmsg.OffsetFetchRequestTopic{{Topic: topic, Partitions: []int32{0}}})
	if code != 0 || len(got) != 1 || len(got[0].Partitions) != 1 {
		t.Fatalf("fetch %s/%s: code %d, %+v", group, topic, code, got)
	}
	return got[0].Partitions[0].Offset
}

func syncAsync(c *Coordinator, r *kmsg.SyncGroupRequest) chan *kmsg.SyncGroupResponse {
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	go func() { ch <- c.SyncGroup(context.Background(), r) }()
	return ch
}

// twoMembers builds group "g" with dynamic members a (the leader) and b,
// both joined to generation 2 and neither synced.
func twoMembers(t *testing.T, c *Coordinator) (a, b string) {
	t.Helper()
	a, cha := joinNew(t, c, "range")
	recvJoin(t, cha)
	b, chb := joinNew(t, c, "range")
	ra := recvJoin(t, joinAsync(c, joinReq(5, a, nil, "range")))
	rb := recvJoin(t, chb)
	if ra.Generation != 2 || rb.Generation != 2 || ra.LeaderID != a {
		t.Fatalf("setup: leader %+v follower %+v", ra, rb)
	}
	return a, b
}

func state(c *Coordinator) string { return c.DescribeGroup(context.Background(), "g").State }

// Gap 1: a commit is visible to OffsetFetch only once durable, and a
// failed fsync leaves nothing behind.
func TestCommitVisibleOnlyOnceDurable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &memStorage{batches: map[int32][][]byte{}}
		c, _ := newTestCoordinator(t, st)
		entered, release := holdFsyncs(t, st)

		done := commitAsync(c, simpleCommit("g", 42))
		awaitFsync(t, entered, "commit")
		if off := fetchOne(t, c, "g", "t"); off != -1 {
			t.Fatalf("offset %d visible to OffsetFetch before its fsync", off)
		}
		expectQuiet(t, done, "commit")
		release <- nil
		if code := recvWithin(t, done, "commit"); code != 0 {
			t.Fatalf("commit: %d", code)
		}
		if off := fetchOne(t, c, "g", "t"); off != 42 {
			t.Fatalf("after the fsync: offset %d, want 42", off)
		}

		done = commitAsync(c, simpleCommit("g", 43))
		awaitFsync(t, entered, "second commit")
		release <- errDisk
		if code := recvWithin(t, done, "failed commit"); code != kerr.NotCoordinator.Code {
			t.Fatalf("failed fsync answered %d, want NOT_COORDINATOR (Kafka maps KAFKA_STORAGE_ERROR so)", code)
		}
		if off := fetchOne(t, c, "g", "t"); off != 42 {
			t.Fatalf("a commit whose fsync failed left offset %d in memory", off)
		}

		// A group created by a commit that failed is not left behind.
		done = commitAsync(c, simpleCommit("fresh", 1))
		awaitFsync(t, entered, "commit to a new group")
		release <- errDisk
		recvWithin(t, done, "failed commit to a new group")
		if groups, _ := c.ListGroups(context.Background(), nil); len(groups) != 1 || groups[0].Group != "g" {
			t.Fatalf("groups after a failed first commit: %+v", groups)
		}
	})
}

// completeCommit with two commits of one partition (appended before 100
// and 101) whose fsync waits come back in either order, or fail.
func TestCompleteCommit(t *testing.T) {
	tp := topicPartition{"t", 0}
	older := offset{offset: 10, leaderEpoch: -1, appendedAt: 100}
	newer := offset{offset: 11, leaderEpoch: -1, appendedAt: 101}
	type step struct {
		o  offset
		ok bool
	}
	cases := []struct {
		name    string
		steps   []step
		want    int64 // -1: no committed offset
		pending bool
	}{
		{"in order", []step{{older, true}, {newer, true}}, 11, false},
		{"newer first", []step{{newer, true}, {older, true}}, 11, false},
		{"older only", []step{{older, true}}, 10, true},
		{"older failed", []step{{older, false}}, -1, true},
		{"newer failed", []step{{older, true}, {newer, false}}, 10, false},
	}
	for _, tc := range cases {
		g := &group{offsets: map[topicPartition]offset{}, pendingOffsets: map[topicPartition]offset{tp: newer}}
		for _, st := range tc.steps {
			g.completeCommit(map[topicPartition]offset{tp: st.o}, st.o.appendedAt, st.ok)
		}
		got, has := g.offsets[tp]
		if !has {
			got.offset = -1
		}
		if _, pending := g.pendingOffsets[tp]; got.offset != tc.want || pending != tc.pending {
			t.Errorf("%s: offset %d pending %v, want %d %v", tc.name, got.offset, pending, tc.want, tc.pending)
		}
	}
	// A partition deleted while its commit was pending stays deleted.
	g := &group{offsets: map[topicPartition]offset{}, pendingOffsets: map[topicPartition]offset{}}
	g.completeCommit(map[topicPartition]offset{tp: older}, 100, true)
	if _, has := g.offsets[tp]; has {
		t.Error("a commit completed into a partition deleted meanwhile")
	}
}

// Gap 2: the leader's SyncGroup is answered, and the group becomes
// Stable, only once the group metadata holding the assignment is durable.
func TestSyncAnsweredOnceAssignmentStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &memStorage{batches: map[int32][][]byte{}}
		c, _ := newTestCoordinator(t, st)
		a, b := twoMembers(t, c)
		entered, release := holdFsyncs(t, st)

		syncB := syncAsync(c, syncReq(b, 2, nil))
		waitFor(t, c, syncing(b))
		syncA := syncAsync(c, syncReq(a, 2, map[string]string{a: "A", b: "B"}))
		awaitFsync(t, entered, "leader SyncGroup")
		expectQuiet(t, syncA, "leader SyncGroup")
		expectQuiet(t, syncB, "follower SyncGroup")
		if st := state(c); st != "CompletingRebalance" {
			t.Fatalf("state while the assignment is being stored: %s", st)
		}
		release <- nil
		if r := recvWithin(t, syncA, "leader sync"); r.ErrorCode != 0 || string(r.MemberAssignment) != "A" {
			t.Fatalf("leader sync: %d %q", r.ErrorCode, r.MemberAssignment)
		}
		if r := recvWithin(t, syncB, "follower sync"); r.ErrorCode != 0 || string(r.MemberAssignment) != "B" {
			t.Fatalf("follower sync: %d %q", r.ErrorCode, r.MemberAssignment)
		}
		if st := state(c); st != "Stable" {
			t.Fatalf("state after the store: %s", st)
		}
	})
}

func TestSyncStoreFailureRebalances(t *testing.T) {
	st := &memStorage{batches: map[int32][][]byte{}}
	c, _ := newTestCoordinator(t, st)
	a, b := twoMembers(t, c)
	entered, release := holdFsyncs(t, st)

	syncB := syncAsync(c, syncReq(b, 2, nil))
	waitFor(t, c, syncing(b))
	syncA := syncAsync(c, syncReq(a, 2, map[string]string{a: "A", b: "B"}))
	awaitFsync(t, entered, "leader SyncGroup")
	release <- errDisk
	for who, ch := range map[string]chan *kmsg.SyncGroupResponse{"leader": syncA, "follower": syncB} {
		if r := recvWithin(t, ch, who); r.ErrorCode != kerr.NotCoordinator.Code || len(r.MemberAssignment) != 0 {
			t.Fatalf("%s sync after a failed store: %d %q", who, r.ErrorCode, r.MemberAssignment)
		}
	}
	if st := state(c); st != "PreparingRebalance" {
		t.Fatalf("state after a failed store: %s", st)
	}
	if code := heartbeat(c, a, 2); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat after a failed store: %d", code)
	}
}

// Gap 3: a member that joined but never sends SyncGroup is removed after
// the rebalance timeout (30 s here), even while it heartbeats.
func TestMemberThatNeverSyncsIsRemoved(t *testing.T) {
	c, clock := newTestCoordinator(t, &memStorage{batches: map[int32][][]byte{}})
	a, b := twoMembers(t, c)
	if r := c.SyncGroup(context.Background(), syncReq(a, 2, map[string]string{a: "A", b: "B"})); r.ErrorCode != 0 {
		t.Fatalf("leader sync: %d", r.ErrorCode)
	}
	for range 5 {
		clock.advance(5 * time.Second)
		if ca, cb := heartbeat(c, a, 2), heartbeat(c, b, 2); ca != 0 || cb != 0 {
			t.Fatalf("heartbeats before the rebalance timeout: %d %d", ca, cb)
		}
	}
	clock.advance(5 * time.Second)
	if code := heartbeat(c, b, 2); code != kerr.UnknownMemberID.Code {
		t.Fatalf("member that never synced: heartbeat %d, want UNKNOWN_MEMBER_ID", code)
	}
	if code := heartbeat(c, a, 2); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("remaining member: heartbeat %d, want REBALANCE_IN_PROGRESS", code)
	}
	if d := c.DescribeGroup(context.Background(), "g"); len(d.Members) != 1 || d.Members[0].MemberID != a {
		t.Fatalf("members after the pending-sync expiry: %+v", d.Members)
	}
}

// Every member synced: the pending-sync timer does nothing.
func TestSyncedGroupKeepsItsMembers(t *testing.T) {
	c, clock := newTestCoordinator(t, &memStorage{batches: map[int32][][]byte{}})
	a, b := twoMembers(t, c)
	syncB := syncAsync(c, syncReq(b, 2, nil))
	waitFor(t, c, syncing(b))
	c.SyncGroup(context.Background(), syncReq(a, 2, map[string]string{a: "A", b: "B"}))
	recvWithin(t, syncB, "follower sync")
	for range 8 {
		clock.advance(5 * time.Second)
		if ca, cb := heartbeat(c, a, 2), heartbeat(c, b, 2); ca != 0 || cb != 0 {
			t.Fatalf("heartbeats of a synced group: %d %d", ca, cb)
		}
	}
}

// staticPair builds group "g" with static members i1 and i2, Stable in
// generation 2 with assignments L (leader) and F; it returns the leader's
// and follower's member and instance ids.
func staticPair(t *testing.T, c *Coordinator) (leader, follower string, linst, finst *string) {
	t.Helper()
	inst1, inst2 := "i1", "i2"
	r1 := recvJoin(t, joinAsync(c, joinReq(5, "", &inst1, "range")))
	ch2 := joinAsync(c, joinReq(5, "", &inst2, "range"))
	waitFor(t, c, func(g *group) bool { return g.static[inst2] != "" })
	r1, r2 := recvJoin(t, joinAsync(c, joinReq(5, r1.MemberID, &inst1, "range"))), recvJoin(t, ch2)
	leader, follower, linst, finst = r1.MemberID, r2.MemberID, &inst1, &inst2
	if r2.LeaderID == r2.MemberID {
		leader, follower, linst, finst = r2.MemberID, r1.MemberID, &inst2, &inst1
	}
	sf := syncAsync(c, syncReq(follower, 2, nil))
	waitFor(t, c, syncing(follower))
	c.SyncGroup(context.Background(), syncReq(leader, 2, map[string]string{leader: "L", follower: "F"}))
	recvWithin(t, sf, "follower sync")
	return leader, follower, linst, finst
}

// Gap 6: a static leader that restarts rejoins without a rebalance; from
// JoinGroup v9 it is told to skip the assignment (KIP-814), before v9 it
// is given the old leader id.
func TestStaticLeaderRejoinSkipsAssignment(t *testing.T) {
	c, _ := newTestCoordinator(t, &memStorage{batches: map[int32][][]byte{}})
	leader, follower, linst, _ := staticPair(t, c)

	r := recvWithin(t, joinAsync(c, joinReq(9, "", linst, "range")), "static leader rejoin v9")
	if r.ErrorCode != 0 || r.Generation != 2 || r.MemberID == leader || r.LeaderID != r.MemberID ||
		!r.SkipAssignment || len(r.Members) != 2 {
		t.Fatalf("static leader rejoin v9: %+v", r)
	}
	newLeader := r.MemberID
	if s := c.SyncGroup(context.Background(), syncReq(newLeader, 2, nil)); s.ErrorCode != 0 || string(s.MemberAssignment) != "L" {
		t.Fatalf("sync after skipping the assignment: %d %q", s.ErrorCode, s.MemberAssignment)
	}
	if code := heartbeat(c, follower, 2); code != 0 {
		t.Fatalf("follower heartbeat: %d (the rejoin must not rebalance)", code)
	}

	r = recvWithin(t, joinAsync(c, joinReq(8, "", linst, "range")), "static leader rejoin v8")
	if r.ErrorCode != 0 || r.Generation != 2 || r.LeaderID != newLeader || r.MemberID == newLeader ||
		r.SkipAssignment || len(r.Members) != 0 {
		t.Fatalf("static leader rejoin v8: %+v", r)
	}
	if s := c.SyncGroup(context.Background(), syncReq(r.MemberID, 2, nil)); s.ErrorCode != 0 || string(s.MemberAssignment) != "L" {
		t.Fatalf("sync after a v8 rejoin: %d %q", s.ErrorCode, s.MemberAssignment)
	}
	if st := state(c); st != "Stable" {
		t.Fatalf("state: %s", st)
	}
}

// A static rejoin is answered once the new member id is stored; if that
// fails, the old member id stays valid and the join gets the error.
func TestStaticRejoinStoreFailureRestoresMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &memStorage{batches: map[int32][][]byte{}}
		c, _ := newTestCoordinator(t, st)
		_, follower, _, finst := staticPair(t, c)
		entered, release := holdFsyncs(t, st)

		join := joinAsync(c, joinReq(5, "", finst, "range"))
		awaitFsync(t, entered, "static rejoin")
		expectQuiet(t, join, "static rejoin")
		release <- errDisk
		if r := recvWithin(t, join, "static rejoin"); r.ErrorCode != kerr.NotCoordinator.Code || r.MemberID != "" {
			t.Fatalf("static rejoin after a failed store: %+v", r)
		}
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = "g", follower, 2, finst
		if code := c.Heartbeat(context.Background(), hb); code != 0 {
			t.Fatalf("old static member after the failed rejoin: heartbeat %d", code)
		}
	})
}

// consumerJoin is a v5 join with consumer protocol metadata subscribing
// to topics.
func consumerJoin(memberID string, topics ...string) *kmsg.JoinGroupRequest {
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = topics
	r := joinReq(5, memberID, nil)
	r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: md.AppendTo(nil)}}
	return r
}

// Gap 5: a Stable consumer group's offsets of topics it no longer
// subscribes to expire offsets.retention after their commit; those of
// subscribed topics stay.
func TestStableGroupExpiresUnsubscribedOffsets(t *testing.T) {
	st := &memStorage{batches: map[int32][][]byte{}}
	c, clock := newTestCoordinator(t, st, func(cfg *Config) { cfg.OffsetsRetention = 20 * time.Second })
	ctx := context.Background()
	r := recvJoin(t, joinAsync(c, consumerJoin("", "t1")))
	r = recvJoin(t, joinAsync(c, consumerJoin(r.MemberID, "t1")))
	a := r.MemberID
	if s := c.SyncGroup(ctx, syncReq(a, r.Generation, map[string]string{a: "A"})); s.ErrorCode != 0 {
		t.Fatalf("sync: %d", s.ErrorCode)
	}
	commit := CommitRequest{Group: "g", Generation: r.Generation, MemberID: a, Commits: []Commit{
		{Topic: "t1", Offset: 5, LeaderEpoch: -1}, {Topic: "t2", Offset: 7, LeaderEpoch: -1},
	}}
	if code := c.CommitOffsets(ctx, commit); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	for range 3 {
		clock.advance(9 * time.Second)
		heartbeat(c, a, r.Generation)
	}
	s := c.shardFor("g")
	call(ctx, s, func() bool { s.expireOffsets(); return true })
	if off := fetchOne(t, c, "g", "t1"); off != 5 {
		t.Fatalf("subscribed topic's offset: %d, want 5", off)
	}
	if off := fetchOne(t, c, "g", "t2"); off != -1 {
		t.Fatalf("unsubscribed topic's offset after retention: %d, want -1", off)
	}
	c.Close()
	c2, _ := newTestCoordinator(t, st)
	if off := fetchOne(t, c2, "g", "t2"); off != -1 {
		t.Fatalf("expired offset back after restart: %d (no tombstone)", off)
	}
}

// Deleting the offsets topic unloads every group, answering parked
// requests with NOT_COORDINATOR.
func TestUnloadForgetsGroups(t *testing.T) {
	c, _ := newTestCoordinator(t, &memStorage{batches: map[int32][][]byte{}}, func(cfg *Config) {
		cfg.InitialRebalanceDelay = time.Minute // keeps the join parked
	})
	ctx := context.Background()
	if code := c.CommitOffsets(ctx, simpleCommit("other", 3)); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	r := recvJoin(t, joinAsync(c, joinReq(5, "", nil, "range")))
	parked := joinAsync(c, joinReq(5, r.MemberID, nil, "range"))
	waitFor(t, c, func(g *group) bool { m := g.members[r.MemberID]; return m != nil && m.join != nil })
	c.Unload(ctx)
	if r := recvWithin(t, parked, "parked join"); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("parked join after unload: %d", r.ErrorCode)
	}
	if off := fetchOne(t, c, "other", "t"); off != -1 {
		t.Fatalf("offset after unload: %d", off)
	}
	if groups, _ := c.ListGroups(ctx, nil); len(groups) != 0 {
		t.Fatalf("groups after unload: %+v", groups)
	}
}

func TestIsInternalTopic(t *testing.T) {
	for name, want := range map[string]bool{
		"__consumer_offsets": true, "__transaction_state": true, "__consumer_offsets2": false, "orders": false,
	} {
		if got := IsInternalTopic(name); got != want {
			t.Errorf("IsInternalTopic(%q) = %v", name, got)
		}
	}
}
