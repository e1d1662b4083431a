package replica

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/txn"
)

// A partition followed here: the fetcher copies its leader's batches into
// the log (appendAsFollower), cuts the log back where it diverges from
// the leader's (truncateAsFollower, truncateFullyAsFollower), and takes
// the leader's high watermark and log start offset. Every change here
// runs under the append lock mu and first checks that the partition still
// follows the leader epoch the fetch was for: Manager.Leader may make this
// broker the leader of a new epoch between an image and the Reconcile
// that stops the fetch, and from then on nothing from the old leader may
// land in the log.

// errNotFollowing is returned when the partition no longer follows the
// leader epoch a fetch was made for: its answer is dropped.
var errNotFollowing = fmt.Errorf("%w: the partition's leader changed during the fetch", kerr.NotLeaderForPartition)

// checkFollowingLocked refuses a change for a fetch made in leaderEpoch
// once the partition has moved to another epoch. REQUIRES: mu.
func (p *Partition) checkFollowingLocked(leader, leaderEpoch int32) error {
	if l, e := p.Leader(); l != leader || e != leaderEpoch {
		return errNotFollowing
	}
	return nil
}

// appendAsFollower appends the batches of one fetched partition, copied
// from leader in leaderEpoch, keeping their base offsets and partition
// leader epochs (Kafka's appendRecordsToFollowerOrFutureReplica). Each
// batch's epoch enters the epoch cache when it is new, and its producer
// is recorded, as the leader did when it appended. Batches wholly below
// the log end are already here and skipped; a last batch cut short by
// the leader's byte limits is left for the next fetch. It returns the log
// end after the appends. The caller makes them durable (WaitDurable)
// before it fetches again.
func (p *Partition) appendAsFollower(records []byte, leader, leaderEpoch int32) (end int64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	end = p.LogEndOffset()
	if err := p.checkFollowingLocked(leader, leaderEpoch); err != nil {
		return end, err
	}
	now := time.Now().UnixMilli()
	for len(records) > 0 {
		batch, rest, err := record.Next(records)
		if errors.Is(err, record.ErrTruncated) || errors.Is(err, io.EOF) {
			break // a partial last batch: fetched whole next time
		}
		if err != nil {
			return end, fmt.Errorf("%w: batch from leader %d at offset %d: %w", kerr.CorruptMessage, leader, end, err)
		}
		records = rest
		// The header only: AppendReplicated checks the batch whole
		// (length, CRC-32C, its header) before it writes, once.
		h, err := record.ParseHeader(batch)
		if err != nil {
			return end, fmt.Errorf("batch from leader %d at offset %d: %w", leader, end, err)
		}
		if h.LastOffset() < end {
			continue // already held (the leader answered from a batch we have)
		}
		if h.BaseOffset < end {
			return end, fmt.Errorf("%w: batch %d..%d from leader %d overlaps the log end %d", kerr.CorruptMessage, h.BaseOffset, h.LastOffset(), leader, end)
		}
		if err := p.log.AppendReplicated(batch, h); err != nil {
			if log.IsStorageError(err) {
				return end, fmt.Errorf("%w: %w", kerr.KafkaStorageError, err)
			}
			return end, fmt.Errorf("batch from leader %d at offset %d: %w", leader, end, err)
		}
		// The epoch's first offset is the base offset of its first
		// batch, as Kafka assigns it; appends are serialised by mu, so
		// assigning once the batch is in is the same entry, and a batch
		// the log refused leaves no epoch behind.
		if e := h.PartitionLeaderEpoch; e >= 0 && e != p.epochs.latestEpoch() {
			p.epochs.assign(e, h.BaseOffset)
		}
		if h.ProducerID >= 0 && !h.Control() {
			p.producers.Update(h, now)
		}
		end = h.NextOffset()
	}
	p.maybeExpireLocked(now)
	return end, nil
}

// truncateAsFollower cuts the log back to offset, where it agrees with
// the leader's: every batch at or after offset goes (a batch holding
// offset goes whole), and with them the epochs that began there and the
// producer state they made. An offset at or past the log end cuts only
// epochs starting there. It returns the log end after the cut.
func (p *Partition) truncateAsFollower(offset int64, leader, leaderEpoch int32) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.checkFollowingLocked(leader, leaderEpoch); err != nil {
		return p.LogEndOffset(), err
	}
	if offset >= p.LogEndOffset() {
		// The log keeps every record, but the cache may end in an epoch
		// this broker led without appending, which the leader never had:
		// it goes, as Kafka truncates the cache even then.
		p.epochs.truncateFromEnd(offset)
		return p.LogEndOffset(), nil
	}
	if err := p.log.TruncateTo(offset); err != nil {
		return p.LogEndOffset(), storageError(err)
	}
	end := p.LogEndOffset()
	p.epochs.truncateFromEnd(end)
	p.lowerStateAfterTruncation(end)
	return end, p.rebuildProducersLocked()
}

// truncateFullyAsFollower empties the log and starts it again at offset,
// the leader's log start: a follower whose log ends before it (a new or
// emptied disk, or one far behind retention) copies the leader's log from
// there (Kafka's truncateFullyAndStartAt).
func (p *Partition) truncateFullyAsFollower(offset int64, leader, leaderEpoch int32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.checkFollowingLocked(leader, leaderEpoch); err != nil {
		return err
	}
	if err := p.log.TruncateFullyAndStartAt(offset); err != nil {
		return storageError(err)
	}
	p.epochs.clear()
	p.producers = txn.NewPartition()
	p.stateMu.Lock()
	p.logStartOffset = offset
	p.highWatermark = offset
	p.localDurable = offset
	p.stateMu.Unlock()
	return nil
}

// lowerStateAfterTruncation brings the high watermark and the durable
// offset down to a cut log's end: the only way either goes backwards.
// The high watermark normally lies below any cut (records below it are
// committed, and a follower's agree with its leader's), except after an
// unclean election.
func (p *Partition) lowerStateAfterTruncation(end int64) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	p.highWatermark = min(p.highWatermark, end)
	p.localDurable = min(p.localDurable, end)
}

// rebuildProducersLocked replays the producer state from the batch
// headers after a truncation removed batches it had recorded, as Kafka
// reloads producer state after truncating. REQUIRES: mu.
func (p *Partition) rebuildProducersLocked() error {
	p.producers = txn.NewPartition()
	now := time.Now().UnixMilli()
	err := p.log.ScanHeaders(0, func(h record.Header) {
		if h.ProducerID >= 0 && !h.Control() {
			p.producers.Update(h, now)
		}
	})
	if err != nil {
		return fmt.Errorf("rebuild producer state of %s-%d after truncation: %w", p.Topic, p.Index, storageError(err))
	}
	return nil
}

// followHighWatermark takes the leader's high watermark after a fetch:
// the follower's is the smaller of it and durable, the follower's own
// durable log end, so it never covers records not on this disk. It only
// moves forward; truncation alone takes it back.
func (p *Partition) followHighWatermark(leaderHighWatermark, durable int64) {
	hw := min(leaderHighWatermark, durable)
	p.stateMu.Lock()
	moved := hw > p.highWatermark
	if moved {
		p.highWatermark = hw
		p.wakeLocked()
	}
	p.stateMu.Unlock()
	if moved {
		p.log.SetReadLimit(hw)
	}
}

// followLogStart moves the log start offset up to the leader's, as far as
// the high watermark allows (Kafka's maybeIncrementLogStartOffset with
// LeaderOffsetIncremented): records the leader deleted by retention or
// DeleteRecords go here too.
func (p *Partition) followLogStart(leaderLogStart int64) error {
	target := min(leaderLogStart, p.HighWatermark())
	if target <= p.LogStartOffset() {
		return nil
	}
	if _, err := p.log.DeleteRecordsBefore(target); err != nil && !errors.Is(err, log.ErrBeyondHighWatermark) {
		return storageError(err)
	}
	p.refreshLogStart()
	return nil
}

// followerEndOffsetFor is the follower's side of a divergence: the
// largest epoch <= epoch in its own cache and where it ends in its log.
func (p *Partition) followerEndOffsetFor(epoch int32) (int32, int64) {
	return p.epochs.endOffsetFor(epoch, p.LogEndOffset())
}

// storageError marks a disk error for the Kafka error it becomes.
func storageError(err error) error {
	if err != nil && log.IsStorageError(err) {
		return fmt.Errorf("%w: %w", kerr.KafkaStorageError, err)
	}
	return err
}
