package replica

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// The partition's own state: high watermark, log start offset, leader and
// leader epoch. It lives under stateMu, apart from the append lock, so
// reads of it never wait for an append or an fsync.

// HighWatermark returns the first offset consumers may not read.
func (p *Partition) HighWatermark() int64 {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	return p.highWatermark
}

// LogStartOffset returns the first offset that may be read.
func (p *Partition) LogStartOffset() int64 {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	return p.logStartOffset
}

// LogEndOffset returns the offset the next append gets.
func (p *Partition) LogEndOffset() int64 {
	_, _, logEnd := p.log.Offsets()
	return logEnd
}

// Size returns the bytes of the partition's segments.
func (p *Partition) Size() int64 { return p.log.Size() }

// Leader returns the partition's leader and leader epoch as the metadata
// image last told them.
func (p *Partition) Leader() (leader, leaderEpoch int32) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	return p.leader, p.leaderEpoch
}

// LeaderEpoch returns the partition's leader epoch.
func (p *Partition) LeaderEpoch() int32 {
	_, epoch := p.Leader()
	return epoch
}

// setLeader records the leader and epoch of a metadata image. Epochs only
// grow, so an older image seen late (a request racing a reconcile) never
// takes the partition back.
func (p *Partition) setLeader(leader, leaderEpoch int32) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if leaderEpoch >= p.leaderEpoch {
		p.leader, p.leaderEpoch = leader, leaderEpoch
	}
}

// setAssignment takes a metadata image's view of the partition: its
// leader and leader epoch; when this broker leads, the epoch enters the
// leader epoch cache at the log end.
func (p *Partition) setAssignment(a metadata.Partition, node int32, now time.Time) {
	p.setLeader(a.Leader, a.LeaderEpoch)
	if a.Leader == node {
		p.startLeaderEpoch(a.LeaderEpoch)
	}
}

// startLeaderEpoch records that this broker leads the partition in epoch
// from the log end on, as Kafka's Partition.makeLeader assigns a new
// epoch's start offset before any append: so OffsetForLeaderEpoch knows
// where the previous epoch ended, and the current one, even before it
// has data. Only an epoch newer than the cache's latest changes it; that
// check is one compare, so request paths may call it every time.
func (p *Partition) startLeaderEpoch(epoch int32) {
	if epoch <= p.epochs.latestEpoch() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.epochs.assign(epoch, p.LogEndOffset())
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch for a partition led
// here: the largest epoch <= requested and the offset where it ended,
// the start of the next epoch, or the log end offset for the latest one
// (Kafka answers from the log end, not the high watermark). An undefined
// or unknown newer epoch is -1, -1; one older than the cache's first
// entry is itself and the first entry's start (see endOffsetForEpoch).
func (p *Partition) EndOffsetForEpoch(requested int32) (leaderEpoch int32, endOffset int64) {
	return p.epochs.endOffsetFor(requested, p.LogEndOffset())
}

// EpochForOffset returns the leader epoch offset was appended in, -1 when
// the cache does not cover it. The cache is built from the batches'
// partitionLeaderEpoch, so this is the epoch of the batch holding offset,
// which Kafka's ListOffsets answers for a timestamp lookup.
func (p *Partition) EpochForOffset(offset int64) int32 {
	return p.epochs.epochFor(offset)
}

// EarliestEpoch returns the leader epoch of the log start offset, as
// Kafka's ListOffsets answers for EARLIEST: the cache's first epoch when
// it starts at or before the log start, else -1.
func (p *Partition) EarliestEpoch() int32 {
	first, ok := p.epochs.earliest()
	if !ok || first.StartOffset > p.LogStartOffset() {
		return noEpoch
	}
	return first.Epoch
}

// LeaderEpochs returns a copy of the leader epoch cache.
func (p *Partition) LeaderEpochs() []EpochEntry { return p.epochs.snapshot() }

// CheckLeaderEpoch compares a client's current leader epoch with the
// partition's, as Kafka's Partition.checkCurrentLeaderEpoch does (KIP-320):
// an older one is FENCED_LEADER_EPOCH (the client's metadata is stale), a
// newer one UNKNOWN_LEADER_EPOCH (this broker's is). A negative epoch means
// the client sent none, and passes.
func (p *Partition) CheckLeaderEpoch(current int32) error {
	if current < 0 {
		return nil
	}
	switch ours := p.LeaderEpoch(); {
	case current < ours:
		return fmt.Errorf("%w: epoch %d is older than the leader epoch %d of %s-%d", kerr.FencedLeaderEpoch, current, ours, p.Topic, p.Index)
	case current > ours:
		return fmt.Errorf("%w: epoch %d is newer than the leader epoch %d of %s-%d", kerr.UnknownLeaderEpoch, current, ours, p.Topic, p.Index)
	}
	return nil
}

// onLogAdvance is the log's OnAdvance callback: the leader's own log moved
// its durable offset. It runs with the log's lock held, and answers the
// log's read limit: the durable offset itself, as the high watermark is
// the leader's own durable offset until followers count.
func (p *Partition) onLogAdvance(durable int64) (readLimit int64) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	p.localDurable = max(p.localDurable, durable)
	p.maybeAdvanceHighWatermarkLocked()
	return durable
}

// maybeAdvanceHighWatermarkLocked moves the high watermark to the minimum
// over the ISR of each member's durable offset, and wakes the watchers if
// it moved. The ISR is the leader alone until data replication: its
// minimum is the leader's own. Followers' offsets join the minimum here.
// REQUIRES: stateMu.
func (p *Partition) maybeAdvanceHighWatermarkLocked() {
	hw := p.localDurable
	if hw <= p.highWatermark {
		return
	}
	p.highWatermark = hw
	p.wakeLocked()
}

// refreshLogStart takes the log start offset from the log after a call
// that may have moved it (DeleteRecords, retention, opening), and moves
// the leader epoch cache's first entry with it, as Kafka's
// truncateFromStart does.
func (p *Partition) refreshLogStart() {
	logStart, _, _ := p.log.Offsets()
	p.stateMu.Lock()
	p.logStartOffset = max(p.logStartOffset, logStart)
	logStart = p.logStartOffset
	p.stateMu.Unlock()
	p.epochs.truncateFromStart(logStart)
}

// watch registers ch to receive a value, without blocking, whenever the
// high watermark moves or the partition closes.
func (p *Partition) watch(ch chan<- struct{}) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if p.watchers == nil {
		p.watchers = map[chan<- struct{}]struct{}{}
	}
	p.watchers[ch] = struct{}{}
}

// unwatch undoes watch.
func (p *Partition) unwatch(ch chan<- struct{}) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	delete(p.watchers, ch)
}

// wakeLocked signals every watcher. REQUIRES: stateMu.
func (p *Partition) wakeLocked() {
	for ch := range p.watchers {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending there
		}
	}
}

// close closes the log and wakes the watchers, whose next read finds the
// partition gone.
func (p *Partition) close() error {
	err := p.log.Close()
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	p.wakeLocked()
	return err
}
