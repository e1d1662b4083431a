package log

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"
)

// TestReadSectionModel: sections over batches from tens of bytes to tens
// of kilobytes (so the header walk both reads runs of small headers in one
// chunk and reads a large batch's successor's header alone) hold exactly
// the batches a model of the log picks.
func TestReadSectionModel(t *testing.T) {
	cfg := relaxedConfig()
	cfg.SegmentBytes = 256 << 10
	l := mustOpen(t, t.TempDir(), cfg, OpenOptions{})
	rng := rand.New(rand.NewPCG(5, 6))
	var ws []written
	for i := range 120 {
		value := 20 + rng.IntN(200)
		if rng.IntN(3) == 0 {
			value = 5000 + rng.IntN(30000)
		}
		ws = append(ws, appendSpec(t, l, testBatch{Records: 1 + rng.IntN(3), ProducerID: -1, BaseSequence: -1, ValueBytes: value, Seed: uint64(i)}))
	}
	_, hw, _ := l.Offsets()
	bases := map[int64]bool{}
	for _, base := range segmentBases(t, l.Dir()) {
		bases[base] = true
	}
	if len(bases) < 3 {
		t.Fatalf("%d segments; the model wants reads that meet segment ends", len(bases))
	}
	for range 2000 {
		offset := rng.Int64N(hw)
		maxBytes := rng.IntN(120 << 10)
		minOne := rng.IntN(2) == 0
		sec, err := l.ReadSection(offset, maxBytes, minOne)
		if err != nil {
			t.Fatalf("ReadSection(%d, %d, %v): %v", offset, maxBytes, minOne, err)
		}
		got, err := sec.AppendTo(nil)
		sec.Release()
		if err != nil {
			t.Fatalf("AppendTo: %v", err)
		}
		if want := modelRead(ws, bases, offset, maxBytes, minOne); !bytes.Equal(got, want) {
			t.Fatalf("ReadSection(%d, %d, %v): %d bytes, want %d", offset, maxBytes, minOne, len(got), len(want))
		}
	}
}

// modelRead is what a read returns by Read's contract: whole batches from
// the one holding offset, at most maxBytes of them, the first whole anyway
// under minOne. Segments do not show: a read may cross into the next one
// only when it starts in a gap, which these logs do not have, so the
// model stops at a segment's end (bases holds the segments' base offsets)
// as the log does.
func modelRead(ws []written, bases map[int64]bool, offset int64, maxBytes int, minOne bool) []byte {
	i := 0
	for i < len(ws) && ws[i].next <= offset {
		i++
	}
	var out []byte
	for j := i; j < len(ws); j++ {
		if len(out)+len(ws[j].bytes) > maxBytes {
			if j == i && minOne {
				out = append(out, ws[j].bytes...)
			}
			break
		}
		out = append(out, ws[j].bytes...)
		if j+1 < len(ws) && bases[ws[j+1].base] {
			break
		}
	}
	return out
}

// TestSectionOutlivesClose: a Section held when the log closes still
// reads; its release closes the file.
func TestSectionOutlivesClose(t *testing.T) {
	l := mustOpen(t, t.TempDir(), relaxedConfig(), OpenOptions{})
	w := appendSpec(t, l, testBatch{Records: 3, ProducerID: -1, BaseSequence: -1, ValueBytes: 100})
	sec, err := l.ReadSection(0, 1<<20, false)
	if err != nil || sec.Len() != len(w.bytes) {
		t.Fatalf("ReadSection: %d bytes, %v", sec.Len(), err)
	}
	mustClose(t, l)
	if _, err := l.ReadSection(0, 1<<20, false); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadSection of a closed log: %v, want ErrClosed", err)
	}
	got, err := sec.AppendTo(nil)
	if err != nil || !bytes.Equal(got, w.bytes) {
		t.Fatalf("section read after close: %d bytes, %v", len(got), err)
	}
	f, _ := sec.File()
	sec.Release()
	if _, err := f.Stat(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("file after the last release: Stat error %v, want closed", err)
	}
}

// TestSectionCutShort: a section whose file was cut short meanwhile fails
// to read instead of returning part of a batch.
func TestSectionCutShort(t *testing.T) {
	l := mustOpen(t, t.TempDir(), relaxedConfig(), OpenOptions{})
	w := appendSpec(t, l, testBatch{Records: 3, ProducerID: -1, BaseSequence: -1, ValueBytes: 100})
	sec, err := l.ReadSection(0, 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	defer sec.Release()
	f, pos := sec.File()
	if err := f.Truncate(pos + int64(len(w.bytes)) - 1); err != nil {
		t.Fatal(err)
	}
	if b, err := sec.AppendTo(nil); !errors.Is(err, io.EOF) || len(b) != 0 {
		t.Fatalf("read of a section cut short: %d bytes, %v; want io.EOF", len(b), err)
	}
}

func TestSectionEmpty(t *testing.T) {
	l := mustOpen(t, t.TempDir(), DefaultConfig(), OpenOptions{})
	appendSpec(t, l, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1, ValueBytes: 10})
	// Appended but not durable: past the high watermark.
	sec, err := l.ReadSection(0, 1<<20, true)
	if err != nil || sec.Len() != 0 {
		t.Fatalf("ReadSection past the high watermark: %d bytes, %v", sec.Len(), err)
	}
	if f, _ := sec.File(); f != nil {
		t.Fatal("an empty section names a file")
	}
	sec.Release() // harmless
	if b, err := sec.AppendTo([]byte{}); err != nil || len(b) != 0 {
		t.Fatalf("empty section: %d bytes, %v", len(b), err)
	}
}

func TestSectionReleasedTwicePanics(t *testing.T) {
	l := mustOpen(t, t.TempDir(), relaxedConfig(), OpenOptions{})
	appendSpec(t, l, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1, ValueBytes: 10})
	sec, err := l.ReadSection(0, 1<<20, true)
	if err != nil || sec.Len() == 0 {
		t.Fatalf("ReadSection: %d bytes, %v", sec.Len(), err)
	}
	sec.Release()
	defer func() {
		if recover() == nil {
			t.Fatal("a second release did not panic")
		}
	}()
	sec.Release()
}

// BenchmarkReadSection is BenchmarkRead without the copy: what a fetch
// served by sendfile costs the log.
func BenchmarkReadSection(b *testing.B) {
	const readBytes = 1 << 20
	l, bases, batchBytes := benchReadLog(b)
	rng := rand.New(rand.NewPCG(1, 2))
	usable := bases[:len(bases)-readBytes/batchBytes]
	b.ReportAllocs()
	for b.Loop() {
		sec, err := l.ReadSection(usable[rng.IntN(len(usable))], readBytes, true)
		if err != nil || sec.Len() < readBytes-batchBytes {
			b.Fatalf("section of %d bytes, %v", sec.Len(), err)
		}
		sec.Release()
	}
}
