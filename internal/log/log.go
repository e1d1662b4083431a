package log

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/kafkaerr"
	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/vfs"
)

var (
	// ErrOffsetOutOfRange is returned for reads below the log start offset
	// or past the log end offset.
	ErrOffsetOutOfRange = kafkaerr.New("offset out of range", kerr.OffsetOutOfRange)
	// errLogFailed marks a disk error after which the log's on-disk state
	// is unknown (a failed fsync may have dropped dirty pages); the log
	// refuses further appends.
	errLogFailed = kafkaerr.New("log failed", kerr.KafkaStorageError)
	// ErrClosed is returned by operations on a closed log.
	ErrClosed = kafkaerr.New("log closed", kerr.KafkaStorageError)
	// ErrBelowLogEnd is returned by AppendReplicated for a batch whose
	// offsets the log already has: the follower must truncate or fetch
	// from its log end.
	ErrBelowLogEnd = kafkaerr.New("replicated batch below the log end", kerr.OffsetOutOfRange)
)

// IsStorageError reports whether err comes from the disk rather than from
// the caller's input.
func IsStorageError(err error) bool {
	return errors.Is(err, errLogFailed) || errors.Is(err, ErrClosed) || errors.Is(err, ErrWriteRefused)
}

// Config is the per-topic part of the log's behaviour, with Kafka's topic
// config names in the comments.
type Config struct {
	SegmentBytes       int64 // segment.bytes
	SegmentMs          int64 // segment.ms
	IndexIntervalBytes int   // index.interval.bytes
	IndexBytesMax      int   // segment.index.bytes
	// FlushMessages is flush.messages. At 1 (Sluice's default) the high
	// watermark, and so every acknowledgement, waits for fsync. Above 1
	// records are visible and acknowledged once written, and an fsync runs
	// after every FlushMessages records or FlushMs milliseconds.
	FlushMessages int64
	FlushMs       int64 // flush.ms
	// RetentionMs and RetentionBytes are retention.ms and retention.bytes;
	// -1 is unlimited. They apply when DeleteRetention (cleanup.policy
	// contains delete) is set.
	RetentionMs     int64
	RetentionBytes  int64
	DeleteRetention bool
	// SegmentDeleteDelay is log.segment.delete.delay.ms: how long the files
	// of a deleted segment stay open, so reads in progress finish.
	SegmentDeleteDelay time.Duration
	// Compact is set when cleanup.policy contains compact: the cleaner
	// keeps the latest record per key (clean.go). The rest tune it.
	Compact                bool
	DeleteRetentionMs      int64   // delete.retention.ms
	MinCompactionLagMs     int64   // min.compaction.lag.ms
	MaxCompactionLagMs     int64   // max.compaction.lag.ms
	MinCleanableDirtyRatio float64 // min.cleanable.dirty.ratio
}

// DefaultConfig is Kafka's defaults with Sluice's fsync-before-ack.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentMs:          7 * 24 * time.Hour.Milliseconds(),
		IndexIntervalBytes: 4096,
		IndexBytesMax:      10 << 20,
		FlushMessages:      1,
		FlushMs:            1<<63 - 1,
		RetentionMs:        7 * 24 * time.Hour.Milliseconds(),
		RetentionBytes:     -1,
		DeleteRetention:    true,
		SegmentDeleteDelay: time.Minute,

		DeleteRetentionMs:      24 * time.Hour.Milliseconds(),
		MaxCompactionLagMs:     1<<63 - 1,
		MinCleanableDirtyRatio: 0.5,
	}
}

func (c Config) durable() bool { return c.FlushMessages <= 1 }

// Log is one partition's log. Appends are serialised by the caller (the
// partition holds its own lock across producer checks and Append); reads,
// waits and syncs may come from any goroutine.
type Log struct {
	dir string
	fs  vfs.FS // every file of the log is opened through it
	// files keeps the segment files open, at most its limit of them
	// besides those in use; shared by the broker's logs.
	files  *FileCache
	logger *slog.Logger

	mu             sync.Mutex // guards the fields below
	cfg            Config
	segments       []*segment // by base offset; the last is active
	logStartOffset int64
	failed         error
	closed         bool
	// refusing is set while appends are refused for want of space or
	// files (ErrWriteRefused), so the condition is logged once per run.
	refusing bool
	// readable is the first offset the log itself would not let readers
	// see: the durable offset, or the log end with relaxed flushing.
	// readableSegment and readablePosition locate it in the files.
	readable         int64
	readableSegment  *segment
	readablePosition int64
	// readLimit is the first offset readers may not see: the owner's high
	// watermark (OnAdvance, SetReadLimit), never past readable. It is a
	// batch boundary; limitSegment and limitPosition locate it in the
	// files, so readers never read bytes beyond it, which may still be
	// being written or may be truncated away.
	readLimit     int64
	limitSegment  *segment
	limitPosition int64
	unflushed     int64 // records appended since the last fsync
	lastSync      time.Time
	// onAdvance hears of every move of readable and returns the read
	// limit; see OnAdvance.
	onAdvance func(durable int64) (readLimit int64)

	// syncTurn serialises fsyncs: whoever holds its one slot may fsync. A
	// caller that waits for its turn finds, when it comes, that the fsync
	// before it may have covered its offset too: that is the group
	// commit. A slot rather than a mutex, so that a waiter whose client
	// went away stops queueing (lockSync).
	syncTurn chan struct{}
	durable  atomic.Int64 // every offset below it is fsynced
	// syncScheduled keeps relaxed-flush appends to one background fsync
	// at a time.
	syncScheduled atomic.Bool

	cleaning cleanState // compaction's checkpoint; see clean.go

	// pinnedSegment is the segment whose files are pinned open: the
	// active one, once pinActiveLocked ran. Guarded by mu.
	pinnedSegment *segment
}

// pinActiveLocked keeps the active segment's files open and lets the
// cache close those of the segment active before. A failure to open them
// leaves the active segment unpinned: its files are then opened on use.
// REQUIRES: l.mu.
func (l *Log) pinActiveLocked() error {
	active := l.activeLocked()
	if l.pinnedSegment == active {
		return nil
	}
	if l.pinnedSegment != nil {
		l.pinnedSegment.unpin()
		l.pinnedSegment = nil
	}
	if err := active.pin(); err != nil {
		return err
	}
	l.pinnedSegment = active
	return nil
}

// Dir returns the partition directory.
func (l *Log) Dir() string { return l.dir }

// SetConfig applies changed topic configs; they take effect on the next
// append.
func (l *Log) SetConfig(cfg Config) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg = cfg
	if !cfg.durable() {
		l.advanceLocked(l.activeLocked().nextOffset, l.activeLocked(), l.activeLocked().size)
	}
}

func (l *Log) activeLocked() *segment { return l.segments[len(l.segments)-1] }

// Offsets returns the log start offset, the high watermark (the read
// limit: readers see the offsets below it) and the log end offset.
func (l *Log) Offsets() (logStart, highWatermark, logEnd int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.logStartOffset, l.readLimit, l.activeLocked().nextOffset
}

// Size returns the bytes of all segments.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, s := range l.segments {
		n += s.size
	}
	return n
}

// Append writes one validated batch at the log end, assigning its
// baseOffset in place. It returns the base offset assigned. With the
// durable default the batch becomes visible only after WaitDurable.
func (l *Log) Append(batch []byte, h record.Header) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	if l.failed != nil {
		return 0, l.failed
	}
	base := l.activeLocked().nextOffset
	h.BaseOffset = base
	record.SetBaseOffset(batch, base)
	if err := l.appendLocked(batch, h); err != nil {
		return 0, err
	}
	return base, nil
}

// AppendReplicated appends one batch copied from the leader, keeping its
// base offset and partitionLeaderEpoch. h is the batch's header as
// record.ValidateStored returns it. The base offset must be at or past
// the log end (a gap is fine: the leader compacted it away); the CRC is
// checked again, as recovery would cut the log at a batch whose CRC does
// not match. Segments roll, indexes and flushing work as for Append; with
// the durable default the batch is durable after WaitDurable.
func (l *Log) AppendReplicated(batch []byte, h record.Header) error {
	stored, err := record.ValidateIntact(batch)
	if err != nil {
		return err
	}
	if stored != h || h.LastOffsetDelta < 0 {
		return fmt.Errorf("%w: replicated batch header %+v does not match its bytes %+v", kerr.CorruptMessage, h, stored)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	if end := l.activeLocked().nextOffset; h.BaseOffset < end {
		return fmt.Errorf("%w: batch %d..%d, log end %d", ErrBelowLogEnd, h.BaseOffset, h.LastOffset(), end)
	}
	return l.appendLocked(batch, h)
}

// appendLocked writes a batch whose base offset is set, at or past the log
// end, rolling first if the active segment is done: the new segment starts
// at the batch's base offset. An empty active segment whose 32-bit
// relative offsets cannot reach the batch (a replicated batch far past a
// gap) is replaced by one at the batch's base offset.
func (l *Log) appendLocked(batch []byte, h record.Header) error {
	active := l.activeLocked()
	var err error
	switch {
	case l.shouldRollLocked(active, h):
		active, err = l.rollLocked(h.BaseOffset)
	case active.size == 0 && !active.fits(h.LastOffset(), h.Size()):
		active, err = l.replaceEmptyActiveLocked(h.BaseOffset)
	}
	if err != nil {
		return l.appendFailedLocked(err)
	}
	if err := active.append(batch, h, l.cfg.IndexIntervalBytes); err != nil {
		if errors.Is(err, errLogFailed) || errors.Is(err, ErrWriteRefused) {
			return l.appendFailedLocked(err)
		}
		return err
	}
	l.acceptedLocked()
	l.unflushed += int64(h.NumRecords)
	if !l.cfg.durable() {
		l.advanceLocked(active.nextOffset, active, active.size)
		if l.unflushed >= l.cfg.FlushMessages {
			l.SyncSoon()
		}
	}
	return nil
}

// shouldRollLocked applies Kafka's roll rules: size, age, a full index, or
// offsets that no longer fit the segment's 32-bit relative offsets.
func (l *Log) shouldRollLocked(s *segment, h record.Header) bool {
	if s.size == 0 {
		return false
	}
	return s.size+int64(h.Size()) > l.cfg.SegmentBytes ||
		time.Since(s.created).Milliseconds() >= l.cfg.SegmentMs ||
		len(s.ix.offsets) >= l.cfg.IndexBytesMax/offsetEntryBytes ||
		!s.fits(h.LastOffset(), h.Size())
}

// rollLocked seals and fsyncs the active segment and starts a new one at
// base, the log end offset or, for a replicated batch after a gap, past
// it. Every segment but the active one is therefore durable, which
// WaitDurable relies on.
func (l *Log) rollLocked(base int64) (*segment, error) {
	old := l.activeLocked()
	old.seal() // idempotent: a refused roll seals again when retried
	if err := old.flushIndex(); err != nil {
		// Index entries are written at fixed positions and counted
		// flushed only once written, so a refused flush is retried
		// whole by the next roll.
		if isResourceLimit(err) {
			return nil, refusal("flush index of", l.dir, err)
		}
		return nil, err
	}
	if err := old.sync(); err != nil {
		return nil, err
	}
	next, err := l.newSegmentLocked(base)
	if err != nil {
		return nil, err
	}
	l.segments = append(l.segments, next)
	if err := l.pinActiveLocked(); err != nil {
		l.logger.Warn("keep the active segment's files open", "dir", l.dir, "err", err)
	}
	l.noteDurableLocked(old.nextOffset, old, old.size)
	l.logger.Debug("rolled segment", "dir", l.dir, "baseOffset", next.baseOffset)
	return next, nil
}

// replaceEmptyActiveLocked replaces the empty active segment with one at
// base, past its reach. The new one is created first: a crash in between
// leaves an empty segment, which recovery keeps as it is.
func (l *Log) replaceEmptyActiveLocked(base int64) (*segment, error) {
	old := l.activeLocked()
	next, err := l.newSegmentLocked(base)
	if err != nil {
		return nil, err
	}
	l.segments[len(l.segments)-1] = next
	if l.readableSegment == old {
		l.readableSegment, l.readablePosition = next, 0
	}
	if l.limitSegment == old {
		l.limitSegment, l.limitPosition = next, 0
	}
	if err := l.pinActiveLocked(); err != nil {
		l.logger.Warn("keep the active segment's files open", "dir", l.dir, "err", err)
	}
	if err := old.close(); err != nil {
		l.logger.Warn("close replaced empty segment", "dir", l.dir, "baseOffset", old.baseOffset, "err", err)
	}
	l.removeSegmentFiles(old.baseOffset)
	l.logger.Info("replaced the empty active segment", "dir", l.dir, "baseOffset", old.baseOffset, "newBaseOffset", base)
	return next, nil
}

// removeSegmentFiles removes the three files of the segment at base,
// warning about any that will not go (Open removes index files without a
// log file; an empty log file left behind is an empty segment).
func (l *Log) removeSegmentFiles(base int64) {
	stem := filepath.Join(l.dir, segmentName(base))
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		if err := l.fs.Remove(stem + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.logger.Warn("remove segment file", "file", stem+suffix, "err", err)
		}
	}
}

// writableLocked returns why the log refuses writes: it is closed, or
// failed on a disk error. REQUIRES: l.mu.
func (l *Log) writableLocked() error {
	if l.closed {
		return ErrClosed
	}
	return l.failed
}

// newSegmentLocked creates the files of a new segment at base. When
// the system is out of space or files it removes whatever part of them it
// created, so nothing half-made stays behind, and returns ErrWriteRefused.
func (l *Log) newSegmentLocked(base int64) (*segment, error) {
	s, err := openSegment(l.fs, l.files, l.dir, base, true)
	if err != nil && isResourceLimit(err) {
		l.removeSegmentFiles(base)
		return nil, refusal("create segment in", l.dir, err)
	}
	return s, err
}

// appendFailedLocked answers an append that failed on the disk: a refusal
// leaves the log writable, anything else fails it.
func (l *Log) appendFailedLocked(err error) error {
	if errors.Is(err, ErrWriteRefused) {
		return l.refuseLocked(err)
	}
	return l.failLocked(err)
}

// failLocked records a disk error; the log then refuses appends until the
// broker restarts and recovers it from disk.
func (l *Log) failLocked(err error) error {
	if l.failed == nil {
		l.failed = err
		if !errors.Is(err, errLogFailed) {
			l.failed = fmt.Errorf("%w: %w", errLogFailed, err)
		}
		failedLogs.Add(1)
		if l.refusing {
			l.refusing = false
			refusingLogs.Add(-1)
		}
		l.logger.Error("log failed, refusing appends until restart", "dir", l.dir, "err", err)
	}
	return l.failed
}

// WaitDurable returns once every offset below offset is fsynced. Callers
// waiting at the same time share fsyncs.
func (l *Log) WaitDurable(offset int64) error {
	return l.WaitDurableContext(context.Background(), offset)
}

// WaitDurableContext is WaitDurable that gives up, returning ctx.Err(),
// when ctx ends while it queues for its fsync. The records still reach
// the disk: a background fsync takes over. An fsync already running is
// never abandoned, so a caller that holds the turn returns after it.
func (l *Log) WaitDurableContext(ctx context.Context, offset int64) error {
	if l.durable.Load() >= offset {
		return nil
	}
	err := l.syncOnce(ctx, offset)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		l.SyncSoon()
	}
	return err
}

// lockSync takes the fsync turn, or returns ctx.Err() when ctx ends first.
func (l *Log) lockSync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case l.syncTurn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unlockSync gives the fsync turn back.
func (l *Log) unlockSync() { <-l.syncTurn }

// SyncSoon starts an fsync of everything appended so far in the
// background, unless one is already pending: appends nobody waits for (acks
// 0, relaxed flushing) still reach the disk and the high watermark.
func (l *Log) SyncSoon() {
	if !l.syncScheduled.CompareAndSwap(false, true) {
		return
	}
	go func() {
		for {
			err := l.Sync()
			l.syncScheduled.Store(false)
			if err != nil {
				if !errors.Is(err, ErrClosed) {
					l.logger.Error("background fsync", "dir", l.dir, "err", err)
				}
				return
			}
			// Appends that found the flag set during this fsync rely on
			// this goroutine to cover them too.
			l.mu.Lock()
			end := l.activeLocked().nextOffset
			l.mu.Unlock()
			if l.durable.Load() >= end || !l.syncScheduled.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

// Sync fsyncs everything appended so far.
func (l *Log) Sync() error {
	l.mu.Lock()
	end := l.activeLocked().nextOffset
	l.mu.Unlock()
	return l.WaitDurable(end)
}

// syncOnce takes its fsync turn and, unless an fsync that ran while it
// waited already covered offset, fsyncs the active segment, covering every
// append so far.
func (l *Log) syncOnce(ctx context.Context, offset int64) error {
	if err := l.lockSync(ctx); err != nil {
		return err
	}
	defer l.unlockSync()
	if l.durable.Load() >= offset {
		return nil // the group commit: someone else's fsync covered us
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.failed != nil {
		l.mu.Unlock()
		return l.failed
	}
	active := l.activeLocked()
	target, position := active.nextOffset, active.size
	l.mu.Unlock()
	if target < offset {
		return fmt.Errorf("wait for offset %d beyond the log end %d", offset, target)
	}

	err := active.sync()

	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		return l.failLocked(err)
	}
	l.noteDurableLocked(target, active, position)
	return nil
}

// noteDurableLocked records that offsets below target, ending at position
// of s, are on disk.
func (l *Log) noteDurableLocked(target int64, s *segment, position int64) {
	if target > l.durable.Load() {
		l.durable.Store(target)
	}
	l.unflushed = 0
	l.lastSync = time.Now()
	if l.cfg.durable() {
		l.advanceLocked(target, s, position)
	}
}

// advanceLocked moves what the log considers readable forward to offset,
// ending at position of s, tells the owner, and moves the read limit to
// what the owner answers.
func (l *Log) advanceLocked(offset int64, s *segment, position int64) {
	if offset <= l.readable {
		return
	}
	l.readable, l.readableSegment, l.readablePosition = offset, s, position
	limit := offset
	if l.onAdvance != nil {
		limit = l.onAdvance(offset)
	}
	l.moveReadLimitLocked(limit)
}

// moveReadLimitLocked moves the read limit forward to offset, or to
// readable if offset is past it. With a single replica the owner answers
// readable itself, whose position is known: nothing is looked up.
func (l *Log) moveReadLimitLocked(offset int64) {
	offset = min(offset, l.readable)
	if offset <= l.readLimit {
		return
	}
	if offset == l.readable {
		l.readLimit, l.limitSegment, l.limitPosition = offset, l.readableSegment, l.readablePosition
		return
	}
	s, position, err := l.locateLocked(offset)
	if err != nil {
		// The bytes below readable were written whole: a header that
		// does not read back is a failing disk. Readers keep the old
		// bound; the next move tries again.
		l.logger.Error("locate read limit", "dir", l.dir, "offset", offset, "err", err)
		return
	}
	l.readLimit, l.limitSegment, l.limitPosition = offset, s, position
}

// locateLocked returns where offset lies in the files: the segment and
// position of the first batch whose last offset is at or past offset, or
// the end of the segment holding offset when no batch of it reaches
// offset. For a batch boundary that is where the batches below offset
// end; an offset inside a batch locates that batch's start, so the batch
// stays unread, as Kafka does. It reads batch headers from the offset
// index entry before offset: at most index.interval.bytes and a batch.
func (l *Log) locateLocked(offset int64) (*segment, int64, error) {
	s := l.segments[l.segmentForLocked(offset)]
	switch {
	case offset <= s.baseOffset:
		return s, 0, nil
	case offset >= s.nextOffset:
		return s, s.size, nil
	}
	start := int64(s.ix.lookup(s.relative(offset)))
	if s == l.limitSegment && l.readLimit <= offset && l.limitPosition > start {
		// Every batch before the read limit's position ends below it, so
		// below offset: a read limit moving forward walks only the
		// batches it passes.
		start = l.limitPosition
	}
	buf := headerBuffers.Get().(*[headerReadBytes]byte)
	defer headerBuffers.Put(buf)
	w := headerWalker{s: s, pos: start, limit: s.size, buf: buf[:]}
	for {
		h, ok, err := w.next()
		if err != nil {
			return nil, 0, err
		}
		if !ok || h.LastOffset() >= offset {
			return s, w.pos, nil
		}
		w.skip(h)
	}
}

// SetReadLimit moves the readers' bound (the partition's high watermark)
// without a durable move, e.g. when a follower's fetch advanced the high
// watermark. It never moves the bound past what the log considers
// readable (durable, or written with relaxed flushing): a higher offset
// is taken up to there now, and the owner answers it again on the next
// durable move. It never moves the bound backwards; only truncation does.
// It takes the log's lock, which is held while OnAdvance's callback runs:
// call it holding no lock the callback takes.
func (l *Log) SetReadLimit(offset int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.moveReadLimitLocked(offset)
}

// FlushIfDue fsyncs when flush.ms has passed since the last fsync and
// records are waiting; a broker-wide ticker calls it.
func (l *Log) FlushIfDue(now time.Time) error {
	l.mu.Lock()
	due := l.unflushed > 0 && now.Sub(l.lastSync).Milliseconds() >= l.cfg.FlushMs
	l.mu.Unlock()
	if !due {
		return nil
	}
	return l.Sync()
}

// Durable returns the offset below which everything is fsynced, for the
// recovery point checkpoint.
func (l *Log) Durable() int64 { return l.durable.Load() }

// OnAdvance makes fn hear of every move of the durable offset: the offset
// below which records are on disk (or written, with relaxed flushing). fn
// returns the read limit, the offset readers may read below: the
// partition's high watermark, which it derives from durable and its
// followers' offsets. Returning durable itself makes the log readable up to
// what is durable, as with a single replica. An answer past durable is
// taken as durable; one below the current read limit moves nothing. fn
// runs with the log's lock held, so it sees moves in order, and must not
// call the log.
func (l *Log) OnAdvance(fn func(durable int64) (readLimit int64)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.onAdvance = fn
}

// segmentFor returns the index of the segment holding offset.
func (l *Log) segmentForLocked(offset int64) int {
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].baseOffset > offset })
	return max(i-1, 0)
}

// readableLocked returns how many bytes of s lie below the read limit.
func (l *Log) readableLocked(s *segment) int64 {
	switch {
	case s == l.limitSegment:
		return l.limitPosition
	case l.limitSegment == nil || s.baseOffset > l.limitSegment.baseOffset:
		return 0
	default:
		return s.size
	}
}

// Close flushes indexes, fsyncs and closes every segment. The log is
// unusable afterwards.
func (l *Log) Close() error {
	l.lockSync(context.Background()) // never fails without a deadline
	defer l.unlockSync()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.forgetCountsLocked()
	var errs []error
	if l.failed == nil {
		errs = append(errs, l.activeLocked().sync())
	}
	for _, s := range l.segments {
		errs = append(errs, s.close())
	}
	return errors.Join(errs...)
}
