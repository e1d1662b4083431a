package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// bytesPerMB is the MB of the summaries: 2^20 bytes of record values, as
// kafka-producer-perf-test and kafka-consumer-perf-test count.
const bytesPerMB = 1 << 20

// benchSummary is the result of a run; --format json prints it on one line.
type benchSummary struct {
	Mode         string          `json:"mode"`
	Topic        string          `json:"topic"`
	Partitions   int             `json:"partitions"`
	Produce      *produceSummary `json:"produce,omitempty"`
	Consume      *consumeSummary `json:"consume,omitempty"`
	E2ELatencyMs *latencySummary `json:"e2e_latency_ms,omitempty"`
	Error        string          `json:"error,omitempty"`
}

type produceSummary struct {
	Producers        int             `json:"producers"`
	RecordSizeBytes  int             `json:"record_size_bytes"`
	Acks             string          `json:"acks"`
	Idempotent       bool            `json:"idempotent"`
	Compression      string          `json:"compression"`
	LingerMs         float64         `json:"linger_ms"`
	BatchMaxBytes    int             `json:"batch_max_bytes"`
	RateTarget       float64         `json:"rate_target_records_per_second"`
	Records          int64           `json:"records"` // acknowledged
	Failed           int64           `json:"failed"`
	Bytes            int64           `json:"bytes"`
	Seconds          float64         `json:"seconds"`
	RecordsPerSecond float64         `json:"records_per_second"`
	MBPerSecond      float64         `json:"mb_per_second"`
	AckLatencyMs     *latencySummary `json:"ack_latency_ms"`
}

type consumeSummary struct {
	Groups           int     `json:"groups"`
	Consumers        int     `json:"consumers_per_group"`
	Group            string  `json:"group,omitempty"`
	Records          int64   `json:"records"` // over all groups
	ExpectedRecords  int64   `json:"expected_records"`
	Bytes            int64   `json:"bytes"`
	Seconds          float64 `json:"seconds"`
	RecordsPerSecond float64 `json:"records_per_second"`
	MBPerSecond      float64 `json:"mb_per_second"`
	JoinMs           float64 `json:"join_ms"`
	FirstRecordMs    float64 `json:"first_record_ms"`
	ForeignRecords   int64   `json:"foreign_records,omitempty"`
	FetchErrors      int64   `json:"fetch_errors"`
}

func (r *benchRun) summary() *benchSummary {
	s := &benchSummary{Mode: r.o.mode.String(), Topic: r.o.topic, Partitions: len(r.partitions)}
	if p := r.produce; p != nil {
		s.Produce = p.summary()
	}
	if c := r.consume; c != nil {
		from := c.readyAt()
		if p := r.produce; p != nil {
			from = p.start
		}
		s.Consume = c.summary(from)
		if r.o.mode == benchE2E {
			s.E2ELatencyMs = c.latency.snapshot().summary()
		}
	}
	return s
}

func (p *produceRun) summary() *produceSummary {
	o := p.o
	s := &produceSummary{
		Producers:       o.producers,
		RecordSizeBytes: o.recordSize,
		Acks:            o.acks,
		Idempotent:      o.idempotent,
		Compression:     o.compression,
		LingerMs:        milliseconds(o.linger),
		BatchMaxBytes:   o.batchMaxBytes,
		RateTarget:      o.rate,
		Records:         p.acked.Load(),
		Failed:          p.failed.Load(),
		Bytes:           p.ackedBytes.Load(),
		Seconds:         p.elapsed.Seconds(),
		AckLatencyMs:    p.ackLatency.snapshot().summary(),
	}
	s.RecordsPerSecond, s.MBPerSecond = rates(s.Records, s.Bytes, p.elapsed)
	return s
}

// summary sums the groups; throughput runs from `from` to the last record.
func (c *consumeRun) summary(from time.Time) *consumeSummary {
	s := &consumeSummary{
		Groups:          c.o.groups,
		Consumers:       c.o.consumers,
		Group:           c.o.group,
		ExpectedRecords: c.expected(),
		ForeignRecords:  c.foreign.Load(),
		FetchErrors:     c.errs.count.Load(),
	}
	s.Records, s.Bytes = c.totals()
	var last int64
	for _, g := range c.groups {
		last = max(last, g.lastAt.Load())
		if at := g.readyAt.Load(); at != 0 {
			s.JoinMs = max(s.JoinMs, milliseconds(time.Duration(at-c.start.UnixNano())))
		}
		if at := g.firstAt.Load(); at != 0 {
			s.FirstRecordMs = max(s.FirstRecordMs, milliseconds(time.Duration(at-c.start.UnixNano())))
		}
	}
	if last != 0 && !from.IsZero() {
		elapsed := time.Duration(last - from.UnixNano())
		s.Seconds = elapsed.Seconds()
		s.RecordsPerSecond, s.MBPerSecond = rates(s.Records, s.Bytes, elapsed)
	}
	return s
}

// readyAt is when the last group became ready, or zero.
func (c *consumeRun) readyAt() time.Time {
	var at int64
	for _, g := range c.groups {
		at = max(at, g.readyAt.Load())
	}
	if at == 0 {
		return time.Time{}
	}
	return time.Unix(0, at)
}

func rates(records, bytes int64, elapsed time.Duration) (recordsPerSecond, mbPerSecond float64) {
	if elapsed <= 0 {
		return 0, 0
	}
	sec := elapsed.Seconds()
	return float64(records) / sec, float64(bytes) / bytesPerMB / sec
}

// printSummary prints s to stdout; in text, without the error, which the
// command returns for main to print on stderr.
func (r *benchRun) printSummary(s *benchSummary) error {
	if r.o.format == "json" {
		return json.NewEncoder(r.stdout).Encode(s)
	}
	var b strings.Builder
	if p := s.Produce; p != nil {
		idem := ""
		if p.Idempotent {
			idem = ", idempotent"
		}
		fmt.Fprintf(&b, "produce  %s records of %d B (acks=%s%s, linger %v, compression %s) in %.2f s: %s records/s, %.2f MB/s\n",
			commas(p.Records), p.RecordSizeBytes, p.Acks, idem, r.o.linger, p.Compression, p.Seconds, commas(int64(p.RecordsPerSecond)), p.MBPerSecond)
		fmt.Fprintf(&b, "         ack latency %s\n", p.AckLatencyMs)
		if p.Failed > 0 {
			fmt.Fprintf(&b, "         %s records failed\n", commas(p.Failed))
		}
	}
	if c := s.Consume; c != nil {
		fmt.Fprintf(&b, "consume  %s of %s records by %d group(s) of %d in %.2f s: %s records/s, %.2f MB/s; ready after %.0f ms, first record after %.0f ms\n",
			commas(c.Records), commas(c.ExpectedRecords), c.Groups, c.Consumers, c.Seconds, commas(int64(c.RecordsPerSecond)), c.MBPerSecond, c.JoinMs, c.FirstRecordMs)
		if c.FetchErrors > 0 || c.ForeignRecords > 0 {
			fmt.Fprintf(&b, "         %d fetch errors, %d records of other runs skipped\n", c.FetchErrors, c.ForeignRecords)
		}
	}
	if l := s.E2ELatencyMs; l != nil {
		fmt.Fprintf(&b, "e2e      latency from the scheduled send time to poll %s\n", l)
	}
	_, err := io.WriteString(r.stdout, b.String())
	return err
}

func (l *latencySummary) String() string {
	return fmt.Sprintf("ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (mean %.3f, %s values)",
		l.P50Ms, l.P99Ms, l.P999Ms, l.MaxMs, l.MeanMs, commas(int64(l.Count)))
}

// commas formats n with thousands separators: 1,000,000.
func commas(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// progressSample is what one progress line compares with the previous.
type progressSample struct {
	at            time.Time
	acked, ackedB int64
	consumed, cB  int64
	latency       *histogramSnapshot // e2e latency, or ack latency when only producing
}

func (r *benchRun) sample() progressSample {
	s := progressSample{at: time.Now()}
	if p := r.produce; p != nil {
		s.acked, s.ackedB = p.acked.Load(), p.ackedBytes.Load()
		s.latency = p.ackLatency.snapshot()
	}
	if c := r.consume; c != nil {
		s.consumed, s.cB = c.totals()
		if r.o.mode == benchE2E {
			s.latency = c.latency.snapshot()
		}
	}
	return s
}

// startProgress prints a line to stderr every benchProgressEvery until the
// returned stop is called.
func (r *benchRun) startProgress() (stop func()) {
	if r.o.quiet {
		return func() {}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		ticker := time.NewTicker(benchProgressEvery)
		defer ticker.Stop()
		first := r.sample()
		prev := first
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				cur := r.sample()
				fmt.Fprintln(r.stderr, r.progressLine(first, prev, cur))
				prev = cur
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func (r *benchRun) progressLine(first, prev, cur progressSample) string {
	var b strings.Builder
	interval := cur.at.Sub(prev.at)
	fmt.Fprintf(&b, "bench %s %5.0fs", r.o.mode, cur.at.Sub(first.at).Seconds())
	if r.produce != nil {
		rps, mbps := rates(cur.acked-prev.acked, cur.ackedB-prev.ackedB, interval)
		fmt.Fprintf(&b, "  produced %s (%s/s, %.1f MB/s)", commas(cur.acked), commas(int64(rps)), mbps)
	}
	if r.consume != nil {
		rps, mbps := rates(cur.consumed-prev.consumed, cur.cB-prev.cB, interval)
		fmt.Fprintf(&b, "  consumed %s (%s/s, %.1f MB/s)", commas(cur.consumed), commas(int64(rps)), mbps)
	}
	if cur.latency != nil && prev.latency != nil {
		d := cur.latency.since(prev.latency)
		name := "ack"
		if r.o.mode == benchE2E {
			name = "e2e"
		}
		if d.total > 0 {
			fmt.Fprintf(&b, "  %s p50 %.2f p99 %.2f max %.2f ms", name,
				milliseconds(d.quantile(0.5)), milliseconds(d.quantile(0.99)), milliseconds(time.Duration(d.maxNs)))
		}
	}
	return b.String()
}
