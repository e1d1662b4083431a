package replica

import (
	"fmt"
	"slices"
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

// setAssignment takes a metadata image's view of the partition: its
// replicas, ISR, leader, leader epoch and partition epoch. An image older
// than what the partition knows (a request racing a reconcile, or an
// AlterPartition answer that came first) changes nothing, and an
// unchanged one costs a compare, so request paths may call it every
// time.
//
// Becoming leader (Kafka's makeLeader): the epoch enters the leader epoch
// cache at the log end, every follower starts unknown (-1), those in the
// ISR counted as caught up now, and the high watermark starts where it
// is: it moves once the ISR's offsets are known. Losing leadership fails
// pending WaitReplicated calls with NOT_LEADER_OR_FOLLOWER.
func (p *Partition) setAssignment(a metadata.Partition, node int32, now time.Time) {
	becoming, changed := p.takeAssignment(a, node, now)
	if !changed {
		return
	}
	if a.Leader == node {
		p.startLeaderEpoch(a.LeaderEpoch)
	}
	if becoming {
		start := p.epochStartOffset(a.LeaderEpoch)
		logEnd := p.LogEndOffset()
		p.stateMu.Lock()
		if p.lead.leading && p.leaderEpoch == a.LeaderEpoch {
			p.lead.epochStart = start
			for _, fs := range p.lead.followers {
				fs.lastFetchLeaderEnd = start
			}
			// Neither offset may lie past the log, which a follower
			// may have truncated.
			p.localDurable = min(p.localDurable, logEnd)
			p.highWatermark = min(p.highWatermark, p.localDurable)
		}
		p.stateMu.Unlock()
	}
	// The ISR may be the leader alone now: its durable offset is the
	// high watermark.
	p.stateMu.Lock()
	moved := p.advanceHighWatermarkLocked()
	hw := p.highWatermark
	p.stateMu.Unlock()
	if moved {
		p.publishHighWatermark(hw)
	}
}

// takeAssignment is setAssignment's state change under stateMu. It
// reports whether this broker becomes leader (or leader in a new epoch)
// and whether anything changed.
func (p *Partition) takeAssignment(a metadata.Partition, node int32, now time.Time) (becoming, changed bool) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	l := &p.lead
	if a.LeaderEpoch < p.leaderEpoch || a.LeaderEpoch == p.leaderEpoch && a.PartitionEpoch < l.partitionEpoch {
		return false, false
	}
	if l.assigned && l.node == node && a.Leader == p.leader && a.LeaderEpoch == p.leaderEpoch && a.PartitionEpoch == l.partitionEpoch {
		return false, false
	}
	leads := a.Leader == node
	becoming = leads && (!l.leading || a.LeaderEpoch > p.leaderEpoch)
	if becoming || !leads || a.PartitionEpoch > l.partitionEpoch {
		l.pending = nil // superseded by the image
	}
	wasLeading, oldISR := l.leading, l.isr
	p.leader, p.leaderEpoch = a.Leader, a.LeaderEpoch
	l.assigned, l.node, l.leading = true, node, leads
	l.replicas, l.isr, l.partitionEpoch = slices.Clone(a.Replicas), slices.Clone(a.ISR), a.PartitionEpoch
	switch {
	case !leads:
		l.followers, l.epochStart = nil, -1
		if wasLeading {
			p.failReplicatedLocked(fmt.Errorf("%w: %s-%d is now led by broker %d in epoch %d",
				kerr.NotLeaderForPartition, p.Topic, p.Index, a.Leader, a.LeaderEpoch))
		}
	case becoming:
		l.epochStart, l.retryAfter = -1, time.Time{}
		l.followers = make(map[int32]*followerState, len(a.Replicas))
		for _, id := range a.Replicas {
			if id == node {
				continue
			}
			fs := &followerState{fetchOffset: -1, lastFetchLeaderEnd: -1}
			if slices.Contains(a.ISR, id) {
				fs.lastCaughtUp, fs.lastFetchTime, fs.caughtUp = now, now, true
			}
			l.followers[id] = fs
		}
	default:
		// Still leading: followers added to or removed from the
		// replica set (a reassignment) come and go; the others keep
		// their state.
		for id := range l.followers {
			if !slices.Contains(a.Replicas, id) {
				delete(l.followers, id)
			}
		}
		for _, id := range a.Replicas {
			if _, ok := l.followers[id]; !ok && id != node {
				l.followers[id] = &followerState{fetchOffset: -1, lastFetchLeaderEnd: -1}
			}
		}
		l.forgetRemoved(oldISR)
	}
	return becoming, true
}

// epochStartOffset returns the first offset of leader epoch epoch from
// the cache, the log end when the cache does not hold it.
func (p *Partition) epochStartOffset(epoch int32) int64 {
	entries := p.epochs.snapshot()
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Epoch == epoch {
			return entries[i].StartOffset
		}
	}
	return p.LogEndOffset()
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

// onLogAdvance is the log's OnAdvance callback: the log's durable offset
// moved. It runs with the log's lock held and returns the offset readers
// may read below, the high watermark, which the log applies before it
// lets go of its lock: so the watchers and WaitReplicated calls woken
// here read the new bound. A leader whose ISR is itself alone moves its
// high watermark to durable here (the RF=1 path); a follower's high
// watermark comes from its leader, so durable moves leave it.
func (p *Partition) onLogAdvance(durable int64) (readLimit int64) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	p.localDurable = max(p.localDurable, durable)
	if p.advanceHighWatermarkLocked() {
		p.wakeLocked()
		p.wakeReplicatedLocked()
	}
	return p.highWatermark
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

// watchLogEnd registers ch to receive a value, without blocking, whenever
// a batch is appended or the partition closes.
func (p *Partition) watchLogEnd(ch chan<- struct{}) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if p.endWatchers == nil {
		p.endWatchers = map[chan<- struct{}]struct{}{}
	}
	p.endWatchers[ch] = struct{}{}
	p.endWatching.Store(int32(len(p.endWatchers)))
}

// unwatch undoes watch and watchLogEnd.
func (p *Partition) unwatch(ch chan<- struct{}) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	delete(p.watchers, ch)
	delete(p.endWatchers, ch)
	p.endWatching.Store(int32(len(p.endWatchers)))
}

// wakeLocked signals every watcher. REQUIRES: stateMu.
func (p *Partition) wakeLocked() {
	for ch := range p.watchers {
		signal(ch)
	}
}

// wakeLogEnd signals the log end watchers after an append. Without any
// (no replica fetch is waiting) it costs one atomic load, so appends of
// partitions nobody replicates cost what they did.
func (p *Partition) wakeLogEnd() {
	if p.endWatching.Load() == 0 {
		return
	}
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	for ch := range p.endWatchers {
		signal(ch)
	}
}

// signal sends on ch unless a wake-up is already pending there.
func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// close closes the log, wakes every watcher, whose next read finds the
// partition gone, and fails the WaitReplicated calls.
func (p *Partition) close() error {
	err := p.log.Close()
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	p.wakeLocked()
	for ch := range p.endWatchers {
		signal(ch)
	}
	p.lead.leading = false
	p.failReplicatedLocked(fmt.Errorf("%w: %s-%d was closed here", kerr.NotLeaderForPartition, p.Topic, p.Index))
	return err
}
