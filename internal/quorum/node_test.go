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
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

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
		SnapshotEntries: 64, TickInterval: 10 * time.Millisecond, Logger: testLogger(t),
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

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, deadline time.Time, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
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

// proposeAll proposes each record, retrying while there is no leader.
func proposeAll(t *testing.T, deadline time.Time, n *Node, records []string) {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for _, r := range records {
		for {
			err := n.Propose(ctx, []byte(r))
			if err == nil {
				break
			}
			if !errors.Is(err, ErrNoLeader) && !errors.Is(err, ErrProposalDropped) {
				t.Fatalf("propose %s: %v", r, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
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

	eventually(t, deadline, "a leader", func() bool { return liveLeader(nodes, ids...) >= 0 })
	leader := liveLeader(nodes, ids...)
	want := seq("h", 0, 200)
	proposeAll(t, deadline, nodes[leader].node, want)
	for _, id := range ids {
		eventually(t, deadline, fmt.Sprintf("node %d to apply 200 records", id), func() bool { return len(nodes[id].sm.state()) == len(want) })
	}
	for _, id := range ids {
		if got := nodes[id].sm.data(); !slices.Equal(got, want) {
			t.Fatalf("node %d applied %q", id, got)
		}
	}

	nodes[leader].stop(t)
	stopped[leader] = true
	var rest []int32
	for _, id := range ids {
		if id != leader {
			rest = append(rest, id)
		}
	}
	eventually(t, deadline, "a new leader", func() bool { return liveLeader(nodes, rest...) >= 0 })
	newLeader := liveLeader(nodes, rest...)
	more := seq("m", 0, 20)
	proposeAll(t, deadline, nodes[newLeader].node, more)
	want = append(want, more...)
	for _, id := range rest {
		eventually(t, deadline, fmt.Sprintf("node %d to apply 220 records", id), func() bool { return len(nodes[id].sm.state()) == len(want) })
		if got := nodes[id].sm.data(); !slices.Equal(got, want) {
			t.Fatalf("node %d applied %q", id, got)
		}
	}
	eventually(t, deadline, "the new leader to see the old one unreachable", func() bool {
		return nodes[newLeader].node.Peers()[leader] != nil
	})

	for _, id := range rest {
		nodes[id].stop(t)
		stopped[id] = true
	}
	requireGoroutinesStopped(t, baseline, deadline)
}

func TestMemNetworkFollowerProposalAndIsolation(t *testing.T) {
	baseline := runtime.NumGoroutine()
	deadline := time.Now().Add(5 * time.Second)
	net := NewMemNetwork()
	voters := map[int32]string{0: "mem:0", 1: "mem:1", 2: "mem:2"}
	nodes := make(map[int32]*liveNode)
	for id := range voters {
		nodes[id] = startLive(t, id, voters, net.Transport(id))
	}
	eventually(t, deadline, "a leader", func() bool { return liveLeader(nodes, 0, 1, 2) >= 0 })
	leader := liveLeader(nodes, 0, 1, 2)
	follower := (leader + 1) % 3
	proposeAll(t, deadline, nodes[follower].node, []string{"via-follower"})
	for id := range voters {
		eventually(t, deadline, "the record everywhere", func() bool { return slices.Equal(nodes[id].sm.data(), []string{"via-follower"}) })
	}
	if applied := nodes[leader].node.AppliedIndex(); applied < 2 || nodes[leader].node.Term() == 0 {
		t.Fatalf("leader applied index %d term %d", applied, nodes[leader].node.Term())
	}

	net.Isolate(leader, false)
	rest := []int32{follower, (leader + 2) % 3}
	eventually(t, deadline, "a leader without the isolated one", func() bool { return liveLeader(nodes, rest...) >= 0 })
	proposeAll(t, deadline, nodes[rest[1]].node, []string{"while-isolated"})
	net.Isolate(leader, true)
	want := []string{"via-follower", "while-isolated"}
	for id := range voters {
		eventually(t, deadline, "every node to apply both records", func() bool { return slices.Equal(nodes[id].sm.data(), want) })
	}
	for _, l := range nodes {
		l.stop(t)
		l.stop(t) // idempotent
	}
	if err := nodes[0].node.Propose(context.Background(), []byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("propose after close: %v", err)
	}
	requireGoroutinesStopped(t, baseline, deadline)
}

func TestNodeStopsWhenTheStateMachineFails(t *testing.T) {
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
	eventually(t, deadline, "the lone voter to lead", func() bool { return n.Leader() == 7 })
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
}

// requireGoroutinesStopped waits for the goroutine count to return to what
// it was before the test, and names the survivors if it does not.
func requireGoroutinesStopped(t *testing.T, baseline int, deadline time.Time) {
	t.Helper()
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines left, %d before the test:\n%s", runtime.NumGoroutine(), baseline, buf)
		}
		time.Sleep(10 * time.Millisecond)
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
