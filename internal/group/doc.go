// Package group is the group coordinator: it runs Kafka's classic group
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, with static
// membership) and keeps the groups' committed offsets (OffsetCommit,
// OffsetFetch, OffsetDelete, DeleteGroups, offset retention), persisted in
// the compacted __consumer_offsets topic.
//
// # What it owns
//
//   - The groups of this broker and their state machines (Empty,
//     PreparingRebalance, CompletingRebalance, Stable, Dead), members,
//     generations and assignments.
//   - The committed offsets, in memory, and the records that make them
//     durable. A group lives on the partition of __consumer_offsets that
//     PartitionFor picks with Kafka's hash, so tools and clients find the
//     same coordinator partition as with Kafka.
//   - Replay of __consumer_offsets (load.go): the latest record per key
//     wins and a tombstone deletes. At start the partitions led here are
//     replayed; later, as leadership of offsets partitions moves
//     (failover.go, Reconcile), a partition that arrives is replayed in
//     the background (its groups answer COORDINATOR_LOAD_IN_PROGRESS
//     meanwhile) and the groups of one that leaves are dropped (their
//     parked requests answer NOT_COORDINATOR).
//
// # One owner per group
//
// Groups are split among shardCount shard goroutines by their offsets
// partition. Each group is touched only on its shard's goroutine, fed by a
// bounded queue (opsQueueMax); request goroutines queue an operation and
// wait for its answer. A change that must be durable is appended on the
// shard, so a group's records land in the order its owner decided them;
// the fsync is awaited off the shard (durable.go), and the continuation is
// queued back on it. Session, rebalance and retention timers come from an
// injected Clock, so tests drive time without sleeping.
//
// # On-disk records
//
// Keys and values use Kafka's own schemas (kmsg's OffsetCommitKey and
// friends), each prefixed by its int16 version, so tools that read
// __consumer_offsets directly (lag exporters, Kafka's console consumer
// with its offsets formatter) understand them:
//
//	key   v1  OffsetCommitKey     group, topic, partition
//	value v3  OffsetCommitValue   offset, leaderEpoch, metadata, commitTimestamp
//	key   v2  GroupMetadataKey    group
//	value v3  GroupMetadataValue  protocolType, generation, protocol, leader,
//	                              currentStateTimestamp, members: memberID,
//	                              instanceID, clientID, clientHost,
//	                              rebalanceTimeout, sessionTimeout,
//	                              subscription, assignment
//
// A null value is a tombstone: the offset or the group was deleted. Replay
// also reads OffsetCommitKey v0 and older value versions; keys of unknown
// versions are skipped, as Kafka skips them. One append is one
// uncompressed RecordBatch v2 with no producer id, offsets 0..n-1 and the
// coordinator clock's time, built and checksummed by package record.
//
// # What it must not touch
//
// It reaches the offsets topic only through Storage (appends, durability
// waits, replay), never segment files or another package's partition
// state. It does not encode RecordBatch bytes itself (package record
// does), does not decide which broker coordinates a group (Config.Owns,
// from the broker's view of partition leadership), and does not create
// topics on its own (ReplicaStorage is handed a create function). The
// consumer protocol of KIP-848 and transactional offset commits are not
// implemented here yet.
package group
