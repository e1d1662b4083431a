package quorum

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

const (
	electionTicks  = 10
	heartbeatTicks = 1
	// messageBytesMax is raft's MaxSizePerMsg: how much log one MsgApp
	// carries, and how much committed log one Ready hands to Apply.
	messageBytesMax = 1 << 20
	// inflightMessagesMax and inflightBytesMax bound what a leader sends a
	// follower before hearing back, so a slow follower costs bounded memory.
	inflightMessagesMax = 256
	inflightBytesMax    = 32 << 20
	// uncommittedBytesMax bounds the leader's uncommitted tail; proposals
	// beyond it are dropped (ErrProposalDropped) until the followers catch up.
	uncommittedBytesMax = 16 << 20
	// readyRoundsMax bounds one handleReady call. Work left over is picked up
	// by the next call, which the next tick guarantees.
	readyRoundsMax = 64
)

// core owns one raft.RawNode and everything it touches: the in-memory log,
// the WAL, the snapshot file and the calls into the state machine. A core
// is driven by exactly one goroutine (Node.run, or a test harness); none
// of its methods are safe for concurrent use.
//
// Invariants, true whenever no method is running:
//   - every entry and hard state in storage is in the WAL, and fsynced if
//     raft asked for it, before any message that depends on it is handed
//     to send;
//   - snapshotIndex <= appliedIndex, and the snapshot at snapshotIndex is
//     both in storage and in the snapshot file;
//   - lastDataIndex <= appliedIndex: the state machine has seen every
//     non-empty normal entry up to appliedIndex, and nothing after it.
type core struct {
	cfg       Config
	id        uint64 // raft id
	rn        *raft.RawNode
	storage   *raft.MemoryStorage
	wal       *walWriter
	confState *raftpb.ConfState
	send      func([]*raftpb.Message)
	logger    *slog.Logger

	appliedIndex  uint64 // last index applied, of any entry type
	lastDataIndex uint64 // last index passed to Apply or Restore
	snapshotIndex uint64
	leader        uint64 // raft id, raft.None when unknown
	term          uint64
}

// openCore loads cfg.Dir, restores the state machine from the snapshot and
// creates the RawNode. cfg must have passed withDefaults.
func openCore(cfg Config, send func([]*raftpb.Message)) (*core, error) {
	voters := raftIDs(cfg.Voters)
	disk, err := loadDisk(cfg.Dir, voters, cfg.Logger)
	if err != nil {
		return nil, err
	}
	c := &core{
		cfg:       cfg,
		id:        raftID(cfg.NodeID),
		storage:   disk.storage,
		wal:       disk.wal,
		confState: disk.snapshot.GetMetadata().GetConfState(),
		send:      send,
		logger:    cfg.Logger,
	}
	if err := c.restoreAtStart(disk.snapshot); err != nil {
		c.close()
		return nil, err
	}
	hs, _, _ := c.storage.InitialState()
	c.term = hs.GetTerm()
	c.rn, err = raft.NewRawNode(c.raftConfig())
	if err != nil {
		c.close()
		return nil, fmt.Errorf("start raft: %w", err)
	}
	if len(voters) == 1 {
		// A lone voter needs nobody's vote: skip the election timeout.
		if err := c.rn.Campaign(); err != nil {
			c.close()
			return nil, fmt.Errorf("campaign: %w", err)
		}
	}
	return c, nil
}

func (c *core) raftConfig() *raft.Config {
	return &raft.Config{
		ID:                        c.id,
		ElectionTick:              electionTicks,
		HeartbeatTick:             heartbeatTicks,
		Storage:                   c.storage,
		MaxSizePerMsg:             messageBytesMax,
		MaxInflightMsgs:           inflightMessagesMax,
		MaxInflightBytes:          inflightBytesMax,
		MaxUncommittedEntriesSize: uncommittedBytesMax,
		PreVote:                   true,
		CheckQuorum:               true,
		Logger:                    raftLogger{c.logger},
	}
}

func (c *core) restoreAtStart(snap *raftpb.Snapshot) error {
	index := snap.GetMetadata().GetIndex()
	c.appliedIndex, c.lastDataIndex, c.snapshotIndex = index, index, index
	if index == 0 {
		return nil // the bootstrap snapshot: voters only, no state
	}
	if err := c.cfg.Restore(index, snap.GetData()); err != nil {
		return fmt.Errorf("restore state machine from snapshot at index %d: %w", index, err)
	}
	return nil
}

func (c *core) tick() { c.rn.Tick() }

// step feeds raft a message from a peer. Errors are about the message
// (stale, from an unknown peer), never about this node.
func (c *core) step(m *raftpb.Message) error { return c.rn.Step(m) }

func (c *core) propose(data []byte) error {
	err := c.rn.Propose(data)
	if errors.Is(err, raft.ErrProposalDropped) {
		if c.rn.BasicStatus().Lead == raft.None {
			return ErrNoLeader
		}
		return ErrProposalDropped
	}
	return err
}

func (c *core) reportUnreachable(node int32) { c.rn.ReportUnreachable(raftID(node)) }

func (c *core) reportSnapshot(node int32, err error) {
	status := raft.SnapshotFinish
	if err != nil {
		status = raft.SnapshotFailure
	}
	c.rn.ReportSnapshot(raftID(node), status)
}

// handleReady does what raft asks, in the order raft requires: persist,
// send, apply, advance. An error means the disk or the state machine
// failed and the node must stop: the WAL may no longer match raft's view.
func (c *core) handleReady() error {
	for round := 0; round < readyRoundsMax && c.rn.HasReady(); round++ {
		rd := c.rn.Ready()
		if err := c.persist(&rd); err != nil {
			return err
		}
		c.noteState(&rd)
		if len(rd.Messages) > 0 {
			c.send(rd.Messages)
		}
		if err := c.applyReady(&rd); err != nil {
			return err
		}
		c.rn.Advance(rd)
		if err := c.maybeSnapshot(); err != nil {
			return err
		}
	}
	return nil
}

// persist makes the Ready's snapshot, entries and hard state durable.
func (c *core) persist(rd *raft.Ready) error {
	if !raft.IsEmptySnap(rd.Snapshot) {
		return c.persistReceivedSnapshot(rd)
	}
	for _, e := range rd.Entries {
		if err := c.wal.add(frameEntry, e); err != nil {
			return err
		}
	}
	hasHardState := !raft.IsEmptyHardState(rd.HardState)
	if hasHardState {
		if err := c.wal.add(frameHardState, rd.HardState); err != nil {
			return err
		}
	}
	if err := c.wal.flush(rd.MustSync); err != nil {
		return err
	}
	if err := c.storage.Append(rd.Entries); err != nil {
		return fmt.Errorf("append to storage: %w", err)
	}
	if hasHardState {
		return c.storage.SetHardState(rd.HardState)
	}
	return nil
}

// persistReceivedSnapshot stores a snapshot sent by the leader: the
// snapshot file first, then a WAL rewritten to continue from it, because
// the old WAL may hold a tail that the snapshot replaces.
func (c *core) persistReceivedSnapshot(rd *raft.Ready) error {
	snap := rd.Snapshot
	if err := writeSnapshotFile(c.cfg.Dir, snap); err != nil {
		return err
	}
	if err := c.storage.ApplySnapshot(snap); err != nil {
		return fmt.Errorf("apply received snapshot: %w", err)
	}
	if err := c.storage.Append(rd.Entries); err != nil {
		return fmt.Errorf("append to storage: %w", err)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := c.storage.SetHardState(rd.HardState); err != nil {
			return err
		}
	}
	c.logger.Info("quorum: received snapshot from the leader", "index", snap.GetMetadata().GetIndex(), "term", snap.GetMetadata().GetTerm(), "bytes", len(snap.GetData()))
	return c.rewriteWAL(snap.GetMetadata())
}

// rewriteWAL replaces the WAL with one continuing from header: the current
// hard state and the entries after header's index.
func (c *core) rewriteWAL(header *raftpb.SnapshotMetadata) error {
	contents := walContents{header: header}
	contents.hardState, _, _ = c.storage.InitialState()
	last, _ := c.storage.LastIndex()
	if last > header.GetIndex() {
		ents, err := c.storage.Entries(header.GetIndex()+1, last+1, math.MaxUint64)
		if err != nil {
			return fmt.Errorf("read entries %d..%d for WAL rewrite: %w", header.GetIndex()+1, last, err)
		}
		contents.entries = ents
	}
	wal, err := createWAL(c.cfg.Dir, &contents)
	if err != nil {
		return err
	}
	old := c.wal
	c.wal = wal
	return old.close()
}

func (c *core) noteState(rd *raft.Ready) {
	if !raft.IsEmptyHardState(rd.HardState) {
		c.term = rd.HardState.GetTerm()
	}
	if rd.SoftState == nil || rd.SoftState.Lead == c.leader {
		return
	}
	c.leader = rd.SoftState.Lead
	if c.leader == raft.None {
		c.logger.Info("quorum: leader unknown", "term", c.term)
		return
	}
	c.logger.Info("quorum: new leader", "leader", nodeID(c.leader), "term", c.term)
}

// applyReady hands the state machine a received snapshot, then the
// committed entries.
func (c *core) applyReady(rd *raft.Ready) error {
	if !raft.IsEmptySnap(rd.Snapshot) {
		index := rd.Snapshot.GetMetadata().GetIndex()
		if err := c.cfg.Restore(index, rd.Snapshot.GetData()); err != nil {
			return fmt.Errorf("restore state machine from snapshot at index %d: %w", index, err)
		}
		c.appliedIndex, c.lastDataIndex, c.snapshotIndex = index, index, index
	}
	for _, e := range rd.CommittedEntries {
		c.applyEntry(e)
	}
	return nil
}

func (c *core) applyEntry(e *raftpb.Entry) {
	index := e.GetIndex()
	if index <= c.appliedIndex {
		return // already part of a snapshot restored in this Ready
	}
	if index != c.appliedIndex+1 {
		panic(fmt.Sprintf("quorum: committed entry %d after applied index %d: raft skipped entries", index, c.appliedIndex))
	}
	switch {
	case e.GetType() != raftpb.EntryNormal:
		// Voters are static: no conf change is ever proposed, and one that
		// appears anyway (another tool's bootstrap) is not acted upon.
		c.logger.Warn("quorum: ignoring conf change entry; the voter set is static", "index", index)
	case len(e.GetData()) > 0:
		c.cfg.Apply(Entry{Index: index, Term: e.GetTerm(), Data: e.GetData()})
		c.lastDataIndex = index
	}
	c.appliedIndex = index
}

// maybeSnapshot takes a snapshot once SnapshotEntries entries were applied
// since the last one.
func (c *core) maybeSnapshot() error {
	if c.appliedIndex-c.snapshotIndex < c.cfg.SnapshotEntries {
		return nil
	}
	return c.takeSnapshot()
}

// takeSnapshot saves the state machine at appliedIndex, compacts the
// in-memory log and rewrites the WAL to start after the snapshot.
func (c *core) takeSnapshot() error {
	index, data, err := c.cfg.Snapshot()
	if err != nil {
		return fmt.Errorf("state machine snapshot: %w", err)
	}
	if index != c.lastDataIndex {
		return fmt.Errorf("state machine snapshot is at index %d but the last index applied to it is %d", index, c.lastDataIndex)
	}
	// Entries between lastDataIndex and appliedIndex are empty or conf
	// changes, which do not change the state: the same data is the state
	// as of appliedIndex.
	snap, err := c.storage.CreateSnapshot(c.appliedIndex, c.confState, data)
	if err != nil {
		return fmt.Errorf("create snapshot at %d: %w", c.appliedIndex, err)
	}
	if err := writeSnapshotFile(c.cfg.Dir, snap); err != nil {
		return err
	}
	c.snapshotIndex = c.appliedIndex
	if err := c.compact(); err != nil {
		return err
	}
	c.logger.Info("quorum: snapshot taken", "index", c.snapshotIndex, "bytes", len(data))
	return c.rewriteWAL(snap.GetMetadata())
}

// compact drops old entries from memory, keeping the newest half of
// SnapshotEntries so that a follower a little behind catches up from the
// log rather than by a whole snapshot.
func (c *core) compact() error {
	keep := c.cfg.SnapshotEntries / 2
	if c.snapshotIndex <= keep {
		return nil
	}
	first, _ := c.storage.FirstIndex()
	compactIndex := c.snapshotIndex - keep
	if compactIndex < first {
		return nil
	}
	if err := c.storage.Compact(compactIndex); err != nil {
		return fmt.Errorf("compact log to %d: %w", compactIndex, err)
	}
	return nil
}

func (c *core) close() error { return c.wal.close() }

func raftID(node int32) uint64 { return uint64(node) + 1 }

// nodeID maps a raft id back to a Kafka node id; raft.None becomes -1.
func nodeID(id uint64) int32 {
	if id == raft.None {
		return -1
	}
	return int32(id - 1)
}

func raftIDs(voters map[int32]string) []uint64 {
	ids := make([]uint64, 0, len(voters))
	for id := range voters {
		ids = append(ids, raftID(id))
	}
	slices.Sort(ids)
	return ids
}
