package log

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/internal/record"
)

// corpus is a closed log written by a test, with what the test knows of
// it from its own records: every batch, and where each lies on disk.
type corpus struct {
	dir    string
	cfg    Config
	bases  []int64
	placed []placed
}

// writeCorpus writes n batches of mixed sizes and codecs into a new log
// with small segments, closes it, and checks the files hold exactly what
// was appended.
func writeCorpus(tb testing.TB, dir string, n int, cfg Config) corpus {
	tb.Helper()
	l := mustOpen(tb, dir, cfg, OpenOptions{})
	rng := rand.New(rand.NewPCG(17, 18))
	codecs := []record.Codec{record.CodecNone, record.CodecNone, record.CodecNone, record.CodecLZ4, record.CodecZstd}
	var ws []written
	for i := range n {
		_, _, leo := l.Offsets()
		ws = append(ws, appendSpec(tb, l, testBatch{
			Records:       1 + rng.IntN(10),
			BaseTimestamp: 1_000_000 + leo,
			ProducerID:    int64(i % 3),
			BaseSequence:  int32(i),
			Codec:         codecs[i%len(codecs)],
			ValueBytes:    10 + rng.IntN(140),
			Seed:          uint64(i),
		}))
	}
	if err := l.Sync(); err != nil {
		tb.Fatal(err)
	}
	mustClose(tb, l)
	c := corpus{dir: dir, cfg: cfg, bases: segmentBases(tb, dir)}
	c.placed = placeBatches(tb, c.bases, ws)
	checkFilesHold(tb, dir, c.placed)
	return c
}

// inSegment returns the batches placed in the segment with base offset
// base, in order.
func (c corpus) inSegment(base int64) []placed {
	var out []placed
	for _, p := range c.placed {
		if p.segment == base {
			out = append(out, p)
		}
	}
	return out
}

// survivors returns the batches that must survive damage in the segment
// with base offset base starting at byte damageAt: every batch of earlier
// segments and every batch of that segment that ends at or before
// damageAt. Later segments are lost.
func (c corpus) survivors(base, damageAt int64) []placed {
	var out []placed
	for _, p := range c.placed {
		if p.segment < base || (p.segment == base && p.position+int64(len(p.bytes)) <= damageAt) {
			out = append(out, p)
		}
	}
	return out
}

// segmentEnd is the log end offset a log cut after survivors has: the end
// of the last survivor, or the damaged segment's base offset if none of
// its batches survived.
func segmentEnd(survivors []placed, damagedBase int64) int64 {
	if n := len(survivors); n > 0 && survivors[n-1].segment == damagedBase {
		return survivors[n-1].next
	}
	return damagedBase
}

// checkRecovered opens a damaged copy with full recovery and checks the
// outcome against the model: the log ends at the last intact batch, every
// survivor reads back byte for byte, the damaged segment's file is cut
// there, later segments are gone, and appends continue at the new end and
// survive a clean reopen.
func checkRecovered(t *testing.T, c corpus, dir string, damagedBase int64, survivors []placed) {
	t.Helper()
	l, err := Open(dir, c.cfg, OpenOptions{RecoveryPoint: -1, Logger: quietLogger})
	if err != nil {
		t.Fatalf("open after damage: %v", err)
	}
	defer l.Close()
	wantEnd := segmentEnd(survivors, damagedBase)
	if start, hw, leo := l.Offsets(); start != c.bases[0] || hw != wantEnd || leo != wantEnd {
		t.Fatalf("recovered offsets %d/%d/%d, want %d/%d/%d", start, hw, leo, c.bases[0], wantEnd, wantEnd)
	}
	var ws []written
	var cut int64
	for _, p := range survivors {
		ws = append(ws, p.written)
		if p.segment == damagedBase {
			cut = p.position + int64(len(p.bytes))
		}
	}
	if len(ws) > 0 {
		checkReadsBack(t, l, ws)
	}
	if got, err := l.Read(wantEnd, 1<<20, true); err != nil || got != nil {
		t.Fatalf("read at the recovered end: %d bytes, %v", len(got), err)
	}
	if _, err := l.Read(wantEnd+1, 1<<20, true); !isOutOfRange(err) {
		t.Fatalf("read past the recovered end: %v, want ErrOffsetOutOfRange", err)
	}

	wantBases := slices.DeleteFunc(slices.Clone(c.bases), func(b int64) bool { return b > damagedBase })
	if bases := segmentBases(t, dir); !slices.Equal(bases, wantBases) {
		t.Fatalf("segments after recovery %v, want %v", bases, wantBases)
	}
	for _, base := range wantBases {
		for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
			if _, err := os.Stat(filepath.Join(dir, segmentName(base)+suffix)); err != nil {
				t.Fatalf("segment %d lost its %s: %v", base, suffix, err)
			}
		}
	}
	if st, err := os.Stat(filepath.Join(dir, segmentName(damagedBase)+logSuffix)); err != nil || st.Size() != cut {
		t.Fatalf("damaged segment file: %v, size want %d", err, cut)
	}
	for _, base := range c.bases[len(wantBases):] {
		for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			if _, err := os.Stat(filepath.Join(dir, segmentName(base)+suffix)); !os.IsNotExist(err) {
				t.Fatalf("segment %d after the cut: %s still there (%v)", base, suffix, err)
			}
		}
	}

	w := appendSpec(t, l, testBatch{Records: 3, ProducerID: -1, BaseSequence: -1, ValueBytes: 20, Seed: 1 << 40})
	if w.base != wantEnd {
		t.Fatalf("append after recovery at %d, want %d", w.base, wantEnd)
	}
	if err := l.WaitDurable(w.next); err != nil {
		t.Fatal(err)
	}
	ws = append(ws, w)
	checkReadsBack(t, l, ws)
	mustClose(t, l)

	l = mustOpen(t, dir, c.cfg, OpenOptions{Clean: true})
	if _, _, leo := l.Offsets(); leo != w.next {
		t.Fatalf("clean reopen after recovery: log end %d, want %d", leo, w.next)
	}
	checkReadsBack(t, l, ws)
	mustClose(t, l)
}

// outsideCRC reports whether byte i of a batch lies in baseOffset or
// partitionLeaderEpoch, the two fields the leader rewrites and the CRC
// does not cover: no check can see a flip there (Kafka cannot either), so
// the random flips avoid them and TestRecoverBaseOffsetJump looks at
// baseOffset on its own.
func outsideCRC(i int64) bool { return i < 8 || (i >= 12 && i < 16) }

// flipTail flips k distinct random bits in the last tailBytes of the
// segment, outside the uncovered header fields, and returns the position
// of the first damaged byte.
func flipTail(t *testing.T, rng *rand.Rand, path string, batches []placed, k int, tailBytes int64) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	from := max(0, int64(len(b))-tailBytes)
	starts := map[int64]int64{} // byte position -> start of its batch
	for _, p := range batches {
		for i := range int64(len(p.bytes)) {
			starts[p.position+i] = p.position
		}
	}
	flipped := map[int64]bool{}
	first := int64(len(b))
	for len(flipped) < k {
		bit := from*8 + rng.Int64N((int64(len(b))-from)*8)
		pos := bit / 8
		if flipped[bit] || outsideCRC(pos-starts[pos]) {
			continue
		}
		flipped[bit] = true
		b[pos] ^= 1 << (bit % 8)
		first = min(first, pos)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return first
}

// TestRecoverCorruptTail damages the last segment of a copy of one log in
// many ways, one seed each: cut at a random byte (a torn write), or a few
// random bits flipped in the last 4 KiB (a bad sector). Recovery must cut
// the log exactly at the last batch that is intact before the damage.
func TestRecoverCorruptTail(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 24 << 10
	cfg.IndexIntervalBytes = 1024
	c := writeCorpus(t, filepath.Join(t.TempDir(), "template"), 300, cfg)
	if len(c.bases) < 4 {
		t.Fatalf("want several segments, have %v", c.bases)
	}
	last := c.bases[len(c.bases)-1]
	batches := c.inSegment(last)
	var size int64
	for _, p := range batches {
		size += int64(len(p.bytes))
	}
	seeds := 200
	if testing.Short() {
		seeds = 40
	}
	root := t.TempDir()
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 19))
		dir := filepath.Join(root, fmt.Sprint(seed))
		copyDir(t, c.dir, dir)
		path := filepath.Join(dir, segmentName(last)+logSuffix)
		var damageAt int64
		var how string
		if seed%2 == 0 {
			damageAt = rng.Int64N(size + 1)
			how = fmt.Sprintf("cut at byte %d of %d", damageAt, size)
			if err := os.Truncate(path, damageAt); err != nil {
				t.Fatal(err)
			}
		} else {
			k := 1 + rng.IntN(4)
			damageAt = flipTail(t, rng, path, batches, k, 4096)
			how = fmt.Sprintf("%d bits flipped from byte %d of %d", k, damageAt, size)
		}
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("%s", how)
			checkRecovered(t, c, dir, last, c.survivors(last, damageAt))
		})
		os.RemoveAll(dir)
	}
}

// TestRecoverCorruptMiddleSegment damages a segment before the last one.
// Nothing after the damage can be trusted: the log is cut there and the
// later segments are removed.
func TestRecoverCorruptMiddleSegment(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 8 << 10
	cfg.IndexIntervalBytes = 512
	c := writeCorpus(t, filepath.Join(t.TempDir(), "template"), 80, cfg)
	if len(c.bases) < 4 {
		t.Fatalf("want at least 4 segments, have %v", c.bases)
	}
	middle := c.bases[1]
	batches := c.inSegment(middle)
	second := batches[1].position
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string) int64
	}{
		{"torn inside a batch", func(t *testing.T, path string) int64 {
			at := second + int64(len(batches[1].bytes))/2
			if err := os.Truncate(path, at); err != nil {
				t.Fatal(err)
			}
			return at
		}},
		{"crc flipped", func(t *testing.T, path string) int64 {
			return flipByte(t, path, second+17)
		}},
		{"record byte flipped", func(t *testing.T, path string) int64 {
			return flipByte(t, path, second+record.HeaderSize+3)
		}},
		{"length grown past the file", func(t *testing.T, path string) int64 {
			return flipByte(t, path, second+9)
		}},
		{"magic flipped", func(t *testing.T, path string) int64 {
			return flipByte(t, path, second+16)
		}},
		{"first batch of the segment", func(t *testing.T, path string) int64 {
			return flipByte(t, path, 30)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, c.dir, dir)
			damageAt := tc.damage(t, filepath.Join(dir, segmentName(middle)+logSuffix))
			checkRecovered(t, c, dir, middle, c.survivors(middle, damageAt))
		})
	}
}

// TestRecoverMiddleSegmentEndingShort loses the tail of a middle segment
// at a batch boundary, or all of it. Every batch left is intact, but the
// segment now ends before the next one begins: the offsets in between are
// gone. The later segments were fsynced and are intact, so recovery keeps
// them behind the hole rather than deleting acknowledged records, as Kafka
// keeps offset gaps (compaction makes them too). Reads must step over the
// hole: a read inside it, below the high watermark, returns the next
// batch, never nothing (which would stall a consumer for good).
func TestRecoverMiddleSegmentEndingShort(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 8 << 10
	cfg.IndexIntervalBytes = 512
	c := writeCorpus(t, filepath.Join(t.TempDir(), "template"), 80, cfg)
	middle := c.bases[1]
	batches := c.inSegment(middle)
	for _, at := range []int64{batches[len(batches)/2].position, 0} {
		t.Run(fmt.Sprintf("cut at %d", at), func(t *testing.T) {
			damaged := func() string {
				dir := t.TempDir()
				copyDir(t, c.dir, dir)
				if err := os.Truncate(filepath.Join(dir, segmentName(middle)+logSuffix), at); err != nil {
					t.Fatal(err)
				}
				return dir
			}
			t.Run("reads below the high watermark return data", func(t *testing.T) {
				l := mustOpen(t, damaged(), cfg, OpenOptions{RecoveryPoint: -1})
				readAllBatches(t, l, 0, 1<<20)
			})
			l := mustOpen(t, damaged(), cfg, OpenOptions{RecoveryPoint: -1})
			defer l.Close()
			last := c.placed[len(c.placed)-1]
			if _, hw, leo := l.Offsets(); hw != last.next || leo != last.next {
				t.Fatalf("recovered high watermark %d and log end %d, want both %d: later segments were dropped", hw, leo, last.next)
			}
			var holeStart int64 = middle
			for _, p := range c.inSegment(middle) {
				if p.position < at {
					holeStart = p.next
				}
			}
			got := readAllBatches(t, l, holeStart, 1<<20)
			if len(got) == 0 {
				t.Fatal("nothing read from the hole on")
			}
			h, _ := record.ParseHeader(got[0])
			if h.BaseOffset != c.bases[2] {
				t.Fatalf("read in the hole at %d returned batch %d, want the next segment's first at %d", holeStart, h.BaseOffset, c.bases[2])
			}
		})
	}
}

// TestRecoverWholeBatchesAtTheTail appends whole, CRC-valid batches to the
// active segment behind the log's back, as a crash after the write but
// before the acknowledgement leaves them. A batch that continues the
// offsets is kept (Kafka keeps it too); one whose offsets go back over
// batches already in the log is corrupt, and the log is cut before it.
func TestRecoverWholeBatchesAtTheTail(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 4 << 10
	c := writeCorpus(t, filepath.Join(t.TempDir(), "template"), 20, cfg)
	last := c.placed[len(c.placed)-1]
	at := func(offset int64, seed uint64) written {
		batch := newBatch(t, testBatch{Records: 2, ProducerID: -1, BaseSequence: -1, ValueBytes: 30, Seed: seed})
		binary.BigEndian.PutUint64(batch, uint64(offset))
		return written{base: offset, next: offset + 2, bytes: batch, timestamps: []int64{0, 1}}
	}
	next := at(last.next, 1)
	for _, tc := range []struct {
		name string
		tail []written
		kept int // how many of tail survive
	}{
		{"continuing batch", []written{next}, 1},
		{"two continuing batches", []written{next, at(next.next, 2)}, 2},
		{"copy of the last batch", []written{{base: last.base, next: last.next, bytes: last.bytes}}, 0},
		{"batch going back one offset", []written{at(last.next-1, 3)}, 0},
		{"continuing batch, then one going back", []written{next, at(next.base, 4)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, c.dir, dir)
			fh, err := os.OpenFile(filepath.Join(dir, segmentName(last.segment)+logSuffix), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.tail {
				if _, err := fh.Write(w.bytes); err != nil {
					t.Fatal(err)
				}
			}
			fh.Close()
			l, err := openRecovering(t, dir, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			var want []written
			for _, p := range c.placed {
				want = append(want, p.written)
			}
			want = append(want, tc.tail[:tc.kept]...)
			if _, hw, leo := l.Offsets(); hw != want[len(want)-1].next || leo != hw {
				t.Fatalf("recovered hw %d leo %d, want %d", hw, leo, want[len(want)-1].next)
			}
			checkReadsBack(t, l, want)
		})
	}
}

// flipByte inverts one byte of a file and returns its position.
func flipByte(t *testing.T, path string, at int64) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
	return at
}

// TestRecoverFromRecoveryPoint opens with a recovery point: segments that
// lie wholly below it are trusted and loaded from their indexes, the rest
// are scanned, and damage there is cut as with a full recovery.
func TestRecoverFromRecoveryPoint(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 8 << 10
	cfg.IndexIntervalBytes = 512
	c := writeCorpus(t, filepath.Join(t.TempDir(), "template"), 80, cfg)
	last := c.bases[len(c.bases)-1]
	batches := c.inSegment(last)
	for _, rp := range []int64{0, c.bases[1], last, batches[len(batches)-1].next} {
		t.Run(fmt.Sprintf("recoveryPoint=%d", rp), func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, c.dir, dir)
			at := batches[len(batches)-1].position + 40
			if err := os.Truncate(filepath.Join(dir, segmentName(last)+logSuffix), at); err != nil {
				t.Fatal(err)
			}
			l := mustOpen(t, dir, cfg, OpenOptions{RecoveryPoint: rp})
			survivors := c.survivors(last, at)
			want := segmentEnd(survivors, last)
			if _, hw, leo := l.Offsets(); hw != want || leo != want {
				t.Fatalf("hw %d leo %d, want %d", hw, leo, want)
			}
			var ws []written
			for _, p := range survivors {
				ws = append(ws, p.written)
			}
			checkReadsBack(t, l, ws)
			checkTimestampLookups(t, l, ws)
		})
	}
}

// TestRecoverBaseOffsetJump flips a high bit of the baseOffset of the last
// batch. baseOffset is outside the CRC, so the batch still checks out, and
// the offsets it now claims lie more than 2^32 past its segment's base:
// they cannot be stored in the segment's 32-bit relative offsets. Recovery
// must treat the batch as corrupt and cut before it; it must never panic.
func TestRecoverBaseOffsetJump(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 1 // index every batch after the first
	c := writeCorpus(t, filepath.Join(t.TempDir(), "template"), 5, cfg)
	last := c.placed[len(c.placed)-1]
	dir := t.TempDir()
	copyDir(t, c.dir, dir)
	path := filepath.Join(dir, segmentName(last.segment)+logSuffix)
	flipBit(t, path, last.position+2, 0) // adds 2^40 to the big-endian baseOffset

	l, err := openRecovering(t, dir, cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer l.Close()
	if _, _, leo := l.Offsets(); leo != last.base {
		t.Fatalf("log end %d, want the cut at %d", leo, last.base)
	}
}

// openRecovering opens dir with full recovery and turns a panic into a
// test failure, so that one bad case does not abort the whole package's
// tests.
func openRecovering(t *testing.T, dir string, cfg Config) (l *Log, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("Open panicked: %v", p)
		}
	}()
	return Open(dir, cfg, OpenOptions{RecoveryPoint: -1, Logger: quietLogger})
}

// flipBit inverts bit (0 = least significant) of byte at of a file.
func flipBit(t *testing.T, path string, at int64, bit uint) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 1 << bit
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRecoverBoundsAllocation puts a batch header at the end of the active
// segment whose batchLength claims almost 1 GiB. The segment holds a few
// KiB, so recovery needs a few KiB: reading a batch must be bounded by the
// bytes left in the file, not only by batchBytesMax.
func TestRecoverBoundsAllocation(t *testing.T) {
	cfg := DefaultConfig()
	c := writeCorpus(t, filepath.Join(t.TempDir(), "template"), 10, cfg)
	dir := t.TempDir()
	copyDir(t, c.dir, dir)
	last := c.bases[len(c.bases)-1]
	header := make([]byte, record.HeaderSize)
	binary.BigEndian.PutUint64(header, uint64(c.placed[len(c.placed)-1].next))
	binary.BigEndian.PutUint32(header[8:], batchBytesMax-12)
	header[16] = record.Magic
	f, err := os.OpenFile(filepath.Join(dir, segmentName(last)+logSuffix), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(header); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l := mustOpen(t, dir, cfg, OpenOptions{RecoveryPoint: -1})
	runtime.ReadMemStats(&after)
	if _, _, leo := l.Offsets(); leo != c.placed[len(c.placed)-1].next {
		t.Fatalf("log end %d, want %d", leo, c.placed[len(c.placed)-1].next)
	}
	const allocatedBytesMax = 16 << 20
	if n := after.TotalAlloc - before.TotalAlloc; n > allocatedBytesMax {
		t.Fatalf("recovering a log of %d bytes (a %d-byte torn header at the end) allocated %d MiB", l.Size()+int64(len(header)), len(header), n>>20)
	}
}

// FuzzRecover appends arbitrary bytes after the valid batches of the
// active segment, as a crash in the middle of writes might leave them.
// Open must neither panic nor fail, must keep every valid batch byte for
// byte, and appends must continue at the recovered end.
func FuzzRecover(f *testing.F) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 4 << 10
	cfg.IndexIntervalBytes = 256
	cfg.FlushMessages = 1 << 40 // no fsync per iteration
	c := writeCorpus(f, filepath.Join(f.TempDir(), "template"), 20, cfg)
	last := c.bases[len(c.bases)-1]
	lastBatch := c.placed[len(c.placed)-1]

	next := newBatch(f, testBatch{Records: 2, ProducerID: -1, BaseSequence: -1, ValueBytes: 30})
	binary.BigEndian.PutUint64(next, uint64(lastBatch.next))
	overlapping := bytes.Clone(next)
	binary.BigEndian.PutUint64(overlapping, uint64(lastBatch.base))
	hugeLength := bytes.Clone(next[:record.HeaderSize])
	binary.BigEndian.PutUint32(hugeLength[8:], 1<<20)
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add(next)                               // a valid next batch: kept
	f.Add(next[:len(next)-1])                 // torn
	f.Add(next[:record.HeaderSize-1])         // torn header
	f.Add(overlapping)                        // offsets that go back
	f.Add(hugeLength)                         // length past the file
	f.Add(append(bytes.Clone(next), next...)) // the same batch twice
	f.Add(bytes.Repeat([]byte{0xff}, 100))
	f.Add(lastBatch.bytes) // a copy of the last batch, offsets overlapping

	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		copyDir(t, c.dir, dir)
		path := filepath.Join(dir, segmentName(last)+logSuffix)
		fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.Write(tail); err != nil {
			t.Fatal(err)
		}
		fh.Close()

		l, err := openRecovering(t, dir, cfg)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer l.Close()
		start, hw, leo := l.Offsets()
		if start != 0 || hw != leo || leo < lastBatch.next {
			t.Fatalf("offsets %d/%d/%d, want 0 and at least %d", start, hw, leo, lastBatch.next)
		}
		got := readAllBatches(t, l, 0, 1<<20)
		if len(got) < len(c.placed) {
			t.Fatalf("read back %d batches, want at least the %d valid ones", len(got), len(c.placed))
		}
		for i, p := range c.placed {
			if !bytes.Equal(got[i], p.bytes) {
				t.Fatalf("valid batch %d (offset %d) reads back different bytes", i, p.base)
			}
		}

		w := appendSpec(t, l, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1, ValueBytes: 5})
		if w.base != leo {
			t.Fatalf("append after recovery at %d, want %d", w.base, leo)
		}
		b, err := l.Read(w.base, 1<<20, true)
		if err != nil || !bytes.Equal(b, w.bytes) {
			t.Fatalf("appended batch reads back as %d bytes, %v", len(b), err)
		}
	})
}
