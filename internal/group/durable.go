package group

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Appends to the offsets topic happen on the shard goroutine (so a group's
// records land in the order its owner decided them); waiting for their
// fsync does not. whenDurable waits in a goroutine of its own and then
// queues the continuation on the shard, the way Kafka's GroupMetadataManager
// hands a callback to ReplicaManager.appendRecords (storeGroup and
// storeOffsets, "putCacheCallback"): state that depends on the records is
// changed, and the client answered, only once they are on disk.

// written says where a change was appended.
type written struct {
	code      int16 // set when the change was refused or its append failed
	partition int32
	next      int64 // one past the appended batch; 0 when nothing was written
	commit    bool  // offsets, not group metadata: picks the error mapping
}

// append writes records for g's partition. commit says they are offset
// commits, which map a too-large batch to INVALID_COMMIT_OFFSET_SIZE.
func (s *shard) append(g *group, records []keyValue, commit bool) written {
	p := PartitionFor(g.id, s.c.partitions)
	next, err := s.c.storage.Append(p, s.c.partitions, buildBatch(records, s.c.clock.Now().UnixMilli()))
	if err != nil {
		s.c.logger.Error("cannot append to the offsets topic", "group", g.id, "err", err)
		return written{code: appendCode(err, commit)}
	}
	return written{partition: p, next: next, commit: commit}
}

// wait waits for a write's fsync and returns the code for the client.
func (c *Coordinator) wait(w written) int16 {
	if w.code != 0 || w.next == 0 {
		return w.code
	}
	if err := c.storage.WaitDurable(w.partition, w.next); err != nil {
		c.logger.Error("offsets topic fsync failed", "partition", w.partition, "err", err)
		return appendCode(err, w.commit)
	}
	return 0
}

// whenDurable calls then on the shard once w is on disk (code 0) or has
// failed to get there. A write that was refused or wrote nothing calls
// then at once. The wait runs in its own goroutine, tracked by the
// coordinator's WaitGroup; if the coordinator closes meanwhile, then is
// never called (shutdown answers every parked request instead).
//
// REQUIRES: running on s's goroutine.
func (s *shard) whenDurable(w written, then func(code int16)) {
	if w.code != 0 || w.next == 0 {
		then(w.code)
		return
	}
	s.c.wg.Add(1) // the shard goroutine's own count keeps this from racing Close's Wait
	go func() {
		defer s.c.wg.Done()
		code := s.c.wait(w)
		s.do(func() { then(code) })
	}()
}

// storeGroup appends g's GroupMetadataValue and calls then on the shard
// once it is durable. assignment, when not nil, is stored in place of the
// members' current assignments: the leader's SyncGroup stores the new
// assignment before anyone sees it, as Kafka's storeGroup does.
func (s *shard) storeGroup(g *group, assignment map[string][]byte, then func(code int16)) {
	w := s.append(g, []keyValue{{groupKey(g.id), groupValue(g, assignment)}}, false)
	s.whenDurable(w, then)
}

// appendCode is Kafka's translation of a failed offsets-topic append into
// the error a group client understands (GroupMetadataManager.storeGroup
// and storeOffsets): storage and leadership errors send the client to
// find the coordinator again, a batch too large is the request's fault.
func appendCode(err error, commit bool) int16 {
	var ke *kerr.Error
	switch {
	case err == nil:
		return 0
	case errors.Is(err, kerr.KafkaStorageError), errors.Is(err, kerr.NotLeaderForPartition):
		return kerr.NotCoordinator.Code
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.NotEnoughReplicas),
		errors.Is(err, kerr.NotEnoughReplicasAfterAppend), errors.Is(err, kerr.CoordinatorNotAvailable):
		return kerr.CoordinatorNotAvailable.Code
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge), errors.Is(err, kerr.InvalidFetchSize):
		if commit {
			return kerr.InvalidCommitOffsetSize.Code
		}
		return kerr.UnknownServerError.Code
	case errors.As(err, &ke):
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}
