package quorum

import (
	"maps"
	"slices"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// run is the one goroutine that drives the core: it takes one event (a
// tick, a message, a proposal, transport reports), then any more already
// waiting, then handles the resulting Ready once.
func (n *Node) run() {
	defer close(n.donec)
	ticker := time.NewTicker(n.tickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-n.stopc:
			return
		case <-ticker.C:
			n.core.tick()
		case m := <-n.recvc:
			n.step(m)
		case p := <-n.propc:
			p.done <- n.core.propose(p.data)
		case <-n.reportc:
			n.drainReports()
		}
		n.drainWaiting()
		if err := n.core.handleReady(); err != nil {
			n.fail(err)
			return
		}
		n.publish()
	}
}

// drainWaiting takes messages and proposals that are already queued, so
// that they share one Ready and one fsync.
func (n *Node) drainWaiting() {
	for range loopEventsMax {
		select {
		case m := <-n.recvc:
			n.step(m)
		case p := <-n.propc:
			p.done <- n.core.propose(p.data)
		default:
			return
		}
	}
}

func (n *Node) step(m *raftpb.Message) {
	if err := n.core.step(m); err != nil {
		n.logger.Debug("quorum: message not stepped", "type", m.GetType(), "from", nodeID(m.GetFrom()), "err", err)
	}
}

func (n *Node) fail(err error) {
	n.logger.Error("quorum: stopping after a failure; restart the process to recover from disk", "err", err)
	n.mu.Lock()
	n.failure = err
	n.mu.Unlock()
}

// publish makes the core's state visible to other goroutines.
func (n *Node) publish() {
	n.leader.Store(nodeID(n.core.leader))
	n.term.Store(n.core.term)
	n.applied.Store(n.core.appliedIndex)
}

// drainReports passes the transport's reports to raft, in node id order so
// that the outcome does not depend on map iteration.
func (n *Node) drainReports() {
	n.mu.Lock()
	unreachable, snapReports := n.unreachable, n.snapReports
	n.unreachable, n.snapReports = make(map[int32]bool), make(map[int32]error)
	n.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(unreachable)) {
		n.core.reportUnreachable(id)
	}
	for _, id := range slices.Sorted(maps.Keys(snapReports)) {
		n.core.reportSnapshot(id, snapReports[id])
	}
}

// nodeInbox is the Inbox a transport feeds. Reports are collected under mu
// and handed to raft by the run goroutine, so a transport never blocks on
// raft and never touches it.
type nodeInbox Node

func (in *nodeInbox) Deliver(m *raftpb.Message) error {
	select {
	case <-in.stopc:
		return ErrClosed
	default:
	}
	select {
	case in.recvc <- m:
		return nil
	default:
		return ErrBusy
	}
}

func (in *nodeInbox) SendResult(to int32, err error) {
	in.mu.Lock()
	prev := in.peerErrs[to]
	in.peerErrs[to] = err
	if err != nil {
		in.unreachable[to] = true
	}
	in.mu.Unlock()
	// Log changes only: a down voter fails every heartbeat.
	switch {
	case err != nil && prev == nil:
		in.logger.Warn("quorum: voter unreachable", "voter", to, "address", in.voters[to], "err", err)
	case err == nil && prev != nil:
		in.logger.Info("quorum: voter reachable again", "voter", to, "address", in.voters[to])
	}
	if err != nil {
		in.notify()
	}
}

func (in *nodeInbox) SnapshotResult(to int32, err error) {
	in.mu.Lock()
	in.snapReports[to] = err
	in.mu.Unlock()
	in.notify()
}

func (in *nodeInbox) notify() {
	select {
	case in.reportc <- struct{}{}:
	default:
	}
}
