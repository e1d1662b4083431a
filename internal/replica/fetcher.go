package replica

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/log"
)

// The replica fetchers: Kafka's ReplicaFetcherManager and
// ReplicaFetcherThread. A broker follows each partition it is a replica
// of but does not lead; it fetches the partition from its leader with
// one goroutine per (leader, fetcher id), num.replica.fetchers of them
// per leader at most, each carrying every partition hashed to it.
//
// One round of a fetcher:
//
//	build   under mu: every partition not backing off, at its durable
//	        log end, with the epoch of its last batch (LastFetchedEpoch)
//	fetch   without a lock: one Fetch to the leader, a long poll of up
//	        to replica.fetch.wait.max.ms
//	apply   under mu: per partition, append the batches, or truncate
//	        where the leader says the log diverges, or start over at the
//	        leader's log start; then fsync every appended partition
//	        at once (group commit) and only then take the leader's high
//	        watermark, so the next fetch's offset is the durable end
//
// A partition leaves its fetcher (leadership came here, a new leader or
// epoch, the partition closes) under mu, so once removal returns nothing
// more is appended to it from the old leader; an answer to a fetch sent
// before is dropped.

// FetcherConfig configures the fetchers, with Kafka's config names.
type FetcherConfig struct {
	NodeID int32
	// BrokerEpoch returns this broker's registration epoch, sent in
	// every fetch so a leader refuses an earlier incarnation; -1 unknown.
	BrokerEpoch func() int64
	Transport   Transport
	// MaxBytes is replica.fetch.max.bytes, per partition; the first batch
	// comes whole even when larger, so a large batch cannot stall.
	MaxBytes int32
	// ResponseMaxBytes is replica.fetch.response.max.bytes, per fetch.
	ResponseMaxBytes int32
	MinBytes         int32         // replica.fetch.min.bytes
	MaxWait          time.Duration // replica.fetch.wait.max.ms
	// Backoff is replica.fetch.backoff.ms: how long a partition (or the
	// whole fetcher, when its fetch failed) waits after an error.
	Backoff     time.Duration
	NumFetchers int // num.replica.fetchers, per leader
	Logger      *slog.Logger
}

// fetcherKey names one fetcher: its leader and its index among that
// leader's fetchers.
type fetcherKey struct {
	leader int32
	id     int
}

// Fetchers owns the fetcher goroutines of this broker.
type Fetchers struct {
	cfg FetcherConfig

	// mu guards the fields below. Lock order: Manager.mu, then mu, then
	// a fetcher's mu; a fetcher's goroutine never takes mu.
	mu       sync.Mutex
	fetchers map[fetcherKey]*fetcher
	assigned map[TP]fetcherKey // the fetcher each followed partition is in
	closed   bool
}

// NewFetchers returns fetchers following nothing yet; the Manager hands
// them partitions as images come (SetFetchers, Reconcile).
func NewFetchers(cfg FetcherConfig) *Fetchers {
	if cfg.NumFetchers < 1 {
		cfg.NumFetchers = 1
	}
	if cfg.BrokerEpoch == nil {
		cfg.BrokerEpoch = func() int64 { return -1 }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Fetchers{cfg: cfg, fetchers: map[fetcherKey]*fetcher{}, assigned: map[TP]fetcherKey{}}
}

// fetcherID spreads a leader's partitions over its fetchers, as Kafka's
// getFetcherId hashes topic and partition.
func (fs *Fetchers) fetcherID(tp TP) int {
	h := fnv.New32a()
	h.Write([]byte(tp.Topic))
	return int((uint64(h.Sum32())*31 + uint64(uint32(tp.Partition))) % uint64(fs.cfg.NumFetchers))
}

// follow makes p fetched from leader in leaderEpoch. A partition already
// fetched from that leader in that epoch keeps its state; one fetched in
// another epoch gets a new state (in its fetcher, or in another one when
// the leader changed, after leaving the old) and starts again at its log
// end with its last epoch, so a divergence is found (KIP-595).
// durable is flush.messages=1: appended records are fsynced before the
// next fetch.
func (fs *Fetchers) follow(p *Partition, leader, leaderEpoch int32, durable bool) {
	tp := TP{p.Topic, p.Index}
	key := fetcherKey{leader, fs.fetcherID(tp)}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closed {
		return
	}
	st := &fetchState{p: p, leader: leader, leaderEpoch: leaderEpoch, durable: durable}
	if old, ok := fs.assigned[tp]; ok {
		if f := fs.fetchers[old]; old == key {
			// The same fetcher: the new state replaces the old under the
			// fetcher's lock, and an answer in flight for it is dropped.
			if !f.keep(tp, p, leaderEpoch, durable) {
				f.add(tp, st)
			}
			return
		}
		fs.removeLocked(tp)
	}
	f, ok := fs.fetchers[key]
	if !ok {
		f = newFetcher(key, &fs.cfg)
		fs.fetchers[key] = f
		go f.run()
	}
	f.add(tp, st)
	fs.assigned[tp] = key
}

// unfollow stops fetching tp. When it returns, no fetcher appends to the
// partition or truncates it any more: it may become leader, or close.
func (fs *Fetchers) unfollow(tp TP) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.removeLocked(tp)
}

// removeLocked takes tp out of its fetcher and stops the fetcher when it
// has nothing left, as Kafka shuts idle fetcher threads down. REQUIRES: mu.
func (fs *Fetchers) removeLocked(tp TP) {
	key, ok := fs.assigned[tp]
	if !ok {
		return
	}
	delete(fs.assigned, tp)
	f := fs.fetchers[key]
	if f.remove(tp) == 0 {
		delete(fs.fetchers, key)
		f.stop()
	}
}

// following reports the leader and epoch tp is fetched from.
func (fs *Fetchers) following(tp TP) (leader, leaderEpoch int32, ok bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	key, ok := fs.assigned[tp]
	if !ok {
		return 0, 0, false
	}
	st := fs.fetchers[key].state(tp)
	return st.leader, st.leaderEpoch, true
}

// Close stops every fetcher and waits for their goroutines; a fetch in
// flight is abandoned, an fsync in progress finishes. Later follows are
// ignored. The broker closes the fetchers before the Manager closes the
// logs.
func (fs *Fetchers) Close() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closed {
		return
	}
	fs.closed = true
	for key, f := range fs.fetchers {
		f.stop()
		delete(fs.fetchers, key)
	}
	clear(fs.assigned)
}

// fetchState is one followed partition in its fetcher.
type fetchState struct {
	p           *Partition
	leader      int32
	leaderEpoch int32 // sent as CurrentLeaderEpoch
	durable     bool  // flush.messages=1: fsync before fetching again
	// synced is set once the log end the partition came with is durable:
	// records this broker appended as leader may not have been fsynced.
	synced bool
	// fetchOffset is the offset the last fetch asked from; an answer to
	// an earlier one is dropped.
	fetchOffset int64
	// delayedUntil is when a partition backing off after an error may
	// fetch again.
	delayedUntil time.Time
}

// fetcher is one fetch goroutine towards one leader.
type fetcher struct {
	key    fetcherKey
	cfg    *FetcherConfig
	logger *slog.Logger

	// mu guards partitions. It is held while an answer is applied,
	// fsyncs included, so that remove returns only once nothing more
	// lands in a removed partition.
	mu         sync.Mutex
	partitions map[TP]*fetchState

	wake   chan struct{} // a partition was added: fetch now
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newFetcher(key fetcherKey, cfg *FetcherConfig) *fetcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &fetcher{key: key, cfg: cfg, partitions: map[TP]*fetchState{},
		logger: cfg.Logger.With("leader", key.leader, "fetcher", key.id),
		wake:   make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// keep reports whether tp is already fetched here for partition p in
// leaderEpoch, updating its durability.
func (f *fetcher) keep(tp TP, p *Partition, leaderEpoch int32, durable bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.partitions[tp]
	if !ok || st.p != p || st.leaderEpoch != leaderEpoch {
		return false
	}
	st.durable = durable
	return true
}

func (f *fetcher) add(tp TP, st *fetchState) {
	f.mu.Lock()
	f.partitions[tp] = st
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// remove takes tp out and returns how many partitions are left.
func (f *fetcher) remove(tp TP) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.partitions, tp)
	return len(f.partitions)
}

func (f *fetcher) state(tp TP) fetchState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.partitions[tp]
}

// stop ends the goroutine and waits for it.
func (f *fetcher) stop() {
	f.cancel()
	<-f.done
}

// run is the fetch loop.
func (f *fetcher) run() {
	defer close(f.done)
	var conn FetchConn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for f.ctx.Err() == nil {
		select {
		case <-f.wake: // the request built now holds every partition added
		default:
		}
		req, sent, wait := f.buildRequest(time.Now())
		if req == nil {
			f.idle(wait)
			continue
		}
		if conn == nil {
			var err error
			if conn, err = f.cfg.Transport.Open(f.key.leader); err != nil {
				f.logger.Warn("cannot reach the leader; backing off", "err", err, "backoff", f.cfg.Backoff)
				f.sleep(f.cfg.Backoff)
				continue
			}
		}
		ctx, cancel := context.WithTimeout(f.ctx, f.cfg.MaxWait+fetchTimeoutOverhead)
		resp, err := conn.Fetch(ctx, req)
		cancel()
		if err != nil {
			if f.ctx.Err() != nil {
				return
			}
			f.logger.Warn("replica fetch failed; backing off", "err", err, "backoff", f.cfg.Backoff)
			conn.Close()
			conn = nil
			f.sleep(f.cfg.Backoff)
			continue
		}
		f.apply(sent, resp)
	}
}

// idle waits d, or until a partition is added or the fetcher stops.
func (f *fetcher) idle(d time.Duration) {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-f.ctx.Done():
	case <-f.wake:
	case <-t.C:
	}
}

// sleep backs off d, or until the fetcher stops: a partition added
// meanwhile waits too, as the whole fetch failed.
func (f *fetcher) sleep(d time.Duration) {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-f.ctx.Done():
	case <-t.C:
	}
}

// fetchTimeoutOverhead is how long past replica.fetch.wait.max.ms a
// fetch may go unanswered before the fetcher gives up on the connection:
// Kafka's replica.socket.timeout.ms default.
const fetchTimeoutOverhead = 30 * time.Second

// idleWaitMax bounds a fetcher's sleep when no partition is ready and
// none backs off (all are being synced, say).
const idleWaitMax = time.Second

// buildRequest makes a fetch of every partition ready to fetch, syncing
// first the log end of a partition that just joined. With none ready it
// returns nil and how long to wait for the first to be.
func (f *fetcher) buildRequest(now time.Time) (*FetchRequest, map[TP]*fetchState, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	req := &FetchRequest{ReplicaID: f.cfg.NodeID, BrokerEpoch: f.cfg.BrokerEpoch(),
		MaxWait: f.cfg.MaxWait, MinBytes: f.cfg.MinBytes, MaxBytes: f.cfg.ResponseMaxBytes}
	sent := map[TP]*fetchState{}
	wait := idleWaitMax
	for tp, st := range f.partitions {
		if d := st.delayedUntil.Sub(now); d > 0 {
			wait = min(wait, d)
			continue
		}
		if !st.synced {
			if err := f.syncJoined(st); err != nil {
				f.delay(tp, st, now, err)
				wait = min(wait, f.cfg.Backoff)
				continue
			}
		}
		st.fetchOffset = st.p.LogEndOffset()
		req.Partitions = append(req.Partitions, FetchPartition{
			Topic: tp.Topic, TopicID: st.p.TopicID, Partition: tp.Partition,
			CurrentLeaderEpoch: st.leaderEpoch, FetchOffset: st.fetchOffset,
			LastFetchedEpoch: st.p.epochs.latestEpoch(), LogStartOffset: st.p.LogStartOffset(),
			MaxBytes: f.cfg.MaxBytes,
		})
		sent[tp] = st
	}
	if len(req.Partitions) == 0 {
		return nil, nil, wait
	}
	return req, sent, 0
}

// syncJoined makes a partition's log end durable before its first fetch,
// so that its FetchOffset is its durable end from the start.
func (f *fetcher) syncJoined(st *fetchState) error {
	if st.durable {
		if err := st.p.log.WaitDurable(st.p.LogEndOffset()); err != nil {
			return storageError(err)
		}
	}
	st.synced = true
	return nil
}

// delay makes a partition back off after err.
func (f *fetcher) delay(tp TP, st *fetchState, now time.Time, err error) {
	st.delayedUntil = now.Add(f.cfg.Backoff)
	level := slog.LevelInfo
	switch {
	case errors.Is(err, log.ErrWriteRefused):
		// Out of space or files: the log said so once, at ERROR, and
		// says when writes resume; a line per back-off would flood.
		level = slog.LevelDebug
	case errors.Is(err, kerr.KafkaStorageError):
		level = slog.LevelError
	}
	f.logger.Log(context.Background(), level, "replica fetch of a partition failed; backing off",
		"partition", tp.dirName(), "err", err, "backoff", f.cfg.Backoff)
}

// appended is a partition whose answer added records: it is fsynced with
// the others before their high watermarks move.
type appended struct {
	tp  TP
	st  *fetchState
	end int64
	hw  int64
	// logStart is the leader's log start offset.
	logStart int64
}

// apply takes one answer. Partitions that left, or moved on since the
// fetch was sent, are skipped.
func (f *fetcher) apply(sent map[TP]*fetchState, resp *FetchResponse) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	var got []appended
	for i := range resp.Partitions {
		rp := &resp.Partitions[i]
		tp := TP{rp.Topic, rp.Partition}
		st, ok := f.partitions[tp]
		if !ok || sent[tp] != st || st.fetchOffset != st.p.LogEndOffset() {
			continue
		}
		if a, ok := f.applyPartition(tp, st, rp, now); ok {
			got = append(got, a)
		}
	}
	f.syncAll(got, now)
	for _, a := range got {
		a.st.p.followHighWatermark(a.hw, a.end)
		if err := a.st.p.followLogStart(a.logStart); err != nil {
			f.delay(a.tp, a.st, now, err)
		}
	}
}

// applyPartition takes one partition's answer. It returns the partition
// when it appended (or may move its high watermark), to be synced.
func (f *fetcher) applyPartition(tp TP, st *fetchState, rp *FetchedPartition, now time.Time) (appended, bool) {
	p := st.p
	switch {
	case errors.Is(rp.Err, kerr.OffsetOutOfRange):
		if err := f.outOfRange(st, rp); err != nil {
			f.delay(tp, st, now, err)
		}
		return appended{}, false
	case rp.Err != nil:
		f.delay(tp, st, now, rp.Err)
		return appended{}, false
	case rp.DivergingEpoch >= 0:
		if err := f.diverged(tp, st, rp); err != nil {
			f.delay(tp, st, now, err)
		}
		return appended{}, false
	}
	end, err := p.appendAsFollower(rp.Records, st.leader, st.leaderEpoch)
	if err != nil {
		if !errors.Is(err, errNotFollowing) {
			f.delay(tp, st, now, err)
		}
		return appended{}, false
	}
	return appended{tp: tp, st: st, end: end, hw: rp.HighWatermark, logStart: rp.LogStartOffset}, true
}

// syncAll fsyncs the durable partitions that appended, all at once: the
// logs' fsyncs run in parallel (at most syncParallelMax at a time) and
// the fetcher waits for them all, so one answer costs about one fsync's
// time. A partition whose fsync failed backs off, and its high watermark
// stays.
func (f *fetcher) syncAll(got []appended, now time.Time) {
	errs := make([]error, len(got))
	slots := make(chan struct{}, syncParallelMax)
	var wg sync.WaitGroup
	for i, a := range got {
		if !a.st.durable || a.st.p.log.Durable() >= a.end {
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			errs[i] = storageError(a.st.p.log.WaitDurable(a.end))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			f.delay(got[i].tp, got[i].st, now, err)
			got[i].hw = -1           // nothing new is durable here
			got[i].st.synced = false // nor may a fetch claim it is
		}
	}
}

// syncParallelMax bounds the fsyncs one answer runs at once: enough to
// keep a disk's queue full, few enough that an answer for thousands of
// partitions does not start thousands of goroutines.
const syncParallelMax = 64

// diverged cuts the log back to where it agrees with the leader's: the
// leader says its log in DivergingEpoch ends at DivergingEndOffset, and
// the next fetch, with the epoch the log then ends in, checks again.
func (f *fetcher) diverged(tp TP, st *fetchState, rp *FetchedPartition) error {
	p := st.p
	followerEpoch, followerEnd := p.followerEndOffsetFor(rp.DivergingEpoch)
	to := divergenceTruncation(rp.DivergingEpoch, rp.DivergingEndOffset, followerEpoch, followerEnd, p.LogEndOffset(), st.fetchOffset)
	f.logger.Info("log diverges from the leader's; truncating",
		"partition", tp.dirName(), "leaderEpoch", rp.DivergingEpoch, "leaderEndOffset", rp.DivergingEndOffset,
		"followerEpoch", followerEpoch, "followerEndOffset", followerEnd, "truncateTo", to)
	lastEpoch := p.epochs.latestEpoch()
	end, err := p.truncateAsFollower(to, st.leader, st.leaderEpoch)
	if err != nil {
		return err
	}
	if end >= st.fetchOffset && p.epochs.latestEpoch() == lastEpoch {
		// Nothing to cut, yet the leader disagrees: the next fetch would
		// ask the same question; wait rather than loop.
		return fmt.Errorf("leader reports a divergence in epoch %d at offset %d that the log does not have",
			rp.DivergingEpoch, rp.DivergingEndOffset)
	}
	return nil
}

// divergenceTruncation is Kafka's getOffsetTruncationState: where a
// follower cuts its log when the leader answers that its log in
// leaderEpoch ends at leaderEnd. followerEpoch and followerEnd are the
// follower's largest epoch <= leaderEpoch and where it ends in its log
// (-1 when it has none); logEnd is the follower's log end.
//
//   - The leader knows no end: nothing is cut (fetchOffset).
//   - The leader has no epoch, or the follower none up to the leader's:
//     cut to the leader's end.
//   - The follower's epoch is older than the leader's (it never saw the
//     leader's): cut to where its own epoch ends, and ask again (KIP-279).
//   - Same epoch: cut to where the shorter of the two ends (KIP-101).
func divergenceTruncation(leaderEpoch int32, leaderEnd int64, followerEpoch int32, followerEnd, logEnd, fetchOffset int64) int64 {
	switch {
	case leaderEnd < 0:
		return fetchOffset
	case leaderEpoch < 0 || followerEpoch < 0:
		return min(leaderEnd, logEnd)
	case followerEpoch != leaderEpoch:
		return min(followerEnd, logEnd)
	default:
		return min(followerEnd, leaderEnd, logEnd)
	}
}

// outOfRange handles OFFSET_OUT_OF_RANGE, as Kafka's fetchOffsetAndTruncate:
// a follower whose log ends before the leader's log start (an empty disk,
// or far behind retention) empties its log and starts at the leader's
// log start; one whose log ends past the leader's (an unclean election
// gave the leadership to a shorter log) cuts back to the leader's high
// watermark, which the leader reports with the error, and fetches from
// there (records past it were never committed).
func (f *fetcher) outOfRange(st *fetchState, rp *FetchedPartition) error {
	p := st.p
	end := p.LogEndOffset()
	switch {
	case rp.LogStartOffset >= 0 && end < rp.LogStartOffset:
		f.logger.Warn("log ends before the leader's log start; starting again from it",
			"partition", TP{p.Topic, p.Index}.dirName(), "logEndOffset", end, "leaderLogStartOffset", rp.LogStartOffset)
		return p.truncateFullyAsFollower(rp.LogStartOffset, st.leader, st.leaderEpoch)
	case rp.HighWatermark >= 0 && end > rp.HighWatermark:
		f.logger.Warn("log ends past the leader's; truncating to the leader's high watermark",
			"partition", TP{p.Topic, p.Index}.dirName(), "logEndOffset", end, "leaderHighWatermark", rp.HighWatermark)
		_, err := p.truncateAsFollower(rp.HighWatermark, st.leader, st.leaderEpoch)
		return err
	}
	return rp.Err
}
