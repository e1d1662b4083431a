package quorum

import (
	"errors"
	"sync"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

var errLinkDown = errors.New("link down")

// MemNetwork connects the Nodes of one process without sockets, for tests
// of packages built on quorum: give each Node Transport(id) and cut or heal
// links between them.
type MemNetwork struct {
	mu      sync.Mutex
	inboxes map[int32]Inbox   // guarded by mu: started transports
	known   map[int32]bool    // guarded by mu: every node ever started
	down    map[[2]int32]bool // guarded by mu: from, to
}

func NewMemNetwork() *MemNetwork {
	return &MemNetwork{inboxes: make(map[int32]Inbox), known: make(map[int32]bool), down: make(map[[2]int32]bool)}
}

// Transport returns the transport for node self.
func (net *MemNetwork) Transport(self int32) Transport {
	return &memTransport{net: net, self: self}
}

// SetLink cuts (up false) or restores the link from one node to another.
func (net *MemNetwork) SetLink(from, to int32, up bool) {
	net.mu.Lock()
	defer net.mu.Unlock()
	net.setLinkLocked(from, to, up)
}

// Isolate cuts (up false) or restores every link to and from node.
func (net *MemNetwork) Isolate(node int32, up bool) {
	net.mu.Lock()
	defer net.mu.Unlock()
	for other := range net.known {
		if other != node {
			net.setLinkLocked(node, other, up)
			net.setLinkLocked(other, node, up)
		}
	}
}

// REQUIRES: net.mu held.
func (net *MemNetwork) setLinkLocked(from, to int32, up bool) {
	if up {
		delete(net.down, [2]int32{from, to})
	} else {
		net.down[[2]int32{from, to}] = true
	}
}

// route returns the inbox a message from one node to another reaches.
func (net *MemNetwork) route(from, to int32) (Inbox, error) {
	net.mu.Lock()
	defer net.mu.Unlock()
	if net.down[[2]int32{from, to}] {
		return nil, errLinkDown
	}
	in := net.inboxes[to]
	if in == nil {
		return nil, ErrClosed
	}
	return in, nil
}

type memTransport struct {
	net  *MemNetwork
	self int32
	in   Inbox // own inbox, for reports; set by Start
}

func (t *memTransport) Start(in Inbox) error {
	t.in = in
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	t.net.inboxes[t.self] = in
	t.net.known[t.self] = true
	return nil
}

// Send delivers synchronously into the receiver's bounded queue. Messages
// are cloned so that no two nodes share a raft entry.
func (t *memTransport) Send(msgs []*raftpb.Message) {
	for _, m := range msgs {
		to := nodeID(m.GetTo())
		in, err := t.net.route(t.self, to)
		if err == nil {
			err = in.Deliver(proto.Clone(m).(*raftpb.Message))
		}
		t.in.SendResult(to, err)
		if m.GetType() == raftpb.MsgSnap {
			t.in.SnapshotResult(to, err)
		}
	}
}

func (t *memTransport) Close() error {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	if t.net.inboxes[t.self] == t.in {
		delete(t.net.inboxes, t.self)
	}
	return nil
}
