package quorum

import "go.etcd.io/raft/v3/raftpb"

// Transport carries raft messages between voters. Delivery is best effort:
// raft retransmits whatever is lost, so a transport drops rather than
// blocks, and reports what happened through the Inbox.
type Transport interface {
	// Start is called once by quorum.Start, before the first Send, with the
	// node's side of the transport.
	Start(in Inbox) error
	// Send queues messages for delivery and must not block. It is called
	// only from the node's raft goroutine, after the messages' entries are
	// durable. Their entries are shared with the raft log: read, never
	// modify.
	Send(msgs []*raftpb.Message)
	// Close stops delivery and waits for the transport's goroutines.
	// Idempotent.
	Close() error
}

// Inbox is the node's side of a Transport. Its methods never block and are
// safe for concurrent use.
type Inbox interface {
	// Deliver hands the node a message received from a voter: ErrBusy when
	// its receive queue is full, ErrClosed once it stopped.
	Deliver(msg *raftpb.Message) error
	// SendResult records how the latest send to voter to went: nil when it
	// was delivered, or why not. Errors make raft probe that voter gently
	// instead of streaming to it, and show in Node.Peers.
	SendResult(to int32, err error)
	// SnapshotResult reports whether a MsgSnap reached voter to. Report
	// every MsgSnap handed to Send exactly once: until it is reported, the
	// leader sends that voter nothing else.
	SnapshotResult(to int32, err error)
}
