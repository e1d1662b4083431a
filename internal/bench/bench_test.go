package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestHistogramBuckets checks that every value lands in a bucket whose
// range holds it, buckets are contiguous and in order, and a bucket is at
// most 1/128 of its values wide.
func TestHistogramBuckets(t *testing.T) {
	prevUpper := int64(-1)
	for i := range histogramBuckets {
		upper := histogramUpper(i)
		lower := prevUpper + 1
		if upper < lower {
			t.Fatalf("bucket %d: upper %d below lower %d", i, upper, lower)
		}
		for _, v := range []int64{lower, upper, (lower + upper) / 2} {
			if got := histogramIndex(v); got != i {
				t.Fatalf("value %d: index %d, want %d", v, got, i)
			}
		}
		if lower >= histogramSub && float64(upper-lower+1) > float64(lower)/128 {
			t.Fatalf("bucket %d [%d, %d] is wider than 1/128 of its values", i, lower, upper)
		}
		prevUpper = upper
	}
	if prevUpper != histogramValueMax {
		t.Fatalf("last bucket ends at %d, want %d", prevUpper, histogramValueMax)
	}
}

// TestHistogramQuantiles compares quantiles with the exact ones of a
// sorted sample.
func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h histogram
	values := make([]int64, 100_000)
	for i := range values {
		// Log-uniform from 1 µs to 10 s, like latencies with a long tail.
		values[i] = int64(1000 * math.Pow(10, rng.Float64()*7))
		h.record(time.Duration(values[i]))
	}
	slices.Sort(values)
	s := h.snapshot()
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := values[int(q*float64(len(values)-1)+0.5)]
		got := int64(s.quantile(q))
		if got < exact*99/100 || got > exact*101/100 {
			t.Errorf("quantile %v: %d, exact %d", q, got, exact)
		}
	}
	if int64(s.maxNs) != values[len(values)-1] || s.total != uint64(len(values)) {
		t.Errorf("max %d total %d, want %d and %d", s.maxNs, s.total, values[len(values)-1], len(values))
	}
	var empty histogram
	if q := empty.snapshot().quantile(0.99); q != 0 {
		t.Errorf("empty histogram quantile %v, want 0", q)
	}
}

// TestHistogramSince checks the interval view used by progress lines.
func TestHistogramSince(t *testing.T) {
	var h histogram
	for range 100 {
		h.record(time.Millisecond)
	}
	before := h.snapshot()
	for range 10 {
		h.record(5 * time.Millisecond)
	}
	d := h.snapshot().since(before)
	if d.total != 10 || d.quantile(0.5) < 5*time.Millisecond || d.quantile(0.5) > 5050*time.Microsecond {
		t.Fatalf("interval: total %d p50 %v", d.total, d.quantile(0.5))
	}
}

func TestBenchValidate(t *testing.T) {
	valid := func(m benchMode) benchOptions {
		return benchOptions{mode: m, brokers: "localhost:9092", topic: "t", records: 10, timeout: time.Minute,
			format: "text", partitions: 1, replicationFactor: -1, recordSize: 100, producers: 1, acks: "all",
			idempotent: true, batchMaxBytes: 1 << 20, compression: "none", maxInflight: 1, bufferBytes: 1 << 20,
			consumers: 1, groups: 1}
	}
	for _, tc := range []struct {
		mode benchMode
		edit func(*benchOptions)
		want string // "" for valid
	}{
		{benchProduce, func(o *benchOptions) {}, ""},
		{benchConsume, func(o *benchOptions) { o.records = 0 }, ""},
		{benchProduce, func(o *benchOptions) { o.records = 0 }, "needs --records or --duration"},
		{benchProduce, func(o *benchOptions) { o.brokers = " , " }, "--brokers"},
		{benchProduce, func(o *benchOptions) { o.acks = "2" }, "--acks"},
		{benchProduce, func(o *benchOptions) { o.acks, o.idempotentSet = "1", true }, "idempotent"},
		{benchProduce, func(o *benchOptions) { o.acks = "1" }, ""},
		{benchProduce, func(o *benchOptions) { o.compression = "brotli" }, "--compression"},
		{benchProduce, func(o *benchOptions) { o.duration = time.Hour }, "--timeout"},
		{benchE2E, func(o *benchOptions) { o.recordSize = 15 }, "--record-size 15"},
		{benchProduce, func(o *benchOptions) { o.rate = -1 }, "--rate"},
		{benchConsume, func(o *benchOptions) { o.groups, o.consumers = 100, 100 }, "--groups"},
		{benchConsume, func(o *benchOptions) { o.format = "yaml" }, "--format"},
	} {
		o := valid(tc.mode)
		tc.edit(&o)
		err := o.validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.mode, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one with %q", tc.mode, err, tc.want)
		}
	}
}

func TestStampRoundTrip(t *testing.T) {
	value := make([]byte, 16)
	at := time.Unix(1_700_000_000, 123_456_789)
	putStamp(value, at, 42)
	if got, ok := readStamp(value, 42); !ok || !got.Equal(at) {
		t.Fatalf("readStamp = %v %v, want %v", got, ok, at)
	}
	if _, ok := readStamp(value, 43); ok {
		t.Fatal("a stamp of another run was accepted")
	}
	if _, ok := readStamp(value[:15], 42); ok {
		t.Fatal("a short value was accepted")
	}
}

func TestCommas(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestWarmUpKeysCoverEveryPartition checks that the warm-up reaches every
// partition through the partitioner a producer client really uses.
func TestWarmUpKeysCoverEveryPartition(t *testing.T) {
	for _, n := range []int{1, 3, 8, 64} {
		keys := warmUpKeys("t", n)
		if len(keys) != n {
			t.Fatalf("%d partitions: %d warm-up keys, want %d", n, len(keys), n)
		}
		// The partitioner of a client built without RecordPartitioner,
		// as producerOptions builds it.
		cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
		if err != nil {
			t.Fatal(err)
		}
		partitioner, ok := cl.OptValue(kgo.RecordPartitioner).(kgo.Partitioner).ForTopic("t").(kgo.TopicBackupPartitioner)
		cl.Close()
		if !ok {
			t.Fatal("the default partitioner is no longer kgo's UniformBytesPartitioner: check warmUpKeys")
		}
		seen := map[int]bool{}
		for _, key := range keys {
			// A keyed record never asks the backup iterator.
			seen[partitioner.PartitionByBackup(&kgo.Record{Topic: "t", Key: key}, n, nil)] = true
		}
		if len(seen) != n {
			t.Errorf("%d partitions: the keys reach %d of them with the client's partitioner", n, len(seen))
		}
	}
}
