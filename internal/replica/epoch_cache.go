package replica

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/vfs"
)

// The leader epoch cache: for every leader epoch that appended to (or led)
// the partition, the first offset of that epoch. OffsetForLeaderEpoch
// answers from it, ListOffsets takes the epoch of an offset from it, and
// followers will find where their log diverges from the leader's with it
// (KIP-101, KIP-279). It is Kafka's LeaderEpochFileCache, and its file is
// Kafka's leader-epoch-checkpoint, in the partition directory:
//
//	0                  version
//	2                  number of entries
//	0 0                leaderEpoch startOffset, one entry a line,
//	3 120              both strictly increasing
//
// The file is derived data: it is checked against the batch headers on
// open and rebuilt from them when it does not fit the log.

// epochCheckpointFile is Kafka's name for the cache's file.
const epochCheckpointFile = "leader-epoch-checkpoint"

// epochCheckpointEntriesMax bounds the entries read from a checkpoint, so
// a corrupt count cannot make opening a partition allocate without bound;
// a partition sees one entry per leader change.
const epochCheckpointEntriesMax = 1 << 20

// noEpoch is Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET (-1).
const noEpoch = -1

// EpochEntry is one leader epoch and the first offset appended in it.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// assignEpoch adds e as Kafka's LeaderEpochFileCache.assign does: nothing
// when the latest entry already has e's epoch at an offset no larger;
// otherwise entries that would break monotonicity (an epoch >= e's, or a
// start offset >= e's) are dropped from the end and e is appended.
// changed reports whether entries moved.
func assignEpoch(entries []EpochEntry, e EpochEntry) (out []EpochEntry, changed bool) {
	if n := len(entries); n > 0 && entries[n-1].Epoch == e.Epoch && entries[n-1].StartOffset <= e.StartOffset {
		return entries, false
	}
	for n := len(entries); n > 0 && (entries[n-1].Epoch >= e.Epoch || entries[n-1].StartOffset >= e.StartOffset); n-- {
		entries = entries[:n-1]
	}
	return append(entries, e), true
}

// truncateEpochsFromEnd drops the entries starting at or after endOffset,
// as Kafka's truncateFromEnd does when the log is cut back to endOffset.
func truncateEpochsFromEnd(entries []EpochEntry, endOffset int64) []EpochEntry {
	n := len(entries)
	for n > 0 && endOffset >= 0 && entries[n-1].StartOffset >= endOffset {
		n--
	}
	return entries[:n]
}

// truncateEpochsFromStart drops the entries wholly below startOffset and
// moves the one covering it to start there, as Kafka's truncateFromStart
// does when the log start moves (retention, DeleteRecords).
func truncateEpochsFromStart(entries []EpochEntry, startOffset int64) []EpochEntry {
	i := 0
	for i < len(entries) && entries[i].StartOffset <= startOffset {
		i++
	}
	if i == 0 {
		return entries
	}
	kept := slices.Clone(entries[i-1:])
	kept[0].StartOffset = startOffset
	return kept
}

// endOffsetForEpoch is Kafka's LeaderEpochFileCache.endOffsetFor: the
// largest epoch <= requested and its end offset, the start of the next
// epoch, or logEnd when requested is the latest epoch. A requested epoch
// below every entry gets itself and the first entry's start (the log
// before it is gone); an undefined (-1) or unknown newer epoch gets -1, -1.
func endOffsetForEpoch(entries []EpochEntry, requested int32, logEnd int64) (epoch int32, endOffset int64) {
	n := len(entries)
	switch {
	case requested == noEpoch || n == 0:
		return noEpoch, noEpoch
	case entries[n-1].Epoch == requested:
		return requested, logEnd
	}
	// The first entry with a larger epoch.
	i := sort.Search(n, func(i int) bool { return entries[i].Epoch > requested })
	switch {
	case i == n:
		return noEpoch, noEpoch
	case i == 0:
		return requested, entries[0].StartOffset
	}
	return entries[i-1].Epoch, entries[i].StartOffset
}

// epochForOffset is Kafka's epochForOffset: the epoch of the last entry
// starting at or before offset, -1 when offset precedes every entry.
func epochForOffset(entries []EpochEntry, offset int64) int32 {
	// The first entry starting after offset.
	i := sort.Search(len(entries), func(i int) bool { return entries[i].StartOffset > offset })
	if i == 0 {
		return noEpoch
	}
	return entries[i-1].Epoch
}

// epochCache is a partition's leader epoch cache and its checkpoint file.
type epochCache struct {
	path   string
	fs     vfs.FS
	logger *slog.Logger

	// mu guards the fields below. It is held across checkpoint writes so
	// that files land in the order the cache changed; it is a leaf: no
	// other lock is taken and the log is never called while it is held.
	mu      sync.Mutex
	entries []EpochEntry // strictly increasing in Epoch and StartOffset
	// dirty is set when the file lags entries (a write failed); the
	// Manager's periodic Checkpoint retries it.
	dirty bool
	// latest is the last entry's epoch, -1 when empty, so the append path
	// decides with one load whether the cache must change.
	latest atomic.Int32
}

func newEpochCache(fs vfs.FS, dir string, logger *slog.Logger) *epochCache {
	c := &epochCache{path: filepath.Join(dir, epochCheckpointFile), fs: fs, logger: logger}
	c.latest.Store(noEpoch)
	return c
}

// latestEpoch returns the last entry's epoch, -1 when empty.
func (c *epochCache) latestEpoch() int32 { return c.latest.Load() }

// snapshot returns a copy of the entries.
func (c *epochCache) snapshot() []EpochEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.entries)
}

// assign adds an entry (see assignEpoch) and writes the file if the
// cache changed. A negative epoch or offset is a client-less batch or an
// unset epoch, and is never recorded.
func (c *epochCache) assign(epoch int32, startOffset int64) {
	if epoch < 0 || startOffset < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var changed bool
	if c.entries, changed = assignEpoch(c.entries, EpochEntry{epoch, startOffset}); changed {
		c.writeLocked()
	}
}

// truncateFromStart follows the log start to startOffset.
func (c *epochCache) truncateFromStart(startOffset int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == 0 || c.entries[0].StartOffset >= startOffset {
		return
	}
	c.entries = truncateEpochsFromStart(c.entries, startOffset)
	c.writeLocked()
}

// endOffsetFor answers OffsetForLeaderEpoch; see endOffsetForEpoch.
func (c *epochCache) endOffsetFor(requested int32, logEnd int64) (int32, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return endOffsetForEpoch(c.entries, requested, logEnd)
}

// epochFor returns the epoch offset was appended in; see epochForOffset.
func (c *epochCache) epochFor(offset int64) int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return epochForOffset(c.entries, offset)
}

// earliest returns the first entry, if any.
func (c *epochCache) earliest() (EpochEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == 0 {
		return EpochEntry{}, false
	}
	return c.entries[0], true
}

// flushIfDirty retries a checkpoint write that failed.
func (c *epochCache) flushIfDirty() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil
	}
	return c.writeLocked()
}

// writeLocked replaces the checkpoint file (write, fsync, rename, fsync
// the directory). A failure is logged and retried later: the file is
// derived data, checked against the log on open. REQUIRES: mu.
func (c *epochCache) writeLocked() error {
	c.setLatestLocked()
	err := vfs.WriteFileSync(c.fs, c.path, formatEpochCheckpoint(c.entries))
	c.dirty = err != nil
	if err != nil {
		c.logger.Warn("leader epoch checkpoint not written; retrying at the next checkpoint", "file", c.path, "err", err)
	}
	return err
}

// formatEpochCheckpoint writes entries in Kafka's checkpoint format.
func formatEpochCheckpoint(entries []EpochEntry) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(entries))
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return b.Bytes()
}

// errBadEpochCheckpoint wraps every reason a checkpoint file is refused.
var errBadEpochCheckpoint = errors.New("bad leader-epoch-checkpoint")

// parseEpochCheckpoint reads Kafka's checkpoint format, assigning the
// entries in order as Kafka's cache does on load. Negative values, a
// version other than 0 and a count that does not match are refused.
func parseEpochCheckpoint(b []byte) ([]EpochEntry, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return strings.TrimSpace(sc.Text()), true
	}
	if v, ok := line(); !ok || v != "0" {
		return nil, fmt.Errorf("%w: version %q, want 0", errBadEpochCheckpoint, v)
	}
	c, ok := line()
	n, err := strconv.Atoi(c)
	if !ok || err != nil || n < 0 || n > epochCheckpointEntriesMax {
		return nil, fmt.Errorf("%w: entry count %q", errBadEpochCheckpoint, c)
	}
	var entries []EpochEntry
	for i := 0; i < n; i++ {
		l, ok := line()
		f := strings.Fields(l)
		if !ok || len(f) != 2 {
			return nil, fmt.Errorf("%w: entry %d of %d is %q", errBadEpochCheckpoint, i+1, n, l)
		}
		epoch, err1 := strconv.ParseInt(f[0], 10, 32)
		start, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || epoch < 0 || start < 0 {
			return nil, fmt.Errorf("%w: entry %q", errBadEpochCheckpoint, l)
		}
		entries, _ = assignEpoch(entries, EpochEntry{int32(epoch), start})
	}
	if l, ok := line(); ok && l != "" {
		return nil, fmt.Errorf("%w: more than the %d entries counted", errBadEpochCheckpoint, n)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadEpochCheckpoint, err)
	}
	return entries, nil
}

// epochRun is a stretch of the log's batches appended in one epoch.
type epochRun struct {
	epoch int32
	first int64 // base offset of its first batch, clamped to the log start
	last  int64 // last offset of its last batch
}

// epochScan collects a log's epoch runs from its batch headers, in
// offset order, as a partition opens.
type epochScan struct {
	logStart int64
	runs     []epochRun
}

// observe takes one batch header. Batches wholly below the log start,
// without an epoch, or with an epoch older than one already seen are
// skipped, as Kafka's segment recovery assigns only growing epochs.
func (s *epochScan) observe(h record.Header) {
	e := h.PartitionLeaderEpoch
	if e < 0 || h.LastOffset() < s.logStart {
		return
	}
	base := max(h.BaseOffset, s.logStart)
	n := len(s.runs)
	switch {
	case n > 0 && s.runs[n-1].epoch == e:
		s.runs[n-1].last = h.LastOffset()
	case n == 0 || e > s.runs[n-1].epoch:
		s.runs = append(s.runs, epochRun{epoch: e, first: base, last: h.LastOffset()})
	}
}

// entries is the cache the runs alone give.
func (s *epochScan) entries() []EpochEntry {
	out := make([]EpochEntry, 0, len(s.runs))
	for _, r := range s.runs {
		out = append(out, EpochEntry{r.epoch, r.first})
	}
	return out
}

// reconcileEpochs fits a checkpoint to the log, as Kafka's log loading
// does: entries at or past the log end are dropped (a recovery cut, or
// an epoch started with no data), the one covering the log start is
// moved to it, and epochs the log holds beyond the checkpoint's latest
// are added (batches appended after the last write). ok is false when a
// run of batches disagrees with the checkpoint about its epoch: then the
// checkpoint is not the log's, and the caller rebuilds from the runs.
func reconcileEpochs(checkpoint []EpochEntry, scan *epochScan, logEnd int64) (entries []EpochEntry, ok bool) {
	entries = truncateEpochsFromEnd(slices.Clone(checkpoint), logEnd)
	entries = truncateEpochsFromStart(entries, scan.logStart)
	for _, r := range scan.runs {
		if n := len(entries); n == 0 || r.epoch > entries[n-1].Epoch {
			entries, _ = assignEpoch(entries, EpochEntry{r.epoch, r.first})
			continue
		}
		// Epochs grow with offsets, so both ends of the run agreeing
		// means every batch between agrees.
		if epochForOffset(entries, r.first) != r.epoch || epochForOffset(entries, r.last) != r.epoch {
			return nil, false
		}
	}
	return entries, true
}

// load reads the checkpoint and fits it to the log the scan saw; see
// reconcileEpochs. A missing file, an unreadable one or one that does not
// fit is replaced by what the log says, with a warning for the last two.
func (c *epochCache) load(scan *epochScan, logEnd int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := vfs.ReadFile(c.fs, c.path)
	var stored []EpochEntry
	if err == nil {
		stored, err = parseEpochCheckpoint(b)
	}
	var fits bool
	switch {
	case errors.Is(err, os.ErrNotExist):
		c.entries = scan.entries()
	case err != nil:
		c.logger.Warn("leader epoch checkpoint unreadable; rebuilt from the log's batches", "file", c.path, "err", err)
		c.entries = scan.entries()
	default:
		if c.entries, fits = reconcileEpochs(stored, scan, logEnd); !fits {
			c.logger.Warn("leader epoch checkpoint does not match the log's batches; rebuilt from them",
				"file", c.path, "checkpoint", stored, "log", scan.entries())
			c.entries = scan.entries()
		}
	}
	if !fits || !slices.Equal(c.entries, stored) {
		c.writeLocked()
		return
	}
	c.setLatestLocked()
}

// setLatestLocked publishes the last entry's epoch. REQUIRES: mu.
func (c *epochCache) setLatestLocked() {
	latest := int32(noEpoch)
	if n := len(c.entries); n > 0 {
		latest = c.entries[n-1].Epoch
	}
	c.latest.Store(latest)
}
