package replica

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// The leader side of data replication, as Kafka's Partition does it:
// what the leader knows of each follower from its fetches, the high
// watermark over the ISR, ISR expansion and shrinking through
// AlterPartition records, and the waits of acks=all produces.
//
// Everything here lives under Partition.stateMu (the leaderState in
// Partition.lead). The log is called only with stateMu released: the
// follower's read before its state is updated, log.SetReadLimit after a
// high watermark move.

// defaultLagTimeMax is replica.lag.time.max.ms's default, for partitions
// no Manager has handed its settings to yet.
const defaultLagTimeMax = 30 * time.Second

// alterRetryBackoff is how long a leader waits after a rejected
// AlterPartition before it proposes another ISR change of the partition:
// the rejection means its view is stale, and the next metadata image
// brings the current one.
const alterRetryBackoff = time.Second

// FollowerFetch is one partition of a replica's Fetch, as the leader
// reads it.
type FollowerFetch struct {
	Replica            int32
	FetchOffset        int64 // the follower's durable log end
	LastFetchedEpoch   int32 // -1 when unknown
	CurrentLeaderEpoch int32 // -1 when not sent
	// LogStartOffset is the follower's log start offset (Fetch v5+), -1
	// when not sent: a consumer is sent to read from the follower only
	// at an offset it still has (read_replica.go).
	LogStartOffset int64
	MaxBytes       int
	MinOne         bool
	Now            time.Time
}

// EpochEnd is a leader epoch and the offset where it ends on the leader
// (Kafka's FetchResponse DivergingEpoch).
type EpochEnd struct {
	Epoch     int32
	EndOffset int64
}

// FollowerFetched is what a follower's fetch of one partition found.
type FollowerFetched struct {
	// Fetched holds the high watermark, the log start and the records
	// read up to the log end (not the high watermark: a follower copies
	// what consumers cannot read yet).
	Fetched
	// Diverging is set, and no records are, when the follower's log
	// diverges from the leader's (KIP-320/595): the follower truncates
	// to it and fetches again.
	Diverging *EpochEnd
}

// followerState is what the leader knows of one follower from its
// fetches: Kafka's Replica state.
type followerState struct {
	// fetchOffset is the follower's last FetchOffset, its durable log
	// end: a follower fetches only after fsyncing what it got. -1 until
	// its first fetch in the current leader epoch.
	fetchOffset int64
	// lastFetchLeaderEnd and lastFetchTime are the leader's log end and
	// the time at the follower's previous fetch: a follower whose next
	// fetch reaches that end had everything the leader had back then.
	lastFetchLeaderEnd int64
	lastFetchTime      time.Time
	// lastCaughtUp is the last time the follower had everything the
	// leader had (Kafka's lastCaughtUpTimeMs).
	lastCaughtUp time.Time
	// logStartOffset is the follower's log start offset as its last
	// fetch said (-1: not said).
	logStartOffset int64
	// caughtUp caches whether lastCaughtUp was within
	// replica.lag.time.max.ms at the last fetch or ISR check. A caught-up
	// follower outside the ISR holds the high watermark back (Kafka's
	// shouldWaitForReplicaToJoinIsr), so it can reach the high watermark
	// and join; high watermark moves come without a clock, hence the
	// cache.
	caughtUp bool
}

// record takes a fetch at offset while the leader's log ended at
// leaderEnd, as Kafka's Replica.updateFetchStateOrThrow: reaching the
// leader's end now, or the end the leader had at the previous fetch,
// counts as caught up at that time.
func (f *followerState) record(offset, leaderEnd int64, now time.Time, lagTimeMax time.Duration) {
	switch {
	case offset >= leaderEnd:
		f.lastCaughtUp = later(f.lastCaughtUp, now)
	case offset >= f.lastFetchLeaderEnd:
		f.lastCaughtUp = later(f.lastCaughtUp, f.lastFetchTime)
	}
	f.fetchOffset = offset
	f.lastFetchLeaderEnd, f.lastFetchTime = leaderEnd, now
	f.caughtUp = f.isCaughtUp(leaderEnd, now, lagTimeMax)
}

// isCaughtUp is Kafka's ReplicaState.isCaughtUp: the follower has the
// leader's whole log, or had it within lagTimeMax.
func (f *followerState) isCaughtUp(leaderEnd int64, now time.Time, lagTimeMax time.Duration) bool {
	return f.fetchOffset == leaderEnd || now.Sub(f.lastCaughtUp) <= lagTimeMax
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// alterPending is the AlterPartition a leader has in flight.
type alterPending struct {
	isr     []int32 // proposed
	basedOn int32   // the partition epoch it was proposed against
}

// leaderState is a partition's replication state, guarded by
// Partition.stateMu. Invariants: leading implies followers holds one
// entry per replica but this node; pending is nil unless leading.
type leaderState struct {
	assigned bool  // setAssignment ran at least once
	node     int32 // this broker
	leading  bool  // this broker leads in Partition.leaderEpoch
	replicas []int32
	// isr is the committed ISR: the image's, or the result of an
	// accepted AlterPartition, whichever has the larger partitionEpoch.
	isr            []int32
	partitionEpoch int32
	// pending is the AlterPartition in flight; while it is, the high
	// watermark is bounded by the maximal ISR, isr ∪ pending.isr
	// (KIP-497): an expansion counts its new member at once, a shrink
	// counts only once committed.
	pending *alterPending
	// retryAfter holds new AlterPartitions back after a rejected one.
	retryAfter time.Time
	// epochStart is the first offset of the current leader epoch
	// (Kafka's leaderEpochStartOffsetOpt), -1 until known: a follower
	// joins the ISR only once it has reached it.
	epochStart int64
	followers  map[int32]*followerState
	// replicated are the WaitReplicated calls waiting for the high
	// watermark.
	replicated map[*replicatedWait]struct{}
	// env carries the Manager's replication settings and its queue of
	// AlterPartitions; nil until the Manager hands the partition out.
	env *isrEnv
}

// inMaximalISR reports whether id is in the maximal ISR.
func (l *leaderState) inMaximalISR(id int32) bool {
	return slices.Contains(l.isr, id) || l.pending != nil && slices.Contains(l.pending.isr, id)
}

// maximalISRSize counts the maximal ISR.
func (l *leaderState) maximalISRSize() int {
	n := len(l.isr)
	if l.pending != nil {
		for _, id := range l.pending.isr {
			if !slices.Contains(l.isr, id) {
				n++
			}
		}
	}
	return n
}

// forgetRemoved stops counting the followers that left the ISR since
// old as caught up: the controller removes fenced brokers (Kafka's
// isReplicaIsrEligible), and a shrink removes followers that were not
// caught up. A follower that fetches again counts from that fetch on.
func (l *leaderState) forgetRemoved(old []int32) {
	for _, id := range old {
		if fs, ok := l.followers[id]; ok && !slices.Contains(l.isr, id) {
			fs.caughtUp = false
		}
	}
}

// lagTimeMax is replica.lag.time.max.ms.
func (l *leaderState) lagTimeMax() time.Duration {
	if l.env == nil || l.env.lagTimeMax <= 0 {
		return defaultLagTimeMax
	}
	return l.env.lagTimeMax
}

// ISR returns the partition's committed ISR.
func (p *Partition) ISR() []int32 {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	return slices.Clone(p.lead.isr)
}

// PartitionEpoch returns the partition epoch of the committed ISR.
func (p *Partition) PartitionEpoch() int32 {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	return p.lead.partitionEpoch
}

// attach hands the partition the Manager's replication settings and
// AlterPartition queue.
func (p *Partition) attach(env *isrEnv) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	p.lead.env = env
}

// FetchForFollower answers a follower's fetch, as Kafka's
// Partition.fetchRecords for a follower: it checks the follower's leader
// epoch and its last fetched epoch against the leader epoch cache (a
// diverging log gets DivergingEpoch and no records), reads from
// FetchOffset up to the log end, then records the follower's offset,
// which may move the high watermark and start an ISR expansion.
func (p *Partition) FetchForFollower(f FollowerFetch) (FollowerFetched, error) {
	var out FollowerFetched
	p.stateMu.Lock()
	out.LogStartOffset, out.HighWatermark = p.logStartOffset, p.highWatermark
	err := p.checkFollowerLocked(f)
	p.stateMu.Unlock()
	if err != nil {
		return out, err
	}
	logEnd := p.LogEndOffset()
	if f.LastFetchedEpoch >= 0 {
		d, err := p.divergence(f, out.LogStartOffset, logEnd)
		if err != nil || d != nil {
			out.Diverging = d
			return out, err
		}
	}
	if f.MaxBytes > 0 || f.MinOne {
		out.Records, err = p.log.ReadSectionToEnd(f.FetchOffset, max(f.MaxBytes, 0), f.MinOne)
		if err != nil {
			return out, readError(err)
		}
	} else if f.FetchOffset < out.LogStartOffset || f.FetchOffset > logEnd {
		return out, fmt.Errorf("%w: offset %d is outside [%d, %d] of %s-%d", kerr.OffsetOutOfRange, f.FetchOffset, out.LogStartOffset, logEnd, p.Topic, p.Index)
	}
	out.HighWatermark = p.updateFollower(f, logEnd)
	return out, nil
}

// checkFollowerLocked refuses a follower fetch this partition cannot
// answer: not led here, a leader epoch other than ours (KIP-320), or a
// broker outside the replica set (Kafka's followerReplicaOrThrow:
// UNKNOWN_LEADER_EPOCH when the fetch names an epoch, so the follower
// retries once our metadata catches up). REQUIRES: stateMu.
func (p *Partition) checkFollowerLocked(f FollowerFetch) error {
	if !p.lead.leading {
		return fmt.Errorf("%w: %s-%d is not led here", kerr.NotLeaderForPartition, p.Topic, p.Index)
	}
	if f.CurrentLeaderEpoch >= 0 && f.CurrentLeaderEpoch != p.leaderEpoch {
		if f.CurrentLeaderEpoch < p.leaderEpoch {
			return fmt.Errorf("%w: epoch %d is older than the leader epoch %d of %s-%d", kerr.FencedLeaderEpoch, f.CurrentLeaderEpoch, p.leaderEpoch, p.Topic, p.Index)
		}
		return fmt.Errorf("%w: epoch %d is newer than the leader epoch %d of %s-%d", kerr.UnknownLeaderEpoch, f.CurrentLeaderEpoch, p.leaderEpoch, p.Topic, p.Index)
	}
	if _, ok := p.lead.followers[f.Replica]; !ok {
		code := kerr.NotLeaderForPartition
		if f.CurrentLeaderEpoch >= 0 {
			code = kerr.UnknownLeaderEpoch
		}
		return fmt.Errorf("%w: broker %d is not a replica of %s-%d in leader epoch %d, partition epoch %d",
			code, f.Replica, p.Topic, p.Index, p.leaderEpoch, p.lead.partitionEpoch)
	}
	return nil
}

// divergence is Kafka's check of a follower's last fetched epoch
// (Partition.readRecords): the leader's end of the largest epoch <= it
// must exist, the fetch offset must not be below the log start, and the
// follower diverges when that epoch is older than its own or ends before
// its fetch offset. endOffsetFor never answers an epoch newer than the
// one asked, so "older" is "other".
func (p *Partition) divergence(f FollowerFetch, logStart, logEnd int64) (*EpochEnd, error) {
	epoch, end := p.epochs.endOffsetFor(f.LastFetchedEpoch, logEnd)
	if epoch == noEpoch || end < 0 {
		return nil, fmt.Errorf("%w: the end offset of last fetched epoch %d of %s-%d is unknown", kerr.OffsetOutOfRange, f.LastFetchedEpoch, p.Topic, p.Index)
	}
	if f.FetchOffset < logStart {
		return nil, fmt.Errorf("%w: offset %d is below the log start offset %d of %s-%d", kerr.OffsetOutOfRange, f.FetchOffset, logStart, p.Topic, p.Index)
	}
	if epoch < f.LastFetchedEpoch || end < f.FetchOffset {
		return &EpochEnd{Epoch: epoch, EndOffset: end}, nil
	}
	return nil, nil
}

// updateFollower records a follower's fetch (Kafka's
// updateFollowerFetchState): its state, then a possible ISR expansion,
// then the high watermark. It returns the high watermark after.
func (p *Partition) updateFollower(f FollowerFetch, leaderEnd int64) int64 {
	p.stateMu.Lock()
	l := &p.lead
	fs := l.followers[f.Replica]
	if !l.leading || fs == nil {
		// Leadership moved while we read: the read stands, the
		// offset no longer counts.
		hw := p.highWatermark
		p.stateMu.Unlock()
		return hw
	}
	fs.record(f.FetchOffset, leaderEnd, f.Now, l.lagTimeMax())
	fs.logStartOffset = f.LogStartOffset
	expand := p.maybeExpandLocked(f.Replica, f.Now)
	moved := p.advanceHighWatermarkLocked()
	hw, env := p.highWatermark, l.env
	p.stateMu.Unlock()
	if moved {
		p.publishHighWatermark(hw)
	}
	if expand != nil {
		env.submit(p, *expand)
	}
	return hw
}

// maybeExpandLocked starts adding follower id to the ISR when it has
// caught up (Kafka's maybeExpandIsr): it is not in the ISR, no other
// change is in flight, and its offset reached both the high watermark
// and the start of the current leader epoch (so it has every record the
// ISR may have acknowledged). The new member counts at once (maximal
// ISR). It returns the record to propose. REQUIRES: stateMu.
func (p *Partition) maybeExpandLocked(id int32, now time.Time) *metadata.AlterPartitionRecord {
	l := &p.lead
	if l.env == nil || l.pending != nil || slices.Contains(l.isr, id) || now.Before(l.retryAfter) {
		return nil
	}
	fs := l.followers[id]
	if fs.fetchOffset < p.highWatermark || l.epochStart < 0 || fs.fetchOffset < l.epochStart {
		return nil
	}
	return p.proposeLocked(inReplicaOrder(l.replicas, append(slices.Clone(l.isr), id)))
}

// maybeShrinkISR is the periodic ISR check of a partition led here
// (Kafka's maybeShrinkIsr): ISR followers not caught up within
// replica.lag.time.max.ms at now are proposed out, unless an ISR change
// is in flight. The removed members keep counting for the high watermark
// until the change is committed. It refreshes which followers outside
// the ISR count as caught up, which may release the high watermark. It
// returns the record to propose, nil when none.
func (p *Partition) maybeShrinkISR(now time.Time) *metadata.AlterPartitionRecord {
	leaderEnd := p.LogEndOffset()
	p.stateMu.Lock()
	l := &p.lead
	if !l.leading {
		p.stateMu.Unlock()
		return nil
	}
	lag := l.lagTimeMax()
	for _, fs := range l.followers {
		fs.caughtUp = fs.isCaughtUp(leaderEnd, now, lag)
	}
	var shrink *metadata.AlterPartitionRecord
	if l.pending == nil && !now.Before(l.retryAfter) {
		keep := slices.DeleteFunc(slices.Clone(l.isr), func(id int32) bool {
			fs, ok := l.followers[id]
			return id != l.node && (!ok || !fs.caughtUp)
		})
		if len(keep) < len(l.isr) {
			shrink = p.proposeLocked(keep)
		}
	}
	moved := p.advanceHighWatermarkLocked()
	hw := p.highWatermark
	p.stateMu.Unlock()
	if moved {
		p.publishHighWatermark(hw)
	}
	return shrink
}

// proposeLocked marks isr as the AlterPartition in flight and returns its
// record; the Manager fills in the broker epoch. REQUIRES: stateMu.
func (p *Partition) proposeLocked(isr []int32) *metadata.AlterPartitionRecord {
	l := &p.lead
	l.pending = &alterPending{isr: isr, basedOn: l.partitionEpoch}
	return &metadata.AlterPartitionRecord{
		TopicID: p.TopicID, Partition: p.Index, Leader: l.node,
		LeaderEpoch: p.leaderEpoch, PartitionEpoch: l.partitionEpoch, ISR: slices.Clone(isr),
	}
}

// completeAlter takes the outcome of an AlterPartition this partition
// proposed. Accepted, its ISR and partition epoch become the committed
// ones (unless an image already brought newer ones) and the high
// watermark may move; rejected, the change is dropped and the next image
// decides, with new proposals held back for alterRetryBackoff.
func (p *Partition) completeAlter(sent metadata.AlterPartitionRecord, got metadata.Partition, err error, now time.Time) {
	p.stateMu.Lock()
	l := &p.lead
	ours := l.pending != nil && l.pending.basedOn == sent.PartitionEpoch &&
		p.leaderEpoch == sent.LeaderEpoch && slices.Equal(l.pending.isr, sent.ISR)
	if ours {
		l.pending = nil
	}
	if err != nil {
		if ours {
			l.retryAfter = now.Add(alterRetryBackoff)
		}
		p.stateMu.Unlock()
		return
	}
	if l.leading && got.Leader == l.node && got.LeaderEpoch == p.leaderEpoch && got.PartitionEpoch > l.partitionEpoch {
		old := l.isr
		l.isr, l.partitionEpoch = slices.Clone(got.ISR), got.PartitionEpoch
		l.forgetRemoved(old)
	}
	moved := p.advanceHighWatermarkLocked()
	hw := p.highWatermark
	p.stateMu.Unlock()
	if moved {
		p.publishHighWatermark(hw)
	}
}

// leaderHighWatermarkLocked is Kafka's maybeIncrementLeaderHW candidate:
// the leader's own durable offset, lowered to the offset of every
// follower in the maximal ISR and of every caught-up follower outside it.
// A follower in the ISR that has not fetched since this broker became
// leader (-1) holds it where it is. REQUIRES: stateMu.
func (p *Partition) leaderHighWatermarkLocked() int64 {
	hw := p.localDurable
	for id, fs := range p.lead.followers {
		if fs.fetchOffset < hw && (fs.caughtUp || p.lead.inMaximalISR(id)) {
			hw = fs.fetchOffset
		}
	}
	return hw
}

// advanceHighWatermarkLocked moves a leader's high watermark up to its
// candidate. It wakes nobody: the caller wakes once readers can read up
// to the new bound. It reports whether the watermark moved. REQUIRES:
// stateMu.
func (p *Partition) advanceHighWatermarkLocked() bool {
	if !p.lead.leading {
		return false
	}
	hw := p.leaderHighWatermarkLocked()
	if hw <= p.highWatermark {
		return false
	}
	p.highWatermark = hw
	return true
}

// publishHighWatermark gives the log the high watermark a follower's
// fetch or an ISR change moved, then wakes fetch long polls and
// WaitReplicated calls: after the log's bound, so that a woken reader
// finds the records. Called without stateMu.
func (p *Partition) publishHighWatermark(hw int64) {
	p.log.SetReadLimit(hw)
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	p.wakeLocked()
	p.wakeReplicatedLocked()
}

// inReplicaOrder returns the ids of set in the order of replicas, so
// that proposed ISRs read like the image's.
func inReplicaOrder(replicas, set []int32) []int32 {
	out := make([]int32, 0, len(set))
	for _, id := range replicas {
		if slices.Contains(set, id) {
			out = append(out, id)
		}
	}
	return out
}

// CheckMinISR refuses an acks=all append to a partition whose committed
// ISR is smaller than min.insync.replicas (Kafka's appendRecordsToLeader:
// NOT_ENOUGH_REPLICAS), before anything is written.
func (p *Partition) CheckMinISR(minISR int) error {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if !p.lead.leading {
		return fmt.Errorf("%w: %s-%d is not led here", kerr.NotLeaderForPartition, p.Topic, p.Index)
	}
	if n := len(p.lead.isr); n < minISR {
		return fmt.Errorf("%w: the ISR %v of %s-%d has %d members, fewer than min.insync.replicas %d",
			kerr.NotEnoughReplicas, p.lead.isr, p.Topic, p.Index, n, minISR)
	}
	return nil
}

// replicatedWait is one WaitReplicated call waiting for the high
// watermark. err is set before done is closed.
type replicatedWait struct {
	next   int64
	minISR int
	done   chan struct{}
	err    error
}

// WaitReplicated is the wait of an acks=all produce (Kafka's
// DelayedProduce): it makes the local fsync happen (WaitDurable), then
// waits until the high watermark reaches next. With an ISR of the leader
// alone the fsync moved it already, so RF=1 costs what acks=1 does. Once
// reached, a maximal ISR smaller than minISR is
// NOT_ENOUGH_REPLICAS_AFTER_APPEND (Kafka's
// checkEnoughReplicasReachOffset); leadership lost before is
// NOT_LEADER_OR_FOLLOWER; ctx ending first returns ctx.Err().
func (p *Partition) WaitReplicated(ctx context.Context, next int64, minISR int) error {
	if err := p.WaitDurable(ctx, next); err != nil {
		return err
	}
	w, err := p.replicatedOrWait(next, minISR)
	if w == nil {
		return err
	}
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		p.stateMu.Lock()
		delete(p.lead.replicated, w)
		p.stateMu.Unlock()
		select {
		case <-w.done: // answered while we gave up: take the answer
			return w.err
		default:
			return ctx.Err()
		}
	}
}

// replicatedOrWait answers a WaitReplicated now if it can, or registers
// its wait.
func (p *Partition) replicatedOrWait(next int64, minISR int) (*replicatedWait, error) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	l := &p.lead
	if !l.leading {
		return nil, fmt.Errorf("%w: %s-%d is no longer led here", kerr.NotLeaderForPartition, p.Topic, p.Index)
	}
	if p.highWatermark >= next {
		return nil, p.enoughReplicasLocked(minISR)
	}
	w := &replicatedWait{next: next, minISR: minISR, done: make(chan struct{})}
	if l.replicated == nil {
		l.replicated = map[*replicatedWait]struct{}{}
	}
	l.replicated[w] = struct{}{}
	return w, nil
}

// enoughReplicasLocked is the ISR check once the high watermark covers an
// acks=all append. REQUIRES: stateMu.
func (p *Partition) enoughReplicasLocked(minISR int) error {
	if n := p.lead.maximalISRSize(); n < minISR {
		return fmt.Errorf("%w: the ISR of %s-%d shrank to %d members, fewer than min.insync.replicas %d",
			kerr.NotEnoughReplicasAfterAppend, p.Topic, p.Index, n, minISR)
	}
	return nil
}

// wakeReplicatedLocked answers the WaitReplicated calls the high
// watermark now covers. REQUIRES: stateMu.
func (p *Partition) wakeReplicatedLocked() {
	for w := range p.lead.replicated {
		if p.highWatermark >= w.next {
			w.err = p.enoughReplicasLocked(w.minISR)
			close(w.done)
			delete(p.lead.replicated, w)
		}
	}
}

// failReplicatedLocked answers every WaitReplicated call with err.
// REQUIRES: stateMu.
func (p *Partition) failReplicatedLocked(err error) {
	for w := range p.lead.replicated {
		w.err = err
		close(w.done)
		delete(p.lead.replicated, w)
	}
}
