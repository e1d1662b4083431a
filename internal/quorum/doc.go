// Package quorum replicates the cluster metadata log among the controller
// voters with go.etcd.io/raft/v3. It adds what the raft library leaves to
// its user — a durable log on disk, snapshots, a transport and one goroutine
// driving raft.RawNode — and no consensus logic of its own.
//
// The caller proposes opaque records with Node.Propose and receives every
// committed record, in index order and on every voter, through Config.Apply.
// Proposals are not acknowledged on commit: a caller that needs to know
// whether its record made it watches Apply for it and retries on timeout.
//
// # Identities
//
// The API speaks Kafka node ids (int32, may be 0). etcd raft reserves id 0
// for "none", so internally raftID = uint64(nodeID) + 1.
//
// # The one goroutine
//
// All raft state is owned by a core (core.go): tick, step, propose and
// handleReady are plain methods that do their I/O synchronously in the
// order raft demands — persist HardState, entries and snapshot (fsync),
// then send messages, then apply committed entries, then Advance. Node runs
// one goroutine that feeds the core from a ticker and bounded channels; the
// deterministic tests drive the very same methods by hand.
//
// # On-disk format
//
// Config.Dir holds two files:
//
//	snapshot   one frame of type snapshot: a marshalled raftpb.Snapshot
//	           (metadata: index, term, voters; data: Config.Snapshot's bytes).
//	           Replaced atomically (write snapshot.tmp, fsync, rename, fsync dir).
//	wal        a header frame, then appended frames:
//
//	           +----------------------------------------------------+
//	           | snapshotMeta  index/term/voters the log continues   |  header
//	           +----------------------------------------------------+
//	           | hardState     term, vote, commit (latest wins)      |
//	           | entry         raftpb.Entry, index header.index+1     |
//	           | entry         ...                                  |
//	           | hardState     ...                                  |
//	           | entry         index <= last+1: replaces the tail    |
//	           +----------------------------------------------------+
//
// Every frame, in both files:
//
//	0        4        8    9
//	+--------+--------+----+----------------------+
//	| length | crc32c |type| payload (length bytes)|
//	+--------+--------+----+----------------------+
//	length: u32 big-endian, payload bytes only
//	crc32c: Castagnoli CRC of the type byte and the payload
//	type:   1 entry, 2 hardState, 3 snapshotMeta, 4 snapshot
//
// A fresh node writes a snapshot file at index 0 holding only the static
// voter set (every voter bootstraps identically, so they can join each
// other), then a WAL holding just its header. Each handled Ready appends
// frames before any message leaves, and fsyncs them when raft says the
// write must be durable (new entries, term or vote; a commit index alone
// may be lost and is learnt again from the leader). Taking a snapshot, or
// receiving one from the leader, writes the snapshot file first and then
// rewrites the WAL (atomically, like the snapshot) to hold the header, the
// hard state and the entries after the snapshot index.
//
// On start the WAL is read up to the first frame that is torn, fails its
// CRC, does not decode or does not fit the log (an index gap, a term going
// backwards, a committed entry replaced); the file is truncated there and
// what was cut is logged, since a crash mid-write is normal. If the snapshot
// file is newer than the WAL header (a crash between the two writes), WAL
// entries after the snapshot are kept only if the WAL holds the snapshot's
// own index with the same term, and the WAL is rewritten.
package quorum
