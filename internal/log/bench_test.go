package log

import (
	"math/rand/v2"
	"testing"

	"github.com/sluice-dev/sluice/internal/record"
)

// benchRecords is how many 100-byte records fill a batch of about 16 KiB.
const benchRecords = 145

// benchBatch returns a batch of about 16 KiB of 100-byte records and its
// header.
func benchBatch(b *testing.B, seed uint64) ([]byte, record.Header) {
	b.Helper()
	batch := newBatch(b, testBatch{Records: benchRecords, ProducerID: -1, BaseSequence: -1, ValueBytes: 100, Seed: seed})
	h, err := record.Validate(batch)
	if err != nil {
		b.Fatal(err)
	}
	return batch, h
}

// BenchmarkAppend appends 16 KiB batches with relaxed flushing: the cost
// of the append path itself (page cache writes, indexing), no fsync.
func BenchmarkAppend(b *testing.B) {
	l, err := Open(b.TempDir(), relaxedConfig(), OpenOptions{Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	batch, h := benchBatch(b, 1)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.Append(batch, h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendDurable appends batches and waits for each to be
// fsynced, as acks=1/all produce does by default. "serial" has one
// producer, so every batch pays a whole fsync; "parallel" has 32 per CPU,
// whose waits share fsyncs (group commit), so throughput grows with the
// number of producers while each still gets a durable acknowledgement.
// The 16KiB batches are 145 records of 100 bytes; the 1-record batches
// show the fsync rate itself, without the disk's bandwidth in the way.
func BenchmarkAppendDurable(b *testing.B) {
	for _, size := range []struct {
		name    string
		records int
	}{{"16KiB", benchRecords}, {"1record", 1}} {
		b.Run(size.name+"/serial", func(b *testing.B) {
			benchmarkDurable(b, size.records, 1, false)
		})
		b.Run(size.name+"/parallel", func(b *testing.B) {
			benchmarkDurable(b, size.records, 32, true)
		})
	}
}

func benchmarkDurable(b *testing.B, records, parallelism int, parallel bool) {
	l, err := Open(b.TempDir(), DefaultConfig(), OpenOptions{Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	template := newBatch(b, testBatch{Records: records, ProducerID: -1, BaseSequence: -1, ValueBytes: 100})
	h, err := record.Validate(template)
	if err != nil {
		b.Fatal(err)
	}
	produce := func(batch []byte) error {
		base, err := l.Append(batch, h)
		if err != nil {
			return err
		}
		return l.WaitDurable(base + int64(records))
	}
	b.SetBytes(int64(len(template)))
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		for b.Loop() {
			if err := produce(template); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(parallelism)
	b.RunParallel(func(pb *testing.PB) {
		batch := append([]byte(nil), template...) // Append stamps baseOffset in place
		for pb.Next() {
			if err := produce(batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRead reads 1 MiB at random batch boundaries of a warm 64 MiB
// log, as a fetch does (minus the network).
func BenchmarkRead(b *testing.B) {
	const readBytes = 1 << 20
	l, bases, batchBytes := benchReadLog(b)
	// Warm the page cache.
	for offset := int64(0); offset < bases[len(bases)-1]; offset += int64(readBytes/batchBytes) * benchRecords {
		if _, err := l.Read(offset, readBytes, true); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	// Reads near the end return less than 1 MiB; keep them out.
	usable := bases[:len(bases)-readBytes/batchBytes]
	got, err := l.Read(usable[0], readBytes, true)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(got)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := l.Read(usable[rng.IntN(len(usable))], readBytes, true)
		if err != nil || len(got) < readBytes-batchBytes {
			b.Fatalf("read %d bytes, %v", len(got), err)
		}
	}
}

// benchReadLog returns a synced 64 MiB log of one-record batches, their
// base offsets and the size of a batch; the log is closed when the
// benchmark ends.
func benchReadLog(b *testing.B) (*Log, []int64, int) {
	const logBytes = 64 << 20
	l, err := Open(b.TempDir(), relaxedConfig(), OpenOptions{Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	batch, h := benchBatch(b, 1)
	var bases []int64
	for range logBytes / len(batch) {
		base, err := l.Append(batch, h)
		if err != nil {
			b.Fatal(err)
		}
		bases = append(bases, base)
	}
	if err := l.Sync(); err != nil {
		b.Fatal(err)
	}
	return l, bases, len(batch)
}

// BenchmarkSetReadLimit moves the read limit one small batch at a time
// through a warm log whose end is further on, as followers' fetches move
// a leader's high watermark: each move locates a batch boundary with the
// offset index and a walk of at most index.interval.bytes of headers.
func BenchmarkSetReadLimit(b *testing.B) {
	l, err := Open(b.TempDir(), relaxedConfig(), OpenOptions{Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	l.OnAdvance(func(int64) int64 { return 0 })
	batch := newBatch(b, testBatch{Records: 1, ProducerID: -1, BaseSequence: -1, ValueBytes: 100})
	h, err := record.Validate(batch)
	if err != nil {
		b.Fatal(err)
	}
	const batches = 100_000
	for range batches {
		if _, err := l.Append(batch, h); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	next := int64(0)
	for b.Loop() {
		if next == batches {
			l.mu.Lock() // start over: only truncation moves the limit back
			next, l.readLimit, l.limitSegment, l.limitPosition = 0, 0, l.segments[0], 0
			l.mu.Unlock()
		}
		next++
		l.SetReadLimit(next)
	}
	if _, hw, _ := l.Offsets(); hw != next {
		b.Fatalf("read limit %d, want %d", hw, next)
	}
}
