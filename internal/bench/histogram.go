package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts durations in log-linear buckets, as HdrHistogram does:
// values below 2^histogramSubBits nanoseconds have a bucket each, and every
// power of two above is cut into 2^(histogramSubBits-1) equal buckets, so a
// reported percentile is at most 1/128 (0.8%) above the true value. Memory
// is fixed (histogramBuckets counters, about 37 KiB) however many values
// are recorded, and recording is lock-free so producers and consumers on
// many goroutines can share one histogram while progress reads it.
//
// Bucket layout, for histogramSubBits = 8:
//
//	index 0..255      value v itself (0 ns … 255 ns)
//	index 256..383    [256, 512) in steps of 2 ns
//	index 384..511    [512, 1024) in steps of 4 ns
//	…                 one group of 128 per power of two up to histogramValueMax
type histogram struct {
	counts [histogramBuckets]atomic.Uint64
	total  atomic.Uint64
	sumNs  atomic.Uint64
	maxNs  atomic.Int64
}

const (
	histogramSubBits  = 8
	histogramSub      = 1 << histogramSubBits // exact buckets below this value
	histogramHalf     = histogramSub / 2      // buckets per power of two above
	histogramBitsMax  = 42                    // values are clamped below 2^42 ns (73 minutes)
	histogramValueMax = int64(1)<<histogramBitsMax - 1
	histogramBuckets  = histogramSub + (histogramBitsMax-histogramSubBits)*histogramHalf
)

// histogramIndex returns the bucket that counts v (0 ≤ v ≤ histogramValueMax).
func histogramIndex(v int64) int {
	if v < histogramSub {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histogramSubBits // ≥ 1
	top := int(v >> shift)                            // in [histogramHalf, histogramSub)
	return histogramSub + (shift-1)*histogramHalf + top - histogramHalf
}

// histogramUpper returns the largest value that bucket i counts.
func histogramUpper(i int) int64 {
	if i < histogramSub {
		return int64(i)
	}
	shift := (i-histogramSub)/histogramHalf + 1
	top := int64((i-histogramSub)%histogramHalf + histogramHalf)
	return (top+1)<<shift - 1
}

// record counts one duration; negative durations (clock steps) count as 0.
func (h *histogram) record(d time.Duration) {
	v := min(max(int64(d), 0), histogramValueMax)
	h.counts[histogramIndex(v)].Add(1)
	h.total.Add(1)
	h.sumNs.Add(uint64(v))
	for {
		old := h.maxNs.Load()
		if v <= old || h.maxNs.CompareAndSwap(old, v) {
			return
		}
	}
}

// histogramSnapshot is a copy of a histogram's counts at one moment, for
// percentiles over a whole run or, by subtracting an earlier snapshot, over
// the last progress interval.
type histogramSnapshot struct {
	counts [histogramBuckets]uint64
	total  uint64
	sumNs  uint64
	maxNs  int64
}

func (h *histogram) snapshot() *histogramSnapshot {
	s := &histogramSnapshot{}
	for i := range h.counts {
		s.counts[i] = h.counts[i].Load()
		s.total += s.counts[i]
	}
	s.sumNs = h.sumNs.Load()
	s.maxNs = h.maxNs.Load()
	return s
}

// since returns the counts recorded after earlier. Its max is the upper
// bound of the highest bucket that grew, as the exact maximum of an
// interval is not kept.
func (s *histogramSnapshot) since(earlier *histogramSnapshot) *histogramSnapshot {
	d := &histogramSnapshot{}
	for i := range s.counts {
		d.counts[i] = s.counts[i] - earlier.counts[i]
		d.total += d.counts[i]
		if d.counts[i] > 0 {
			d.maxNs = min(histogramUpper(i), s.maxNs)
		}
	}
	d.sumNs = s.sumNs - earlier.sumNs
	return d
}

// quantile returns the value at or below which a fraction q of the values
// lie, rounded up to its bucket's upper bound but never above the maximum
// seen. It returns 0 for an empty histogram.
func (s *histogramSnapshot) quantile(q float64) time.Duration {
	if s.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.total)))
	rank = min(max(rank, 1), s.total)
	var seen uint64
	for i, c := range s.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(histogramUpper(i), s.maxNs))
		}
	}
	return time.Duration(s.maxNs)
}

func (s *histogramSnapshot) mean() time.Duration {
	if s.total == 0 {
		return 0
	}
	return time.Duration(s.sumNs / s.total)
}

// latencySummary is what summaries print of a histogram, in milliseconds.
type latencySummary struct {
	Count  uint64  `json:"count"`
	MeanMs float64 `json:"mean"`
	P50Ms  float64 `json:"p50"`
	P99Ms  float64 `json:"p99"`
	P999Ms float64 `json:"p999"`
	MaxMs  float64 `json:"max"`
}

func (s *histogramSnapshot) summary() *latencySummary {
	return &latencySummary{
		Count:  s.total,
		MeanMs: milliseconds(s.mean()),
		P50Ms:  milliseconds(s.quantile(0.50)),
		P99Ms:  milliseconds(s.quantile(0.99)),
		P999Ms: milliseconds(s.quantile(0.999)),
		MaxMs:  milliseconds(time.Duration(s.maxNs)),
	}
}

// milliseconds rounds d to microseconds and returns it in milliseconds.
func milliseconds(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}
