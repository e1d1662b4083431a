package log

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/vfs"
)

// Compaction (cleanup.policy=compact) follows Kafka's log cleaner.
//
// The segments before the active one are the cleanable part of a log. The
// cleaner checkpoint (firstDirtyOffset) splits them: below it everything
// was cleaned before and holds at most one record per key; from it to the
// first uncleanable offset (the active segment, or the first segment with
// a record younger than min.compaction.lag.ms) they are dirty. A clean:
//
//  1. maps each key of the dirty records to its latest offset, in an
//     offset map of fixed memory (the dedupe buffer); if the map fills, the
//     clean covers only the offsets mapped so far;
//  2. rewrites every cleanable segment up to there, in groups that stay
//     within segment.bytes, keeping a record iff no later record has its
//     key and it is not a tombstone whose delete horizon has passed.
//     Records without a key are dropped, as Kafka drops them. A batch
//     keeps its offsets (gaps remain), producer id, epoch, base sequence
//     and lastOffsetDelta; a producer's last batch stays, empty if need
//     be, so producer state rebuilt from the log is unchanged. Control and
//     transactional batches are kept as they are until transactions exist;
//  3. swaps each rewritten group into the log crash-safely (clean_swap.go)
//     and moves the checkpoint.
//
// Tombstones follow KIP-534: the first clean that keeps a tombstone stamps
// its batch with a delete horizon, now + delete.retention.ms (attributes bit
// 6, the horizon in baseTimestamp); a clean after the horizon removes it.

// cleanerCheckpointFile holds a partition's cleaner checkpoint and the
// earliest pending delete horizon, as "<firstDirtyOffset> <horizon>".
// Kafka keeps the first number per log dir in cleaner-offset-checkpoint.
const cleanerCheckpointFile = "cleaner-offset-checkpoint"

// noHorizon is the delete horizon of a log without kept tombstones.
const noHorizon = math.MaxInt64

// deleteHorizonFlag is attributes bit 6 (KIP-534): the batch's
// baseTimestamp holds the delete horizon, the time after which the cleaner
// may remove its tombstones. Record timestamps stay baseTimestamp plus
// their delta, so the cleaner rewrites the deltas when it sets one.
const deleteHorizonFlag = 0x40

// hasDeleteHorizon reports whether h's baseTimestamp is a delete horizon.
func hasDeleteHorizon(h record.Header) bool { return h.Attributes&deleteHorizonFlag != 0 }

// CleanerConfig is the broker-wide cleaner configuration, with Kafka's
// broker config names.
type CleanerConfig struct {
	// DedupeBufferBytes is log.cleaner.dedupe.buffer.size: the memory of
	// the offset map, 24 bytes per key. It bounds how many distinct keys
	// one clean covers.
	DedupeBufferBytes int64
	// IOBufferBytes is log.cleaner.io.buffer.size: the read and write
	// buffers, grown for a batch larger than them.
	IOBufferBytes int
	// IOBytesPerSecond is log.cleaner.io.max.bytes.per.second, read and
	// write bytes together; 0 means unlimited.
	IOBytesPerSecond float64
	Logger           *slog.Logger
}

// DefaultCleanerConfig is Kafka's defaults for one cleaner thread.
func DefaultCleanerConfig() CleanerConfig {
	return CleanerConfig{DedupeBufferBytes: 128 << 20, IOBufferBytes: 512 << 10}
}

// cleanState is a log's cleaning state.
type cleanState struct {
	mu sync.Mutex // held for a whole clean: one cleaner per log at a time

	// Guarded by the Log's mu.
	loaded           bool  // the checkpoint file was read
	firstDirtyOffset int64 // offsets below it were cleaned
	deleteHorizon    int64 // earliest horizon of a kept tombstone, noHorizon if none
}

// CleanStats describe one clean, for logs and the benchmark.
type CleanStats struct {
	Cleaned         bool  // false when the log did not need cleaning
	FirstDirty      int64 // the checkpoint before
	EndOffset       int64 // the checkpoint after
	Segments        int   // segments read and rewritten
	Groups          int   // segments written (swapped in)
	MappedRecords   int64 // dirty records read into the offset map
	RecordsRead     int64
	RecordsKept     int64
	BytesRead       int64 // map building and rewriting
	BytesWritten    int64
	OffsetMapBytes  int64 // memory of the offset map
	Duration        time.Duration
	DeleteHorizonMs int64 // earliest horizon left, or math.MaxInt64
}

// Cleaner compacts logs. It holds the offset map and I/O buffers and
// reuses them from one clean to the next, so its memory is bounded by its
// config. A Cleaner is for one goroutine; run one per cleaner thread.
type Cleaner struct {
	cfg      CleanerConfig
	logger   *slog.Logger
	offsets  *offsetMap
	reader   batchReader
	write    []byte          // retained batches waiting for one write
	kept     []record.Record // the kept records of the batch being filtered
	throttle throttler
	// hook, when set (tests), is called at the named points of a swap,
	// where a crash leaves the files as they are at that moment.
	hook func(point string)
}

// NewCleaner returns a cleaner; its offset map is allocated on first use.
func NewCleaner(cfg CleanerConfig) *Cleaner {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.IOBufferBytes <= record.HeaderSize {
		cfg.IOBufferBytes = DefaultCleanerConfig().IOBufferBytes
	}
	return &Cleaner{cfg: cfg, logger: cfg.Logger, throttle: throttler{bytesPerSecond: cfg.IOBytesPerSecond}}
}

// Clean compacts l if its config asks for compaction and it is due:
// the dirty share of the cleanable bytes is above min.cleanable.dirty.ratio,
// a dirty record is older than max.compaction.lag.ms, or a kept tombstone's
// delete horizon has passed. now is the wall clock.
func (c *Cleaner) Clean(l *Log, now time.Time) (CleanStats, error) {
	l.cleaning.mu.Lock()
	defer l.cleaning.mu.Unlock()
	start := time.Now()
	p, err := l.planClean(now)
	if err != nil || p == nil {
		return CleanStats{}, err
	}
	if !p.due(c, now) {
		return CleanStats{}, nil
	}
	// The map holds at most one key per dirty offset: size it for the
	// dirty range, up to log.cleaner.dedupe.buffer.size, so a broker whose
	// compacted topics are small (as __consumer_offsets usually is) does
	// not keep 128 MiB resident.
	want := min(c.cfg.DedupeBufferBytes, max(p.dirtyOffsets(), 1024)*offsetSlotBytes*10/9+offsetSlotBytes)
	if c.offsets == nil || int64(len(c.offsets.slots))*offsetSlotBytes < want {
		c.offsets = newOffsetMap(want)
	}
	stats := CleanStats{Cleaned: true, FirstDirty: p.firstDirty, OffsetMapBytes: int64(len(c.offsets.slots)) * offsetSlotBytes}
	end, err := c.buildOffsetMap(p, &stats)
	if err != nil {
		return stats, l.cleanError(err)
	}
	producers, err := c.lastProducerBatches(p)
	if err != nil {
		return stats, l.cleanError(err)
	}
	f := &cleanFilter{
		offsets: c.offsets, latest: max(c.offsets.latestOffset, p.firstDirty-1), producers: producers,
		nowMs: now.UnixMilli(), deleteRetentionMs: p.cfg.DeleteRetentionMs, horizon: noHorizon,
	}
	for _, group := range p.groups(end) {
		if err := c.cleanGroup(l, p, group, f, &stats); err != nil {
			return stats, l.cleanError(err)
		}
	}
	stats.EndOffset, stats.DeleteHorizonMs = end, f.horizon
	if err := l.saveCleanerCheckpoint(end, f.horizon); err != nil {
		return stats, l.cleanError(err)
	}
	stats.Duration = time.Since(start)
	c.logger.Info("cleaned log", "dir", l.dir, "firstDirty", p.firstDirty, "endOffset", end,
		"segments", stats.Segments, "recordsRead", stats.RecordsRead, "recordsKept", stats.RecordsKept,
		"bytesRead", stats.BytesRead, "bytesWritten", stats.BytesWritten, "duration", stats.Duration)
	return stats, nil
}

// cleanError turns errors caused by the log closing under the cleaner into
// ErrClosed, which callers need not report.
func (l *Log) cleanError(err error) error {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed || errors.Is(err, os.ErrClosed) {
		return ErrClosed
	}
	return err
}

// segmentView is a sealed segment as the cleaner saw it under the Log's
// mu. Sealed segments do not change, so the copy stays true while the
// cleaner reads without the lock.
type segmentView struct {
	s                  *segment
	cuts               int // s.cuts then
	base, next, size   int64
	maxTimestamp       int64
	offsetIndexEntries int
	timeIndexEntries   int
}

// cleanPlan is what a clean works on, taken under the Log's mu.
type cleanPlan struct {
	cfg              Config
	cleanable        []segmentView // every segment before the active one
	active           segmentView   // read for producer state only, up to size
	firstDirty       int64
	firstUncleanable int64
	deleteHorizon    int64
}

// dirtyOffsets counts the offsets from the first dirty one to the end of
// the cleanable segments: an upper bound on the keys a clean maps.
func (p *cleanPlan) dirtyOffsets() int64 {
	var n int64
	for _, v := range p.cleanable {
		if v.next > p.firstDirty {
			n += v.next - max(v.base, p.firstDirty)
		}
	}
	return n
}

// planClean snapshots the log for a clean. It returns nil when the log is
// not compacted or has nothing cleanable.
func (l *Log) planClean(now time.Time) (*cleanPlan, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.failed != nil || !l.cfg.Compact || len(l.segments) < 2 {
		return nil, nil
	}
	if !l.cleaning.loaded {
		l.loadCleanerCheckpointLocked()
	}
	p := &cleanPlan{cfg: l.cfg, deleteHorizon: l.cleaning.deleteHorizon}
	for _, s := range l.segments {
		p.cleanable = append(p.cleanable, segmentView{
			s: s, cuts: s.cuts, base: s.baseOffset, next: s.nextOffset, size: s.size, maxTimestamp: s.maxTimestamp,
			offsetIndexEntries: len(s.ix.offsets), timeIndexEntries: len(s.ix.times),
		})
	}
	p.active, p.cleanable = p.cleanable[len(p.cleanable)-1], p.cleanable[:len(p.cleanable)-1]
	// Only what readers may see is cleaned; sealed segments are fsynced,
	// so this trims nothing unless a flush failed.
	for len(p.cleanable) > 0 && p.cleanable[len(p.cleanable)-1].next > l.readLimit {
		p.cleanable = p.cleanable[:len(p.cleanable)-1]
	}
	if len(p.cleanable) == 0 {
		return nil, nil
	}
	p.firstDirty = l.cleaning.firstDirtyOffset
	if p.firstDirty < l.logStartOffset || p.firstDirty > p.active.base {
		p.firstDirty = l.logStartOffset // no checkpoint, or the log was cut below it
	}
	p.firstUncleanable = p.active.base
	for _, v := range p.cleanable {
		if v.next <= p.firstDirty {
			continue
		}
		if l.cfg.MinCompactionLagMs > 0 && v.maxTimestamp > now.UnixMilli()-l.cfg.MinCompactionLagMs {
			p.firstUncleanable = v.base
			break
		}
	}
	return p, nil
}

// due decides whether the planned clean is worth its I/O, as Kafka's
// LogCleanerManager does.
func (p *cleanPlan) due(c *Cleaner, now time.Time) bool {
	var cleanBytes, dirtyBytes int64
	for _, v := range p.cleanable {
		switch {
		case v.next <= p.firstDirty:
			cleanBytes += v.size
		case v.base < p.firstUncleanable:
			dirtyBytes += v.size
		}
	}
	if dirtyBytes > 0 {
		ratio := float64(dirtyBytes) / float64(cleanBytes+dirtyBytes)
		if ratio > p.cfg.MinCleanableDirtyRatio || p.compactionLagExceeded(c, now) {
			return true
		}
	}
	return cleanBytes > 0 && now.UnixMilli() >= p.deleteHorizon
}

// compactionLagExceeded reports whether the first dirty batch is older than
// max.compaction.lag.ms, which forces a clean whatever the dirty ratio.
func (p *cleanPlan) compactionLagExceeded(c *Cleaner, now time.Time) bool {
	if p.cfg.MaxCompactionLagMs <= 0 || p.cfg.MaxCompactionLagMs == math.MaxInt64 {
		return false
	}
	for _, v := range p.cleanable {
		if v.next <= p.firstDirty || v.size == 0 {
			continue
		}
		var first record.Header
		var found bool
		err := v.s.scanHeaders(0, v.size, func(_ int64, h record.Header) bool {
			if h.LastOffset() >= p.firstDirty {
				first, found = h, true
				return false
			}
			return true
		})
		if err != nil || !found {
			c.logger.Warn("reading the first dirty batch", "segment", v.s.file.Name(), "err", err)
			return false
		}
		return first.BaseTimestamp >= 0 && now.UnixMilli()-first.BaseTimestamp > p.cfg.MaxCompactionLagMs
	}
	return false
}

// groups splits the cleanable segments holding offsets below end into
// runs that each fit one segment: at most segment.bytes of log and
// segment.index.bytes of either index before cleaning, and offsets within
// the 32-bit relative range. This keeps cleaned segments from multiplying
// as they shrink.
func (p *cleanPlan) groups(end int64) [][]segmentView {
	var groups [][]segmentView
	var size int64
	var offsetEntries, timeEntries int
	offsetEntriesMax, timeEntriesMax := p.cfg.IndexBytesMax/offsetEntryBytes, p.cfg.IndexBytesMax/timeEntryBytes
	for _, v := range p.cleanable {
		if v.base >= end {
			break
		}
		if n := len(groups); n > 0 {
			g := groups[n-1]
			if size+v.size <= p.cfg.SegmentBytes && size+v.size <= math.MaxInt32 &&
				offsetEntries+v.offsetIndexEntries <= offsetEntriesMax && timeEntries+v.timeIndexEntries <= timeEntriesMax &&
				v.next-1-g[0].base <= math.MaxInt32 {
				groups[n-1] = append(g, v)
				size += v.size
				offsetEntries += v.offsetIndexEntries
				timeEntries += v.timeIndexEntries
				continue
			}
		}
		groups = append(groups, []segmentView{v})
		size, offsetEntries, timeEntries = v.size, v.offsetIndexEntries, v.timeIndexEntries
	}
	return groups
}

// loadCleanerCheckpointLocked reads the checkpoint; a missing or unreadable
// one means everything is dirty and no tombstone horizon is known, so the
// next clean finds them again.
func (l *Log) loadCleanerCheckpointLocked() {
	l.cleaning.loaded = true
	l.cleaning.firstDirtyOffset, l.cleaning.deleteHorizon = 0, noHorizon
	b, err := vfs.ReadFile(l.fs, filepath.Join(l.dir, cleanerCheckpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	fields := strings.Fields(string(b))
	if err == nil && len(fields) != 2 {
		err = fmt.Errorf("%d fields, want 2", len(fields))
	}
	var dirty, horizon int64
	if err == nil {
		dirty, err = strconv.ParseInt(fields[0], 10, 64)
	}
	if err == nil {
		horizon, err = strconv.ParseInt(fields[1], 10, 64)
	}
	if err != nil {
		l.logger.Warn("ignoring unreadable cleaner checkpoint; the whole log is dirty", "dir", l.dir, "err", err)
		return
	}
	l.cleaning.firstDirtyOffset, l.cleaning.deleteHorizon = dirty, horizon
}

// saveCleanerCheckpoint records a finished clean, durably.
func (l *Log) saveCleanerCheckpoint(firstDirty, horizon int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	// A truncation while the clean ran (TruncateTo) made the active
	// segment start at or below the offsets it removed, which are dirty
	// again: the clean's end never passes the active segment otherwise.
	firstDirty = min(firstDirty, l.activeLocked().baseOffset)
	l.cleaning.firstDirtyOffset, l.cleaning.deleteHorizon = firstDirty, horizon
	return l.writeCleanerCheckpointLocked()
}

// writeCleanerCheckpointLocked writes the checkpoint in l.cleaning, durably.
func (l *Log) writeCleanerCheckpointLocked() error {
	data := fmt.Appendf(nil, "%d %d\n", l.cleaning.firstDirtyOffset, l.cleaning.deleteHorizon)
	if err := vfs.WriteFileSync(l.fs, filepath.Join(l.dir, cleanerCheckpointFile), data); err != nil {
		return fmt.Errorf("write cleaner checkpoint: %w", err)
	}
	return nil
}

// throttler holds the cleaner's I/O to bytesPerSecond on average.
type throttler struct {
	bytesPerSecond float64
	windowStart    time.Time
	windowBytes    float64
}

// wait accounts for n bytes of I/O and sleeps if they came too fast.
func (t *throttler) wait(n int) {
	if t.bytesPerSecond <= 0 {
		return
	}
	now := time.Now()
	if t.windowStart.IsZero() || now.Sub(t.windowStart) > time.Second {
		t.windowStart, t.windowBytes = now, 0
	}
	t.windowBytes += float64(n)
	ahead := time.Duration(t.windowBytes/t.bytesPerSecond*float64(time.Second)) - now.Sub(t.windowStart)
	if ahead > 0 {
		time.Sleep(ahead)
	}
}
