package group

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// groupWaitMax bounds waitFor: requests parked on the shard's goroutine
// take microseconds, so this is only reached when one never parks.
const groupWaitMax = 5 * time.Second

// fakeClock runs timers when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// advance moves time forward, firing due timers in order.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.stopped && !t.at.After(end) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		next.stopped = true
		c.now = next.at
		c.mu.Unlock()
		next.f()
	}
}

// memStorage is an in-memory offsets topic.
type memStorage struct {
	mu         sync.Mutex
	partitions int32
	batches    map[int32][][]byte
	// durable, when set, runs in WaitDurable: tests hold and fail fsyncs.
	durable func(partition int32, next int64) error
}

func (m *memStorage) Partitions() int32 { return m.partitions }

func (m *memStorage) Append(p, n int32, batch []byte) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.partitions == 0 {
		m.partitions = n
	}
	m.batches[p] = append(m.batches[p], batch)
	return int64(len(m.batches[p])), nil
}

func (m *memStorage) WaitDurable(p int32, next int64) error {
	m.mu.Lock()
	durable := m.durable
	m.mu.Unlock()
	if durable != nil {
		return durable(p, next)
	}
	return nil
}

func (m *memStorage) Replay(p int32, fn func(key, value []byte)) error {
	m.mu.Lock()
	batches := slices.Clone(m.batches[p])
	m.mu.Unlock()
	for _, b := range batches {
		if err := replayBatch(b, fn); err != nil {
			return err
		}
	}
	return nil
}

func newTestCoordinator(t *testing.T, st *memStorage, opts ...func(*Config)) (*Coordinator, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: time.UnixMilli(1_700_000_000_000)}
	cfg := Config{
		OffsetsPartitions: 4, GroupMaxSize: 3, MinSessionTimeout: time.Second, MaxSessionTimeout: time.Minute,
		OffsetsRetention: time.Hour, Storage: st, Clock: clock,
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, clock
}

// waitFor polls group "g" on its shard until cond holds: requests run in
// goroutines, so the test waits for them to be parked.
func waitFor(t *testing.T, c *Coordinator, cond func(g *group) bool) {
	t.Helper()
	s := c.shardFor("g")
	// cond reads the group, so it runs on the shard's goroutine.
	testutil.Eventually(t, groupWaitMax, "the group to reach the condition", func() bool {
		ok, _ := call(context.Background(), s, func() bool { g := s.groups["g"]; return g != nil && cond(g) })
		return ok
	})
}

func syncing(id string) func(g *group) bool {
	return func(g *group) bool { m := g.members[id]; return m != nil && m.sync != nil }
}

func joinReq(version int16, memberID string, instance *string, protocols ...string) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version, r.Group, r.MemberID, r.InstanceID = version, "g", memberID, instance
	r.SessionTimeoutMillis, r.RebalanceTimeoutMillis, r.ProtocolType = 10_000, 30_000, "consumer"
	for _, p := range protocols {
		r.Protocols = append(r.Protocols, kmsg.JoinGroupRequestProtocol{Name: p, Metadata: []byte(p)})
	}
	return r
}

// joinAsync starts a join and returns the channel of its answer.
func joinAsync(c *Coordinator, r *kmsg.JoinGroupRequest) chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { ch <- c.JoinGroup(context.Background(), r, "client", "/127.0.0.1") }()
	return ch
}

func recvJoin(t *testing.T, ch chan *kmsg.JoinGroupResponse) *kmsg.JoinGroupResponse {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("join not answered")
		return nil
	}
}

func syncReq(member string, gen int32, assign map[string]string) *kmsg.SyncGroupRequest {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version, r.Group, r.MemberID, r.Generation = 3, "g", member, gen
	for m, a := range assign {
		r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: m, MemberAssignment: []byte(a)})
	}
	return r
}

func heartbeat(c *Coordinator, member string, gen int32) int16 {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Group, r.MemberID, r.Generation = "g", member, gen
	return c.Heartbeat(context.Background(), r)
}

// joinNew runs the v4+ member-id-required round trip and returns the
// member id and the channel of the real join's answer.
func joinNew(t *testing.T, c *Coordinator, protocols ...string) (string, chan *kmsg.JoinGroupResponse) {
	t.Helper()
	r := recvJoin(t, joinAsync(c, joinReq(5, "", nil, protocols...)))
	if r.ErrorCode != kerr.MemberIDRequired.Code || r.MemberID == "" {
		t.Fatalf("first join: error %d member %q, want MEMBER_ID_REQUIRED with an id", r.ErrorCode, r.MemberID)
	}
	ch := joinAsync(c, joinReq(5, r.MemberID, nil, protocols...))
	waitFor(t, c, func(g *group) bool { _, ok := g.members[r.MemberID]; return ok })
	return r.MemberID, ch
}

func TestJoinSyncHeartbeatLeaveExpire(t *testing.T) {
	c, clock := newTestCoordinator(t, &memStorage{batches: map[int32][][]byte{}})
	a, cha := joinNew(t, c, "range", "roundrobin")
	ra := recvJoin(t, cha)
	if ra.ErrorCode != 0 || ra.Generation != 1 || ra.LeaderID != a || len(ra.Members) != 1 || *ra.Protocol != "range" {
		t.Fatalf("first member join: %+v", ra)
	}
	if s := c.SyncGroup(context.Background(), syncReq(a, 1, map[string]string{a: "A1"})); s.ErrorCode != 0 || string(s.MemberAssignment) != "A1" {
		t.Fatalf("leader sync: error %d assignment %q", s.ErrorCode, s.MemberAssignment)
	}
	if code := heartbeat(c, a, 1); code != 0 {
		t.Fatalf("heartbeat in Stable: %d", code)
	}
	if code := heartbeat(c, a, 0); code != kerr.IllegalGeneration.Code {
		t.Fatalf("stale generation heartbeat: %d", code)
	}
	if code := heartbeat(c, "nobody", 1); code != kerr.UnknownMemberID.Code {
		t.Fatalf("unknown member heartbeat: %d", code)
	}

	// A second member joins preferring roundrobin: rebalance, a heartbeat
	// says REBALANCE_IN_PROGRESS, the first member rejoins, "range" and
	// "roundrobin" tie and the earlier candidate wins.
	b, chb := joinNew(t, c, "roundrobin", "range")
	if code := heartbeat(c, a, 1); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat during rebalance: %d", code)
	}
	cha = joinAsync(c, joinReq(5, a, nil, "range", "roundrobin"))
	ra, rb := recvJoin(t, cha), recvJoin(t, chb)
	if ra.Generation != 2 || rb.Generation != 2 || ra.LeaderID != a || len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("second generation: leader %+v follower %+v", ra, rb)
	}
	syncB := make(chan *kmsg.SyncGroupResponse, 1)
	go func() { syncB <- c.SyncGroup(context.Background(), syncReq(b, 2, nil)) }()
	waitFor(t, c, syncing(b))
	c.SyncGroup(context.Background(), syncReq(a, 2, map[string]string{a: "A2", b: "B2"}))
	if s := <-syncB; s.ErrorCode != 0 || string(s.MemberAssignment) != "B2" {
		t.Fatalf("follower sync: %d %q", s.ErrorCode, s.MemberAssignment)
	}

	// b stops heartbeating: its session expires and a rebalances alone.
	clock.advance(5 * time.Second)
	if code := heartbeat(c, a, 2); code != 0 {
		t.Fatalf("heartbeat: %d", code)
	}
	clock.advance(6 * time.Second)
	waitFor(t, c, func(g *group) bool { return g.members[b] == nil })
	if code := heartbeat(c, a, 2); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat after b expired: %d, want REBALANCE_IN_PROGRESS", code)
	}
	ra = recvJoin(t, joinAsync(c, joinReq(5, a, nil, "range")))
	if ra.Generation != 3 || len(ra.Members) != 1 {
		t.Fatalf("after expiry: %+v", ra)
	}

	// LeaveGroup: unknown members get UNKNOWN_MEMBER_ID, the group empties.
	codes, _ := c.LeaveGroup(context.Background(), "g", []kmsg.LeaveGroupRequestMember{{MemberID: a}, {MemberID: "ghost"}})
	if codes[0] != 0 || codes[1] != kerr.UnknownMemberID.Code {
		t.Fatalf("leave codes %v", codes)
	}
	if d := c.DescribeGroup(context.Background(), "g"); d.State != "Empty" || len(d.Members) != 0 {
		t.Fatalf("after leave: %+v", d)
	}
	if s := c.SyncGroup(context.Background(), syncReq(a, 3, nil)); s.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("sync after leave: %d", s.ErrorCode)
	}
}

func TestJoinErrors(t *testing.T) {
	c, _ := newTestCoordinator(t, &memStorage{batches: map[int32][][]byte{}})
	bad := joinReq(5, "", nil, "range")
	bad.Group = ""
	if r := recvJoin(t, joinAsync(c, bad)); r.ErrorCode != kerr.InvalidGroupID.Code {
		t.Fatalf("empty group id: %d", r.ErrorCode)
	}
	short := joinReq(5, "", nil, "range")
	short.SessionTimeoutMillis = 10
	if r := recvJoin(t, joinAsync(c, short)); r.ErrorCode != kerr.InvalidSessionTimeout.Code {
		t.Fatalf("short session: %d", r.ErrorCode)
	}
	if r := recvJoin(t, joinAsync(c, joinReq(5, "made-up", nil, "range"))); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("unknown member, unknown group: %d", r.ErrorCode)
	}
	joinNew(t, c, "range")
	if r := recvJoin(t, joinAsync(c, joinReq(5, "", nil, "sticky"))); r.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("no common protocol: %d", r.ErrorCode)
	}
	joinNew(t, c, "range")
	joinNew(t, c, "range")
	if r := recvJoin(t, joinAsync(c, joinReq(5, "", nil, "range"))); r.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("fourth member of a max-3 group: %d", r.ErrorCode)
	}
}

func TestStaticMemberRejoin(t *testing.T) {
	c, clock := newTestCoordinator(t, &memStorage{batches: map[int32][][]byte{}})
	inst1, inst2 := "i1", "i2"
	r1 := recvJoin(t, joinAsync(c, joinReq(5, "", &inst1, "range")))
	ch2 := joinAsync(c, joinReq(5, "", &inst2, "range"))
	waitFor(t, c, func(g *group) bool { return g.static[inst2] != "" })
	ch1 := joinAsync(c, joinReq(5, r1.MemberID, &inst1, "range"))
	r1, r2 := recvJoin(t, ch1), recvJoin(t, ch2)
	if r1.Generation != 2 || r2.Generation != 2 {
		t.Fatalf("generations %d %d", r1.Generation, r2.Generation)
	}
	leader, follower, finst := r1.MemberID, r2.MemberID, &inst2
	if r2.LeaderID == r2.MemberID {
		leader, follower, finst = r2.MemberID, r1.MemberID, &inst1
	}
	go c.SyncGroup(context.Background(), syncReq(follower, 2, nil))
	waitFor(t, c, syncing(follower))
	c.SyncGroup(context.Background(), syncReq(leader, 2, map[string]string{leader: "L", follower: "F"}))

	// The follower restarts and rejoins with its instance id but no
	// member id: same generation, no rebalance, a new member id, and the
	// old id is fenced.
	clock.advance(time.Second)
	r := recvJoin(t, joinAsync(c, joinReq(5, "", finst, "range")))
	if r.ErrorCode != 0 || r.Generation != 2 || r.MemberID == follower {
		t.Fatalf("static rejoin: %+v", r)
	}
	s := c.SyncGroup(context.Background(), syncReq(r.MemberID, 2, nil))
	if s.ErrorCode != 0 || string(s.MemberAssignment) != "F" {
		t.Fatalf("static rejoin sync: %d %q", s.ErrorCode, s.MemberAssignment)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = "g", follower, 2, finst
	if code := c.Heartbeat(context.Background(), hb); code != kerr.FencedInstanceID.Code {
		t.Fatalf("old static member heartbeat: %d, want FENCED_INSTANCE_ID", code)
	}
	if code := heartbeat(c, leader, 2); code != 0 {
		t.Fatalf("leader heartbeat: %d", code)
	}
}

func TestOffsetsSurviveRestart(t *testing.T) {
	st := &memStorage{batches: map[int32][][]byte{}}
	c, _ := newTestCoordinator(t, st)
	ctx := context.Background()
	if code := c.CommitOffsets(ctx, CommitRequest{Group: "g", Generation: 5, Commits: []Commit{{Topic: "t", Partition: 0, Offset: 1}}}); code != kerr.IllegalGeneration.Code {
		t.Fatalf("member commit to unknown group: %d", code)
	}
	commit := CommitRequest{Group: "g", Generation: -1, Commits: []Commit{{"t", 0, 42, 3, "meta"}, {"t", 1, 7, -1, ""}}}
	if code := c.CommitOffsets(ctx, commit); code != 0 {
		t.Fatalf("simple commit: %d", code)
	}
	c.CommitOffsets(ctx, CommitRequest{Group: "gone", Generation: -1, Commits: []Commit{{"t", 0, 1, -1, ""}}})
	if code := c.DeleteGroup(ctx, "gone"); code != 0 {
		t.Fatalf("delete: %d", code)
	}
	if code := c.DeleteGroup(ctx, "gone"); code != kerr.GroupIDNotFound.Code {
		t.Fatalf("delete twice: %d", code)
	}
	c.Close()

	c2, _ := newTestCoordinator(t, st)
	got, code := c2.FetchOffsets(ctx, "g", []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1, 2}}})
	if code != 0 || len(got) != 1 {
		t.Fatalf("fetch: %d %+v", code, got)
	}
	want := []PartitionOffset{{0, 42, 3, "meta"}, {1, 7, -1, ""}, {2, -1, -1, ""}}
	for i, w := range want {
		if got[0].Partitions[i] != w {
			t.Errorf("partition %d: got %+v want %+v", i, got[0].Partitions[i], w)
		}
	}
	if all, _ := c2.FetchOffsets(ctx, "gone", nil); len(all) != 0 {
		t.Errorf("deleted group has offsets after restart: %+v", all)
	}
	if groups, _ := c2.ListGroups(ctx, nil); len(groups) != 1 || groups[0].Group != "g" {
		t.Errorf("groups after restart: %+v", groups)
	}
}

func TestPartitionFor(t *testing.T) {
	// Values from Java: Math.abs("my-group".hashCode()) % 50 and friends.
	cases := []struct {
		group string
		want  int32
	}{
		{"", 0},
		{"a", 47}, // 97 % 50
		{"my-group", -1},
		{"console-consumer", -1},
	}
	for _, tc := range cases {
		var h int32
		for _, r := range tc.group {
			h = 31*h + int32(r)
		}
		if h < 0 {
			h = -h
		}
		want := h % 50
		if tc.want >= 0 && want != tc.want {
			t.Fatalf("test table wrong for %q", tc.group)
		}
		if got := PartitionFor(tc.group, 50); got != want {
			t.Errorf("PartitionFor(%q) = %d, want %d", tc.group, got, want)
		}
	}
}
