package quorum

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

const (
	defaultSnapshotEntries = 10000
	defaultTickInterval    = 100 * time.Millisecond
	// proposalBytesMax bounds one record. Metadata records are small; the
	// limit keeps one proposal well inside a raft message.
	proposalBytesMax = messageBytesMax
	// recvQueueMessagesMax bounds messages received but not yet stepped.
	// Beyond it Deliver refuses: raft retransmits what is lost.
	recvQueueMessagesMax = 1024
	// proposalQueueMax bounds proposals waiting for the raft goroutine.
	proposalQueueMax = 256
	// loopEventsMax bounds the events one loop iteration takes before
	// handling a Ready, so many proposals share one fsync without starving
	// the ticker.
	loopEventsMax = 256
)

var (
	// ErrNoLeader means no leader is known; retry after an election.
	ErrNoLeader = errors.New("quorum: no leader")
	// ErrProposalDropped means raft refused the proposal although a leader
	// is known: a leadership transfer is under way or too much is
	// uncommitted. Retry.
	ErrProposalDropped = errors.New("quorum: proposal dropped by raft")
	// ErrClosed means the node was closed or stopped after a failure.
	ErrClosed = errors.New("quorum: node closed")
	// ErrBusy means the node's receive queue is full; the message is lost
	// and raft will send it again.
	ErrBusy = errors.New("quorum: receive queue full")
)

// Entry is a committed record.
type Entry struct {
	Index, Term uint64
	// Data is shared with the raft log: read it, never modify it.
	Data []byte
}

// Config configures one voter.
type Config struct {
	NodeID int32
	// Voters maps node id to controller listener address "host:port" (from
	// controller.quorum.voters). It must contain NodeID and must not change
	// once a node has started with it.
	Voters map[int32]string
	// Dir holds the WAL and the snapshot; created if missing.
	Dir string
	// Transport carries messages; nil means NewHTTPTransport. The Node
	// owns it: Close closes it.
	Transport Transport
	// Apply is called for every committed normal entry with non-empty Data,
	// in index order, from one goroutine. It, Snapshot and Restore must not
	// call back into the Node.
	Apply func(e Entry)
	// Snapshot returns the state machine's serialised state as of the last
	// index passed to Apply (or Restore).
	Snapshot func() (index uint64, data []byte, err error)
	// Restore replaces the state machine with a snapshot (at start-up from
	// disk, or received from the leader).
	Restore func(index uint64, data []byte) error
	// SnapshotEntries: take a snapshot and compact after this many applied
	// entries (default 10000).
	SnapshotEntries uint64
	// TickInterval is raft's clock (default 100ms): a leader heartbeats
	// every tick, followers call an election after 10 to 20 silent ticks.
	TickInterval time.Duration
	Logger       *slog.Logger
}

// withDefaults validates cfg and fills in defaults.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.NodeID < 0 || cfg.NodeID == math.MaxInt32 {
		return cfg, fmt.Errorf("quorum: node id %d out of range", cfg.NodeID)
	}
	if _, ok := cfg.Voters[cfg.NodeID]; !ok {
		return cfg, fmt.Errorf("quorum: node %d is not among the controller voters %v", cfg.NodeID, cfg.Voters)
	}
	for id := range cfg.Voters {
		if id < 0 || id == math.MaxInt32 {
			return cfg, fmt.Errorf("quorum: voter id %d out of range", id)
		}
	}
	if cfg.Dir == "" {
		return cfg, errors.New("quorum: Dir is required")
	}
	if cfg.Apply == nil || cfg.Snapshot == nil || cfg.Restore == nil {
		return cfg, errors.New("quorum: Apply, Snapshot and Restore are required")
	}
	if cfg.SnapshotEntries == 0 {
		cfg.SnapshotEntries = defaultSnapshotEntries
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = defaultTickInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("node", cfg.NodeID)
	cfg.Voters = maps.Clone(cfg.Voters) // the caller may reuse its map
	return cfg, nil
}

// Node is one running voter. Its methods are safe for concurrent use.
type Node struct {
	self         int32
	voters       map[int32]string // read-only after Start
	core         *core            // owned by the run goroutine
	transport    Transport
	tickInterval time.Duration
	logger       *slog.Logger

	recvc   chan *raftpb.Message // bounded by recvQueueMessagesMax
	propc   chan proposal        // bounded by proposalQueueMax
	reportc chan struct{}        // capacity 1: reports are pending under mu
	stopc   chan struct{}        // closed by Close
	donec   chan struct{}        // closed when run returns

	// Published by the run goroutine after every Ready.
	leader  atomic.Int32
	term    atomic.Uint64
	applied atomic.Uint64

	mu          sync.Mutex
	peerErrs    map[int32]error // guarded by mu: last send result per peer
	unreachable map[int32]bool  // guarded by mu: not yet reported to raft
	snapReports map[int32]error // guarded by mu: not yet reported to raft
	failure     error           // guarded by mu: why run stopped early

	closeOnce sync.Once
	closeErr  error
}

type proposal struct {
	data []byte
	done chan error // capacity 1
}

// Start loads Dir (snapshot, then WAL), restarts raft from it or
// bootstraps a fresh voter, and starts the goroutine that drives raft.
func Start(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{
		self:         cfg.NodeID,
		voters:       cfg.Voters,
		transport:    cfg.Transport,
		tickInterval: cfg.TickInterval,
		logger:       cfg.Logger,
		recvc:        make(chan *raftpb.Message, recvQueueMessagesMax),
		propc:        make(chan proposal, proposalQueueMax),
		reportc:      make(chan struct{}, 1),
		stopc:        make(chan struct{}),
		donec:        make(chan struct{}),
		peerErrs:     make(map[int32]error),
		unreachable:  make(map[int32]bool),
		snapReports:  make(map[int32]error),
	}
	if n.transport == nil {
		if n.transport, err = NewHTTPTransport(cfg.NodeID, cfg.Voters, cfg.Logger); err != nil {
			return nil, err
		}
	}
	n.core, err = openCore(cfg, n.transport.Send)
	if err != nil {
		n.transport.Close()
		return nil, fmt.Errorf("quorum: %w", err)
	}
	if err := n.transport.Start((*nodeInbox)(n)); err != nil {
		n.core.close()
		n.transport.Close()
		return nil, fmt.Errorf("quorum: start transport: %w", err)
	}
	n.publish()
	go n.run()
	return n, nil
}

// Propose hands a copy of data to raft; a follower forwards it to the
// leader. It returns once raft accepted the proposal, not when it is
// committed: the record may still be lost (a leader change, a dropped
// message), so the caller watches Apply for it and retries on timeout.
func (n *Node) Propose(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return errors.New("quorum: empty proposal")
	}
	if len(data) > proposalBytesMax {
		return fmt.Errorf("quorum: proposal of %d bytes is over the %d-byte limit", len(data), proposalBytesMax)
	}
	// The copy lets the caller reuse its buffer: raft keeps the slice.
	p := proposal{data: bytes.Clone(data), done: make(chan error, 1)}
	select {
	case n.propc <- p:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.donec:
		return ErrClosed
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.donec:
		return ErrClosed
	}
}

// Leader returns the current leader's node id, -1 if unknown.
func (n *Node) Leader() int32 { return n.leader.Load() }

// Term returns the current raft term.
func (n *Node) Term() uint64 { return n.term.Load() }

// AppliedIndex returns the index of the last entry applied (of any type).
func (n *Node) AppliedIndex() uint64 { return n.applied.Load() }

// Handler serves incoming raft messages for the HTTP transport; mount it
// under "/raft/" on the controller listener's http.Server.
func (n *Node) Handler() http.Handler {
	return newHTTPHandler((*nodeInbox)(n), n.self, n.voters)
}

// Peers returns, for every other voter, the result of the last send to it:
// nil when it was delivered or none was attempted yet. While there is no
// leader every voter contacts every other, so at start-up a non-nil error
// names a voter that cannot be reached.
func (n *Node) Peers() map[int32]error {
	n.mu.Lock()
	defer n.mu.Unlock()
	peers := make(map[int32]error, len(n.voters))
	for id := range n.voters {
		if id != n.self {
			peers[id] = n.peerErrs[id]
		}
	}
	return peers
}

// Done is closed when the node stops: after Close, or after a disk or
// state machine failure (see Err).
func (n *Node) Done() <-chan struct{} { return n.donec }

// Err returns why the node stopped on its own, or nil.
func (n *Node) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.failure
}

// Close stops the node, its transport and closes its files. Idempotent.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		close(n.stopc)
		<-n.donec
		n.closeErr = errors.Join(n.transport.Close(), n.core.close())
	})
	return n.closeErr
}
