package quorum

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// testSM is a state machine that remembers every applied entry. It is
// locked because the goroutine tests read it while Node.run applies.
type testSM struct {
	mu       sync.Mutex
	entries  []Entry  // guarded by mu: state, in apply order
	restores []uint64 // guarded by mu: indexes passed to Restore
	last     uint64   // guarded by mu: last index passed to Apply or Restore
}

func (sm *testSM) apply(e Entry) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if e.Index <= sm.last {
		panic(fmt.Sprintf("apply index %d after %d", e.Index, sm.last))
	}
	sm.entries = append(sm.entries, Entry{Index: e.Index, Term: e.Term, Data: slices.Clone(e.Data)})
	sm.last = e.Index
}

func (sm *testSM) snapshot() (uint64, []byte, error) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	data, err := json.Marshal(sm.entries)
	return sm.last, data, err
}

func (sm *testSM) restore(index uint64, data []byte) error {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	var entries []Entry
	if err := json.Unmarshal(data, &entries); err != nil {
		return err
	}
	sm.entries, sm.last = entries, index
	sm.restores = append(sm.restores, index)
	return nil
}

func (sm *testSM) state() []Entry {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return slices.Clone(sm.entries)
}

func (sm *testSM) data() []string {
	var out []string
	for _, e := range sm.state() {
		out = append(out, string(e.Data))
	}
	return out
}

func (sm *testSM) restoreIndexes() []uint64 {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return slices.Clone(sm.restores)
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

const (
	// deliverMessagesMax bounds one harness.deliver: a run that never
	// quiesces is a bug, not a test that should hang.
	deliverMessagesMax = 100000
	// electionTicksMax is how long a harness waits for an election.
	electionTicksMax = 200
)

// harness runs voters in one goroutine: cores are ticked and their
// messages delivered in a fixed order (node id, then FIFO), so a run
// depends only on raft's randomised election timeouts.
type harness struct {
	t               *testing.T
	voters          map[int32]string
	nodes           map[int32]*harnessNode
	ids             []int32           // sorted
	queue           []*raftpb.Message // in flight, FIFO
	down            map[[2]int32]bool // from, to
	snapshotEntries uint64
}

type harnessNode struct {
	id   int32
	dir  string
	core *core // nil while crashed
	sm   *testSM
}

// newHarness starts voters 0..n-1; node id 0 exercises the raft id +1 mapping.
func newHarness(t *testing.T, n int, snapshotEntries uint64) *harness {
	h := &harness{
		t:               t,
		voters:          make(map[int32]string),
		nodes:           make(map[int32]*harnessNode),
		down:            make(map[[2]int32]bool),
		snapshotEntries: snapshotEntries,
	}
	for i := range int32(n) {
		h.voters[i] = fmt.Sprintf("127.0.0.1:%d", 19000+i) // never dialled
		h.nodes[i] = &harnessNode{id: i, dir: t.TempDir()}
	}
	h.ids = slices.Sorted(maps.Keys(h.voters))
	for _, id := range h.ids {
		h.start(id)
	}
	t.Cleanup(func() {
		for _, id := range h.ids {
			if h.nodes[id].core != nil {
				h.crash(id)
			}
		}
	})
	return h
}

// start opens a node from its directory with a fresh state machine, as a
// restarted process would.
func (h *harness) start(id int32) {
	h.t.Helper()
	n := h.nodes[id]
	n.sm = &testSM{}
	cfg, err := Config{
		NodeID: id, Voters: h.voters, Dir: n.dir,
		Apply: n.sm.apply, Snapshot: n.sm.snapshot, Restore: n.sm.restore,
		SnapshotEntries: h.snapshotEntries, Logger: testLogger(h.t),
	}.withDefaults()
	if err != nil {
		h.t.Fatal(err)
	}
	n.core, err = openCore(cfg, h.enqueue)
	if err != nil {
		h.t.Fatalf("start node %d: %v", id, err)
	}
}

// crash drops a node without any shutdown work beyond closing its file:
// everything raft was told is durable already is on disk.
func (h *harness) crash(id int32) {
	h.t.Helper()
	if err := h.nodes[id].core.close(); err != nil {
		h.t.Fatalf("close node %d: %v", id, err)
	}
	h.nodes[id].core = nil
}

func (h *harness) enqueue(msgs []*raftpb.Message) {
	for _, m := range msgs {
		h.queue = append(h.queue, proto.Clone(m).(*raftpb.Message))
	}
}

func (h *harness) ready(id int32) {
	h.t.Helper()
	if c := h.nodes[id].core; c != nil {
		if err := c.handleReady(); err != nil {
			h.t.Fatalf("node %d: handleReady: %v", id, err)
		}
	}
}

func (h *harness) readyAll() {
	for _, id := range h.ids {
		h.ready(id)
	}
}

// deliver delivers queued messages, and those they cause, until none is
// left. A message on a cut link or to a crashed node is dropped and its
// sender told, as the HTTP transport would.
func (h *harness) deliver() {
	h.t.Helper()
	for range deliverMessagesMax {
		if len(h.queue) == 0 {
			return
		}
		m := h.queue[0]
		h.queue = h.queue[1:]
		from, to := nodeID(m.GetFrom()), nodeID(m.GetTo())
		var err error
		if dest := h.nodes[to].core; dest == nil || h.down[[2]int32{from, to}] {
			err = errLinkDown
		} else {
			_ = dest.step(m) // stale messages are refused, as in production
			h.ready(to)
		}
		h.report(from, to, m, err)
	}
	h.t.Fatalf("messages still flowing after %d deliveries", deliverMessagesMax)
}

func (h *harness) report(from, to int32, m *raftpb.Message, err error) {
	sender := h.nodes[from].core
	if sender == nil {
		return
	}
	if err != nil {
		sender.reportUnreachable(to)
	}
	if m.GetType() == raftpb.MsgSnap {
		sender.reportSnapshot(to, err)
	}
	h.ready(from)
}

// tick advances every live node's clock by rounds ticks, delivering
// everything after each round.
func (h *harness) tick(rounds int) {
	h.t.Helper()
	for range rounds {
		for _, id := range h.ids {
			if c := h.nodes[id].core; c != nil {
				c.tick()
				h.ready(id)
			}
		}
		h.deliver()
	}
}

// leaderOf returns who node id thinks leads, -1 if unknown or crashed.
func (h *harness) leaderOf(id int32) int32 {
	if c := h.nodes[id].core; c != nil {
		return nodeID(c.leader)
	}
	return -1
}

func (h *harness) isLeader(id int32) bool {
	c := h.nodes[id].core
	return c != nil && c.rn.BasicStatus().RaftState == raft.StateLeader
}

// waitLeader ticks until every node in group agrees on one leader that
// is in group and knows it leads, and returns it.
func (h *harness) waitLeader(group ...int32) int32 {
	h.t.Helper()
	if len(group) == 0 {
		group = h.ids
	}
	for range electionTicksMax {
		if l := h.agreedLeader(group); l >= 0 {
			return l
		}
		h.tick(1)
	}
	h.t.Fatalf("no leader agreed among %v after %d ticks", group, electionTicksMax)
	return -1
}

func (h *harness) agreedLeader(group []int32) int32 {
	l := h.leaderOf(group[0])
	if l < 0 || !slices.Contains(group, l) || !h.isLeader(l) {
		return -1
	}
	for _, id := range group {
		if h.leaderOf(id) != l {
			return -1
		}
	}
	return l
}

func (h *harness) propose(id int32, data string) error {
	h.t.Helper()
	if err := h.nodes[id].core.propose([]byte(data)); err != nil {
		return err
	}
	h.ready(id)
	h.deliver()
	return nil
}

func (h *harness) mustPropose(id int32, data string) {
	h.t.Helper()
	if err := h.propose(id, data); err != nil {
		h.t.Fatalf("propose %q on node %d: %v", data, id, err)
	}
}

// isolate cuts (or heals, with up) every link to and from id.
func (h *harness) isolate(id int32, up bool) {
	for _, other := range h.ids {
		if other == id {
			continue
		}
		for _, link := range [][2]int32{{id, other}, {other, id}} {
			if up {
				delete(h.down, link)
			} else {
				h.down[link] = true
			}
		}
	}
}

func (h *harness) term(id int32) uint64 { return h.nodes[id].core.term }

func (h *harness) sm(id int32) *testSM { return h.nodes[id].sm }

// requireSameState checks that every listed node applied exactly want, with
// identical index and term, in the same order.
func (h *harness) requireSameState(want []string, ids ...int32) {
	h.t.Helper()
	if len(ids) == 0 {
		ids = h.ids
	}
	ref := h.sm(ids[0]).state()
	if got := h.sm(ids[0]).data(); !slices.Equal(got, want) {
		h.t.Fatalf("node %d applied %q, want %q", ids[0], got, want)
	}
	for _, id := range ids[1:] {
		if got := h.sm(id).state(); !slices.EqualFunc(got, ref, entryEqual) {
			h.t.Fatalf("node %d applied %v, node %d applied %v", id, got, ids[0], ref)
		}
	}
}

func entryEqual(a, b Entry) bool {
	return a.Index == b.Index && a.Term == b.Term && string(a.Data) == string(b.Data)
}

func seq(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%03d", prefix, i))
	}
	return out
}
