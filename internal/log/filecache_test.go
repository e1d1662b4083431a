package log

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/record"
)

// coldLog opens a log of about n small segments through a file cache of
// filesMax idle files, one 100-byte record per batch, five batches a
// segment.
func coldLog(t *testing.T, dir string, files *FileCache, n int) (*Log, []written) {
	t.Helper()
	cfg := relaxedConfig()
	cfg.SegmentBytes = 5 * 200
	cfg.SegmentDeleteDelay = 0
	l := mustOpen(t, dir, cfg, OpenOptions{Files: files})
	var ws []written
	for i := 0; segmentCount(l) < n; i++ {
		ws = append(ws, appendSpec(t, l, testBatch{Records: 1, BaseTimestamp: int64(i),
			ProducerID: -1, BaseSequence: -1, ValueBytes: 100, Seed: uint64(i)}))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	return l, ws
}

// checkOpenAtMost fails when the cache holds more than want files open.
func checkOpenAtMost(t *testing.T, files *FileCache, want int) {
	t.Helper()
	if st := files.Stats(); st.OpenFiles > want {
		t.Fatalf("%d files open, want at most %d (%+v)", st.OpenFiles, want, st)
	}
}

// TestFileCacheBoundsOpenFiles: 100 segments through a cache of 2 files
// read back whole, from a fresh open and from a log that wrote them, and
// the files open stay at the active segment's three pinned ones.
func TestFileCacheBoundsOpenFiles(t *testing.T) {
	files := NewFileCache(2)
	dir := t.TempDir()
	l, ws := coldLog(t, dir, files, 100)
	checkOpenAtMost(t, files, 3)
	checkReadsBack(t, l, ws)
	checkOpenAtMost(t, files, 3)
	mustClose(t, l)
	if st := files.Stats(); st.OpenFiles != 0 {
		t.Fatalf("%d files open after close", st.OpenFiles)
	}

	before := files.Stats()
	l = mustOpen(t, dir, relaxedConfig(), OpenOptions{Clean: true, Files: files})
	checkOpenAtMost(t, files, 3)
	checkReadsBack(t, l, ws)
	checkOpenAtMost(t, files, 3)
	st := files.Stats()
	if st.Misses-before.Misses < 99 || st.Evictions-before.Evictions < 97 {
		t.Fatalf("reading 100 segments through 2 files opened %d and evicted %d", st.Misses-before.Misses, st.Evictions-before.Evictions)
	}
	mustClose(t, l)
	checkOpenAtMost(t, files, 0)
}

// TestFileCacheSectionSurvivesEviction: a Section of a cold segment,
// taken and then held while reads of every other segment evict everything
// idle, still reads the same bytes, through sendfile's *os.File and by
// copying; its file closes on release.
func TestFileCacheSectionSurvivesEviction(t *testing.T) {
	files := NewFileCache(2)
	l, ws := coldLog(t, t.TempDir(), files, 50)
	sec, err := l.ReadSection(ws[0].base, len(ws[0].bytes), true)
	if err != nil || sec.Len() != len(ws[0].bytes) {
		t.Fatalf("section of the first batch: %d bytes, %v", sec.Len(), err)
	}
	checkReadsBack(t, l, ws) // evicts every idle file, many times over
	checkOpenAtMost(t, files, 4)
	f, pos := sec.File()
	if f == nil {
		t.Fatal("no *os.File for a held section")
	}
	got := make([]byte, sec.Len())
	if _, err := f.ReadAt(got, pos); err != nil || !bytes.Equal(got, ws[0].bytes) {
		t.Fatalf("sendfile-style read of a held section: %v, same bytes %v", err, bytes.Equal(got, ws[0].bytes))
	}
	b, err := sec.AppendTo(nil)
	if err != nil || !bytes.Equal(b, ws[0].bytes) {
		t.Fatalf("copy of a held section: %v", err)
	}
	sec.Release()
	checkReadsBack(t, l, ws[1:])
	checkOpenAtMost(t, files, 3)
}

// TestFileCacheRetentionTruncationCompaction: segments whose files were
// evicted are deleted by retention, cut by truncation and replaced by
// compaction, and the log reads back what it should: no stale handle or
// path stays behind.
func TestFileCacheRetentionTruncationCompaction(t *testing.T) {
	files := NewFileCache(2)
	l, ws := coldLog(t, t.TempDir(), files, 30)
	checkReadsBack(t, l, ws)

	// Retention: keep the last ~10 segments.
	l.mu.Lock()
	l.cfg.RetentionMs, l.cfg.RetentionBytes = -1, 10*1000
	l.mu.Unlock()
	if n, err := l.ApplyRetention(time.Now()); err != nil || n == 0 {
		t.Fatalf("retention deleted %d segments: %v", n, err)
	}
	start, _, _ := l.Offsets()
	i := 0
	for ws[i].base < start {
		i++
	}
	ws = ws[i:]
	checkReadsBack(t, l, ws)

	// Truncation into a cold segment: it becomes active, is pinned again
	// and takes appends.
	cut := ws[len(ws)/2].base
	if err := l.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	ws = ws[:len(ws)/2]
	ws = append(ws, appendSpec(t, l, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1, ValueBytes: 100, Seed: 999}))
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	checkReadsBack(t, l, ws)
	checkOpenAtMost(t, files, 3)
	mustClose(t, l)
	checkOpenAtMost(t, files, 0)
}

// TestFileCacheCompaction: compaction swaps cleaned segments for ones
// whose files the cache evicted, and the compacted log reads back whole.
func TestFileCacheCompaction(t *testing.T) {
	files := NewFileCache(2)
	dir := t.TempDir()
	l := mustOpen(t, dir, compactConfig(), OpenOptions{Files: files})
	ts := cleanNow.UnixMilli() - 100_000
	writeUpdates(t, l, record.CodecNone, 2000, 100, 10, 0, ts)
	rollPast(t, l, ts)
	before := flatten(readLog(t, l))
	mustClean(t, testCleaner(), l, cleanNow)
	after := flatten(readLog(t, l))
	checkSameLatest(t, after, before)
	checkCompacted(t, after, activeBase(l))
	checkOpenAtMost(t, files, 3)
	mustClose(t, l)
	checkOpenAtMost(t, files, 0)
}

// TestFileCacheConcurrentReads: readers at random offsets, sections held
// across evictions, and appends rolling segments, all at once through a
// cache of 2 files (run with -race).
func TestFileCacheConcurrentReads(t *testing.T) {
	files := NewFileCache(2)
	l, ws := coldLog(t, t.TempDir(), files, 40)
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for range 300 {
				w := ws[rng.IntN(len(ws))]
				sec, err := l.ReadSection(w.base, len(w.bytes), true)
				if err != nil {
					t.Errorf("read at %d: %v", w.base, err)
					return
				}
				b, err := sec.AppendTo(nil)
				sec.Release()
				if err != nil || !bytes.Equal(b, w.bytes) {
					t.Errorf("read at %d: %v, same bytes %v", w.base, err, bytes.Equal(b, w.bytes))
					return
				}
			}
		}()
	}
	for i := range 100 {
		appendSpec(t, l, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1, ValueBytes: 100, Seed: uint64(1000 + i)})
	}
	wg.Wait()
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	checkOpenAtMost(t, files, 0)
}
