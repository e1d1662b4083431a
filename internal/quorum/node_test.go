package quorum

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// liveTickInterval makes elections take a few hundred milliseconds: short
// for a test, long enough that a loaded machine running -race does not
// miss heartbeats and depose leaders all the time.
const liveTickInterval = 25 * time.Millisecond

// retryAfter is how long replicate waits for proposed records to be
// applied before proposing the missing ones again (a leader change may
// have dropped them).
const retryAfter = 2 * time.Second

// liveNode is a Node started with real goroutines.
type liveNode struct {
	node *Node
	sm   *testSM
	srv  *http.Server // nil with MemNetwork
}

func startLive(t *testing.T, id int32, voters map[int32]string, transport Transport) *liveNode {
	t.Helper()
	sm := &testSM{}
	n, err := Start(Config{
		NodeID: id, Voters: voters, Dir: t.TempDir(), Transport: transport,
		Apply: sm.apply, Snapshot: sm.snapshot, Restore: sm.restore,
		SnapshotEntries: 64, TickInterval: liveTickInterval, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("start node %d: %v", id, err)
	}
	return &liveNode{node: n, sm: sm}
}

func (l *liveNode) stop(t *testing.T) {
	t.Helper()
	if err := l.node.Close(); err != nil {
		t.Errorf("close node %d: %v", l.node.self, err)
	}
	if l.srv != nil {
		l.srv.Close()
	}
}

// liveLeader returns the leader every listed node agrees on, or -1.
func liveLeader(nodes map[int32]*liveNode, ids ...int32) int32 {
	l := nodes[ids[0]].node.Leader()
	for _, id := range ids {
		if nodes[id].node.Leader() != l {
			return -1
		}
	}
	if !slices.Contains(ids, l) {
		return -1
	}
	return l
}

// waitLiveLeader waits until the nodes in ids agree on a leader among them.
func waitLiveLeader(t *testing.T, deadline time.Time, nodes map[int32]*liveNode, ids []int32) int32 {
	t.Helper()
	l := int32(-1)
	testutil.Eventually(t, time.Until(deadline), fmt.Sprintf("nodes %v to agree on a leader", ids), func() bool {
		l = liveLeader(nodes, ids...)
		return l >= 0
	})
	return l
}

// proposeAll proposes each record, retrying while there is no leader.
func proposeAll(t *testing.T, deadline time.Time, n *Node, records []string) {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for _, r := range records {
		var err error
		// Proposing again is the poll: it succeeds once there is a leader.
		testutil.WaitFor(time.Until(deadline), func() bool {
			err = n.Propose(ctx, []byte(r))
			return err == nil || !errors.Is(err, ErrNoLeader) && !errors.Is(err, ErrProposalDropped)
		})
		if err != nil {
			t.Fatalf("propose %s: %v", r, err)
		}
	}
}

// replicate gets every record applied on every node in ids. A proposal is
// only accepted, not committed, so records a leader change lost are
// proposed again to the new leader, as the metadata controller does; a
// record may then appear twice. With viaFollower the records are proposed
// to a follower, which forwards them. Returns what the nodes applied, which
// is checked to be identical on all of them.
func replicate(t *testing.T, deadline time.Time, nodes map[int32]*liveNode, ids []int32, records []string, viaFollower bool) []string {
	t.Helper()
	leader := waitLiveLeader(t, deadline, nodes, ids)
	for missing := notApplied(nodes[leader].sm, records); len(missing) > 0; {
		leader = waitLiveLeader(t, deadline, nodes, ids)
		proposer := leader
		if viaFollower {
			proposer = ids[(slices.Index(ids, leader)+1)%len(ids)]
		}
		proposeAll(t, deadline, nodes[proposer].node, missing)
		// Records not applied within retryAfter are proposed again.
		testutil.WaitFor(min(retryAfter, time.Until(deadline)), func() bool {
			missing = notApplied(nodes[leader].sm, records)
			return len(missing) == 0
		})
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records never applied", len(missing), len(records))
		}
	}
	// A re-proposed duplicate may still be committing: compare the whole
	// state of every node with the leader's until they agree.
	var diff string
	if !testutil.WaitFor(time.Until(deadline), func() bool {
		diff = stateDifference(nodes, leader, ids)
		return diff == ""
	}) {
		t.Fatalf("timed out waiting for every node to apply the same entries: %s", diff)
	}
	return nodes[leader].sm.data()
}

// stateDifference describes how a node's applied entries differ from the
// leader's, or returns "" when none does.
func stateDifference(nodes map[int32]*liveNode, leader int32, ids []int32) string {
	want := nodes[leader].sm.state()
	for _, id := range ids {
		got := nodes[id].sm.state()
		if i := firstDifference(got, want); i >= 0 {
			return fmt.Sprintf("node %d and leader %d differ at position %d (of %d and %d entries)", id, leader, i, len(got), len(want))
		}
	}
	return ""
}

// firstDifference returns the first position where a and b differ, or -1.
func firstDifference(a, b []Entry) int {
	for i := range max(len(a), len(b)) {
		if i >= len(a) || i >= len(b) || !entryEqual(a[i], b[i]) {
			return i
		}
	}
	return -1
}

func notApplied(sm *testSM, records []string) []string {
	applied := make(map[string]bool)
	for _, d := range sm.data() {
		applied[d] = true
	}
	var missing []string
	for _, r := range records {
		if !applied[r] {
			missing = append(missing, r)
		}
	}
	return missing
}

// requireRecords checks that applied holds exactly the records, in order,
// allowing only re-proposed duplicates.
func requireRecords(t *testing.T, applied, records []string) {
	t.Helper()
	if len(applied) > len(records) {
		t.Logf("%d records were proposed again after a leader change", len(applied)-len(records))
	}
	if !slices.Equal(slices.Compact(sorted(applied)), sorted(records)) {
		t.Fatalf("applied %q, want the records %q", applied, records)
	}
}

func TestHTTPClusterFailover(t *testing.T) {
	baseline := runtime.NumGoroutine()
	deadline := time.Now().Add(9 * time.Second)
	ids := []int32{0, 1, 2}
	voters := make(map[int32]string)
	listeners := make(map[int32]net.Listener)
	for _, id := range ids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners[id], voters[id] = ln, ln.Addr().String()
	}
	nodes := make(map[int32]*liveNode)
	for _, id := range ids {
		l := startLive(t, id, voters, nil)
		mux := http.NewServeMux()
		mux.Handle("/raft/", l.node.Handler())
		l.srv = &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
		go l.srv.Serve(listeners[id])
		nodes[id] = l
	}
	stopped := make(map[int32]bool)
	defer func() {
		for id, l := range nodes {
			if !stopped[id] {
				l.stop(t)
			}
		}
	}()

	want := seq("h", 0, 200)
	requireRecords(t, replicate(t, deadline, nodes, ids, want, false), want)

	leader := waitLiveLeader(t, deadline, nodes, ids)
	nodes[leader].stop(t)
	stopped[leader] = true
	var rest []int32
	for _, id := range ids {
		if id != leader {
			rest = append(rest, id)
		}
	}
	all := append(slices.Clone(want), seq("m", 0, 20)...)
	requireRecords(t, replicate(t, deadline, nodes, rest, all, false), all)
	newLeader := waitLiveLeader(t, deadline, nodes, rest)
	testutil.Eventually(t, time.Until(deadline), "the new leader to see the old one unreachable", func() bool {
		return nodes[newLeader].node.Peers()[leader] != nil
	})

	for _, id := range rest {
		nodes[id].stop(t)
		stopped[id] = true
	}
	requireGoroutinesStopped(t, baseline, deadline)
}

// TestMemNetworkFollowerProposalAndIsolation runs in a synctest bubble:
// nothing leaves the process, so the nodes' ticks and the test's waits
// run on the bubble's clock, elections take no real time, and a loaded
// machine cannot make a node miss heartbeats.
func TestMemNetworkFollowerProposalAndIsolation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		baseline := runtime.NumGoroutine()
		deadline := time.Now().Add(5 * time.Second)
		net := NewMemNetwork()
		voters := map[int32]string{0: "mem:0", 1: "mem:1", 2: "mem:2"}
		nodes := make(map[int32]*liveNode)
		for id := range voters {
			nodes[id] = startLive(t, id, voters, net.Transport(id))
		}
		ids := []int32{0, 1, 2}
		first := []string{"via-follower"}
		requireRecords(t, replicate(t, deadline, nodes, ids, first, true), first)
		leader := waitLiveLeader(t, deadline, nodes, ids)
		if applied := nodes[leader].node.AppliedIndex(); applied < 2 || nodes[leader].node.Term() == 0 {
			t.Fatalf("leader applied index %d term %d", applied, nodes[leader].node.Term())
		}

		net.Isolate(leader, false)
		var rest []int32
		for _, id := range ids {
			if id != leader {
				rest = append(rest, id)
			}
		}
		both := []string{"via-follower", "while-isolated"}
		requireRecords(t, replicate(t, deadline, nodes, rest, both, true), both)
		net.Isolate(leader, true)
		requireRecords(t, replicate(t, deadline, nodes, ids, both, false), both)
		for _, l := range nodes {
			l.stop(t)
			l.stop(t) // idempotent
		}
		if err := nodes[0].node.Propose(context.Background(), []byte("late")); !errors.Is(err, ErrClosed) {
			t.Fatalf("propose after close: %v", err)
		}
		requireGoroutinesStopped(t, baseline, deadline)
	})
}

// TestNodeStopsWhenTheStateMachineFails runs in a synctest bubble, as
// TestMemNetworkFollowerProposalAndIsolation does: a lone voter needs no
// network.
func TestNodeStopsWhenTheStateMachineFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		deadline := time.Now().Add(5 * time.Second)
		sm := &testSM{}
		n, err := Start(Config{
			NodeID: 7, Voters: map[int32]string{7: "127.0.0.1:1"}, Dir: t.TempDir(),
			Apply: sm.apply, Restore: sm.restore,
			Snapshot:        func() (uint64, []byte, error) { return 0, nil, errors.New("disk full") },
			SnapshotEntries: 3, TickInterval: 10 * time.Millisecond, Logger: testLogger(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		testutil.Eventually(t, time.Until(deadline), "the lone voter to lead", func() bool { return n.Leader() == 7 })
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		for i := 0; ; i++ {
			err := n.Propose(ctx, []byte{byte(i)})
			if errors.Is(err, ErrClosed) {
				break
			}
			if err != nil {
				t.Fatalf("propose: %v", err)
			}
		}
		<-n.Done()
		if err := n.Err(); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("Err() = %v, want the snapshot failure", err)
		}
	})
}

// requireGoroutinesStopped waits for the goroutine count to return to what
// it was before the test, and names the survivors if it does not.
func requireGoroutinesStopped(t *testing.T, baseline int, deadline time.Time) {
	t.Helper()
	if !testutil.WaitFor(time.Until(deadline), func() bool { return runtime.NumGoroutine() <= baseline }) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%d goroutines left, %d before the test:\n%s", runtime.NumGoroutine(), baseline, buf)
	}
}

// fakeInbox records what the HTTP handler delivers.
type fakeInbox struct {
	delivered []*raftpb.Message
	err       error
}

func (f *fakeInbox) Deliver(m *raftpb.Message) error {
	if f.err != nil {
		return f.err
	}
	f.delivered = append(f.delivered, m)
	return nil
}
func (f *fakeInbox) SendResult(int32, error)     {}
func (f *fakeInbox) SnapshotResult(int32, error) {}

func encodeForTest(t *testing.T, msgs ...*raftpb.Message) []byte {
	t.Helper()
	body, err := encodeMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestHTTPHandlerRejectsGarbage(t *testing.T) {
	voters := map[int32]string{0: "a:1", 1: "b:1", 2: "c:1"}
	good := &raftpb.Message{Type: raftpb.MsgHeartbeat.Enum(), To: new(raftID(0)), From: new(raftID(1)), Term: new(uint64(3))}
	hugeLength := binary.BigEndian.AppendUint32(nil, 0xffffffff)
	var tooMany []byte
	for range requestMessagesMax + 1 {
		tooMany = append(tooMany, encodeForTest(t, good)...)
	}
	for _, tc := range []struct {
		name      string
		method    string
		path      string
		body      []byte
		inboxErr  error
		want      int
		delivered int
	}{
		{"valid batch", "POST", messagesPath, encodeForTest(t, good, good), nil, http.StatusNoContent, 2},
		{"prefix stripped", "POST", "/messages", encodeForTest(t, good), nil, http.StatusNoContent, 1},
		{"empty body", "POST", messagesPath, nil, nil, http.StatusNoContent, 0},
		{"GET", "GET", messagesPath, nil, nil, http.StatusMethodNotAllowed, 0},
		{"other path", "POST", "/raft/other", encodeForTest(t, good), nil, http.StatusNotFound, 0},
		{"garbage", "POST", messagesPath, []byte("\x00\x00\x00\x04\xff\xff\xff\xff"), nil, http.StatusBadRequest, 0},
		{"huge length", "POST", messagesPath, hugeLength, nil, http.StatusBadRequest, 0},
		{"short body", "POST", messagesPath, encodeForTest(t, good)[:6], nil, http.StatusBadRequest, 0},
		{"too many messages", "POST", messagesPath, tooMany, nil, http.StatusBadRequest, requestMessagesMax},
		{"wrong recipient", "POST", messagesPath, encodeForTest(t, withTo(good, 1)), nil, http.StatusBadRequest, 0},
		{"not a voter", "POST", messagesPath, encodeForTest(t, withFrom(good, 9)), nil, http.StatusBadRequest, 0},
		{"local type", "POST", messagesPath, encodeForTest(t, withType(good, raftpb.MsgHup)), nil, http.StatusBadRequest, 0},
		{"node busy", "POST", messagesPath, encodeForTest(t, good), ErrBusy, http.StatusServiceUnavailable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &fakeInbox{err: tc.inboxErr}
			h := newHTTPHandler(in, 0, voters)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, bytes.NewReader(tc.body)))
			if rec.Code != tc.want || len(in.delivered) != tc.delivered {
				t.Fatalf("status %d (%s), delivered %d; want %d, %d", rec.Code, strings.TrimSpace(rec.Body.String()), len(in.delivered), tc.want, tc.delivered)
			}
		})
	}
}

func withTo(m *raftpb.Message, node int32) *raftpb.Message {
	c := proto.Clone(m).(*raftpb.Message)
	c.To = new(raftID(node))
	return c
}

func withFrom(m *raftpb.Message, node int32) *raftpb.Message {
	c := proto.Clone(m).(*raftpb.Message)
	c.From = new(raftID(node))
	return c
}

func withType(m *raftpb.Message, typ raftpb.MessageType) *raftpb.Message {
	c := proto.Clone(m).(*raftpb.Message)
	c.Type = typ.Enum()
	return c
}
