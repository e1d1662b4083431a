package log

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/internal/record"
)

// BenchmarkClean compacts a log of 1,000,000 updates over 10,000 keys
// (batches of 100 records, 64-byte values, 64 MiB segments) from all-dirty
// to one record per key. Each iteration cleans a fresh copy; the cleaner
// and its offset map are reused, as the broker reuses them. It reports
// records and bytes read per second and the cleaner's fixed memory; the
// allocation figures are the garbage one clean makes.
func BenchmarkClean(b *testing.B) {
	for _, codec := range []record.Codec{record.CodecNone, record.CodecZstd} {
		b.Run(codec.String(), func(b *testing.B) {
			const records, keys, perBatch = 1_000_000, 10_000, 100
			cfg := relaxedConfig()
			cfg.Compact, cfg.MinCleanableDirtyRatio, cfg.SegmentBytes = true, 0, 64<<20
			src := filepath.Join(b.TempDir(), "src")
			l := mustOpen(b, src, cfg, OpenOptions{})
			value := make([]byte, 64)
			for i := 0; i < records; i += perBatch {
				recs := make([]kv, perBatch)
				for j := range recs {
					n := i + j
					recs[j] = kv{key: fmt.Sprintf("key-%05d", (n*7919)%keys), value: value, ts: cleanNow.UnixMilli() - int64(records-n)}
				}
				appendKV(b, l, codec, recs)
			}
			l.mu.Lock()
			if _, err := l.rollLocked(l.activeLocked().nextOffset); err != nil { // all of it cleanable
				b.Fatal(err)
			}
			l.mu.Unlock()
			size := l.Size()
			mustClose(b, l)

			c := NewCleaner(CleanerConfig{DedupeBufferBytes: DefaultCleanerConfig().DedupeBufferBytes, IOBufferBytes: 512 << 10, Logger: quietLogger})
			c.offsets = newOffsetMap(c.cfg.DedupeBufferBytes) // allocated once per broker, not per clean
			var st CleanStats
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				dir := filepath.Join(b.TempDir(), fmt.Sprint(i))
				copyDir(b, src, dir)
				cl := mustOpen(b, dir, cfg, OpenOptions{Clean: true})
				b.StartTimer()
				st = mustClean(b, c, cl, cleanNow)
				b.StopTimer()
				if st.RecordsKept != keys || st.RecordsRead != records {
					b.Fatalf("kept %d of %d records, want %d of %d", st.RecordsKept, st.RecordsRead, keys, records)
				}
				mustClose(b, cl)
				b.StartTimer()
			}
			elapsed := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(records)/elapsed, "records/s")
			b.ReportMetric(float64(st.BytesRead)/elapsed/(1<<20), "MB-read/s")
			b.ReportMetric(float64(size)/(1<<20), "log-MB")
			b.ReportMetric(float64(st.BytesWritten)/(1<<10), "written-KB")
			b.ReportMetric(float64(st.OffsetMapBytes)/(1<<20), "offsetmap-MB")
		})
	}
}
