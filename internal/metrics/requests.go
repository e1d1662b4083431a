package metrics

import (
	"sync/atomic"
	"time"
)

// latencyBuckets are the request latency histogram's upper bounds in
// seconds. They reach past fetchWaitMax (30s) so a long poll that runs to
// its limit lands in a bucket rather than only in +Inf.
var latencyBuckets = [...]float64{
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
}

// requestCounters are one API's request count and latency histogram, kept
// as atomics so that recording a request is a few adds and no allocation.
type requestCounters struct {
	count   atomic.Uint64
	sumNs   atomic.Int64
	buckets [len(latencyBuckets)]atomic.Uint64 // non-cumulative; +Inf is count minus their sum
}

func (r *requestCounters) observe(elapsed time.Duration) {
	seconds := elapsed.Seconds()
	for i, bound := range latencyBuckets {
		if seconds <= bound {
			r.buckets[i].Add(1)
			break
		}
	}
	r.sumNs.Add(int64(elapsed))
	r.count.Add(1)
}

// snapshot returns the count, the sum in seconds and the cumulative
// buckets Prometheus expects. Reads race with observe, so a bucket may be
// ahead of count by a request; the count is raised to match, which keeps
// the histogram consistent (+Inf >= every bucket).
func (r *requestCounters) snapshot() (count uint64, sumSeconds float64, cumulative map[float64]uint64) {
	cumulative = make(map[float64]uint64, len(latencyBuckets))
	var running uint64
	for i, bound := range latencyBuckets {
		running += r.buckets[i].Load()
		cumulative[bound] = running
	}
	count = max(r.count.Load(), running)
	sumSeconds = float64(r.sumNs.Load()) / float64(time.Second)
	return count, sumSeconds, cumulative
}
