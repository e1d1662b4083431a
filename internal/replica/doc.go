// Package replica owns the partitions this broker hosts. A Partition is
// the only door to one: nothing outside this package reaches its log.
//
// What a Partition owns:
//
//   - its log (internal/log), opened, recovered, configured, compacted,
//     trimmed by retention and closed through the Manager;
//   - its producer state, checked and updated under the append lock;
//   - its high watermark: the offset below which consumers may read. The
//     log reports how far it is on disk (or written, with relaxed
//     flushing); a leader takes the minimum of that and of its
//     followers' fetch offsets (each a follower's durable log end) over
//     the maximal ISR (KIP-497), and gives it back to the log as the
//     readers' bound (partition_leader.go). With the leader alone in the
//     ISR it is the leader's own durable offset, as before replication;
//   - its replication state as leader: each follower's offset and when it
//     was last caught up, the committed ISR and partition epoch, the
//     AlterPartition in flight (ISR expansion on a follower's fetch,
//     shrink after replica.lag.time.max.ms);
//   - its log start offset, moved by DeleteRecords and retention;
//   - its leader and leader epoch, taken from the metadata image: every
//     appended batch is stamped with the epoch, and requests carrying a
//     client's current leader epoch are checked against it (KIP-320);
//   - its leader epoch cache (epoch_cache.go): the first offset of every
//     epoch, kept in Kafka's leader-epoch-checkpoint file beside the
//     log, fitted to the batch headers on open, followed by the log
//     start; OffsetForLeaderEpoch and ListOffsets answer from it;
//   - the waits: WaitDurable for acks=1, WaitReplicated for acks=all
//     (the high watermark), and Waiter for fetch long polls, woken when
//     the high watermark moves (and, for replica fetches, on appends).
//
// The Manager owns the set of partitions and their directories: it opens,
// closes and deletes them as the metadata image says (Reconcile), answers
// which partition this broker leads (Leader, checked against the current
// image at request time) and to which broker a replica fetch may be
// answered (Follower), runs the ISR loop that sends AlterPartitions
// (RunISR), checkpoints recovery points, log start offsets and high
// watermarks (replication-offset-checkpoint: a partition reopens with
// its high watermark at min(checkpointed, log end), so a restarted
// replica shows nothing a new leader may not have; a leader alone in its
// ISR moves it to its log end at once), and describes the log dirs
// (DescribeLogDirs).
//
// A partition led by another broker is followed here: the Manager hands
// it to its Fetchers (fetcher.go), one goroutine per leader and fetcher
// id (num.replica.fetchers), which fetch it from the leader through a
// Transport (internal/peer speaks Kafka's replica Fetch), copy the
// batches as they are (appendAsFollower, partition_follower.go), fsync
// them before fetching again, so the next FetchOffset is the durable
// log end the leader counts, and take the leader's high watermark, never
// past their own durable end. Where the leader says the logs diverge
// (DivergingEpoch) or the offset is out of its range, the follower cuts
// its log back, with its epoch cache and producer state (KIP-101,
// KIP-279), or starts over at the leader's log start.
//
// What it must not touch: the wire format (handler turns requests into
// calls here and results into responses), the metadata (it reads images;
// its only proposal, AlterPartition, goes through a function the broker
// gives it), and the bytes of record batches beyond the fields
// record lets a broker rewrite (base offset, leader epoch, LogAppendTime).
//
// Lock order: Manager.mu, then Fetchers.mu, then a fetcher's mu (held
// while it applies an answer), then Partition.mu (appends), then the
// log's lock, then Partition.stateMu. The log calls back into the partition (OnAdvance)
// with its lock held, so code holding stateMu never calls the log. The
// epoch cache's lock is a leaf: taken under Partition.mu or alone, never
// holding another.
//
// Consumer reads are bounded by the log's read limit, which is the
// partition's high watermark (OnAdvance's answer, SetReadLimit after a
// follower's fetch moved it); replica fetches read up to the log end
// (ReadSectionToEnd).
//
// Follower fetching (KIP-392, read_replica.go): a consumer's fetch from
// v11 on may read a partition followed here (ReadReplica), up to the
// follower's own high watermark, never past the leader's; with
// replica.selector.class set to Kafka's RackAwareReplicaSelector, the
// leader sends a consumer of another rack to an in-sync follower of its
// rack that holds the fetch offset (PreferredReadReplica).
package replica
