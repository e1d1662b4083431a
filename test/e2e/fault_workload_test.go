package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/record"
)

// The fault suite's workload: idempotent acks=all producers writing unique
// values to every partition, and a consumer group reading throughout, both
// feeding a faultChecker; then, once the fault is healed, a full read of
// each partition through its leader and of each broker's copy on disk.

const (
	// faultProducers is the number of producer clients; each writes to
	// every partition from its own goroutine, so a stalled partition
	// stalls only its own goroutines.
	faultProducers = 3
	// faultInFlightMax bounds the unanswered records per producer and
	// partition: memory stays bounded while a partition has no leader.
	faultInFlightMax = 16
	// faultProducePace is the pause between two produces of one
	// goroutine: about 500 records/s each, enough to see every
	// partition's acknowledgements stop and restart, light on two cores.
	faultProducePace = 2 * time.Millisecond
	// faultRecordsMax bounds the records one goroutine writes.
	faultRecordsMax = 200_000
	// faultProduceTimeout is the produce request's timeout (how long an
	// acks=all produce may wait for the ISR), and faultRequestOverhead
	// what the client adds before it gives up on a silent broker: a
	// paused leader holds a client's in-flight requests, and with them
	// every later batch of the partition, for their sum (Kafka's clients:
	// request.timeout.ms, 30 s).
	faultProduceTimeout  = 4 * time.Second
	faultRequestOverhead = 2 * time.Second
	// faultDeliveryMax is how long a record may wait for its
	// acknowledgement before the client fails it: beyond any one fault.
	faultDeliveryMax = 45 * time.Second
	// faultFlushMax bounds the wait for in-flight records at the end.
	faultFlushMax = 30 * time.Second
	// faultFinalReadMax bounds the full read of the topic at the end.
	faultFinalReadMax = 60 * time.Second
	// faultDecompressedMax bounds one batch decompressed from disk.
	faultDecompressedMax = 64 << 20
	// faultGroup is the consumer group reading throughout.
	faultGroup = "fault-readers"
	// faultFinalSource names the full read through the leaders.
	faultFinalSource = "final"
)

// faultWorkload runs producers and a consumer against one topic.
type faultWorkload struct {
	t          *testing.T
	topic      string
	partitions int32
	checker    *faultChecker
	producers  []*kgo.Client
	consumer   *kgo.Client

	stopProducing context.CancelFunc // ends the produce loops
	stopConsuming context.CancelFunc // ends the consumer's polls
	wg            sync.WaitGroup     // the produce loops and the consumer
	attempted     atomic.Int64

	mu            sync.Mutex // guards the fields below
	started       time.Time
	lastAck       map[int32]time.Time // partition → its last acknowledgement
	lastAckAny    time.Time
	gap           time.Duration // longest pause between two acknowledgements of one partition
	gapPartition  int32
	gapAny        time.Duration  // longest pause between two acknowledgements of any partition
	produceErrors map[string]int // failed records by error kind
	clientErrors  map[string]int // errors the clients logged and retried, by kind
	consumeErrors map[string]int
	acksByPart    map[int32]int
}

// startFaultWorkload starts the producers and the consumer group.
func startFaultWorkload(t *testing.T, seeds []string, topic string, partitions int32, checker *faultChecker) *faultWorkload {
	t.Helper()
	w := &faultWorkload{t: t, topic: topic, partitions: partitions, checker: checker,
		lastAck: map[int32]time.Time{}, produceErrors: map[string]int{}, consumeErrors: map[string]int{},
		clientErrors: map[string]int{},
		acksByPart:   map[int32]int{}, started: time.Now()}
	for range faultProducers {
		w.producers = append(w.producers, clusterClient(t, seeds,
			kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent: franz-go's default
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.ProducerLinger(time.Millisecond),
			kgo.ProduceRequestTimeout(faultProduceTimeout),
			kgo.RequestTimeoutOverhead(faultRequestOverhead),
			kgo.RecordDeliveryTimeout(faultDeliveryMax),
			kgo.WithLogger(&faultClientLog{w: w})))
	}
	w.consumer = clusterClient(t, seeds, kgo.ConsumerGroup(faultGroup), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond))
	produceCtx, stopProducing := context.WithCancel(context.Background())
	consumeCtx, stopConsuming := context.WithCancel(context.Background())
	w.stopProducing, w.stopConsuming = stopProducing, stopConsuming
	for i, cl := range w.producers {
		for p := range partitions {
			w.wg.Go(func() { w.produceLoop(produceCtx, cl, i, p) })
		}
	}
	w.wg.Go(func() { w.consumeLoop(consumeCtx) })
	// Registered after the clients' Close, so it runs before them.
	t.Cleanup(func() { stopProducing(); stopConsuming(); w.wg.Wait() })
	return w
}

// produceLoop writes unique values to partition p through cl, at most
// faultInFlightMax unanswered, until ctx ends or faultRecordsMax.
func (w *faultWorkload) produceLoop(ctx context.Context, cl *kgo.Client, producer int, p int32) {
	inFlight := make(chan struct{}, faultInFlightMax)
	for seq := 0; seq < faultRecordsMax; seq++ {
		select {
		case inFlight <- struct{}{}:
		case <-ctx.Done():
			return
		}
		value := fmt.Sprintf("v%d-%d-%d", producer, p, seq)
		w.attempted.Add(1)
		// Not ctx: records in flight when producing stops get their
		// answer (Flush waits for it) rather than a cancellation.
		cl.Produce(context.Background(), &kgo.Record{Topic: w.topic, Partition: p, Value: []byte(value)},
			func(r *kgo.Record, err error) {
				<-inFlight
				w.answered(value, r, err)
			})
		select {
		case <-time.After(faultProducePace):
		case <-ctx.Done():
			return
		}
	}
}

// answered records one produce's answer.
func (w *faultWorkload) answered(value string, r *kgo.Record, err error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		countKind(w.produceErrors, errorKind(err))
		return
	}
	w.checker.Acked(value, faultPos{r.Partition, r.Offset})
	w.acksByPart[r.Partition]++
	if last, ok := w.lastAck[r.Partition]; ok && now.Sub(last) > w.gap {
		w.gap, w.gapPartition = now.Sub(last), r.Partition
	}
	if !w.lastAckAny.IsZero() && now.Sub(w.lastAckAny) > w.gapAny {
		w.gapAny = now.Sub(w.lastAckAny)
	}
	w.lastAck[r.Partition], w.lastAckAny = now, now
}

// consumeLoop reads as a member of faultGroup until ctx ends.
func (w *faultWorkload) consumeLoop(ctx context.Context) {
	for {
		fs := w.consumer.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(_ string, _ int32, err error) {
			w.mu.Lock()
			countKind(w.consumeErrors, errorKind(err))
			w.mu.Unlock()
		})
		fs.EachRecord(func(r *kgo.Record) {
			w.checker.Read("group", string(r.Value), faultPos{r.Partition, r.Offset})
		})
	}
}

// acks is the number of acknowledgements so far.
func (w *faultWorkload) acks() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.acksByPart {
		n += c
	}
	return n
}

// acksOf is partition p's acknowledgements so far.
func (w *faultWorkload) acksOf(p int32) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acksByPart[p]
}

// stop ends producing, waits (bounded) for the records in flight, and
// ends consuming. A partition still silent at the end counts its silence
// up to now as a gap.
func (w *faultWorkload) stop() {
	w.stopProducing()
	for _, cl := range w.producers {
		ctx, cancel := context.WithTimeout(context.Background(), faultFlushMax)
		if err := cl.Flush(ctx); err != nil {
			w.t.Logf("flush: %v: records still in flight are failed by Close", err)
		}
		cancel()
		cl.Close() // fails what is still buffered, through the callbacks
	}
	w.stopConsuming()
	w.wg.Wait()
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for p := range w.partitions {
		last, ok := w.lastAck[p]
		if !ok {
			last = w.started
		}
		if now.Sub(last) > w.gap {
			w.gap, w.gapPartition = now.Sub(last), p
		}
	}
}

// faultErrorKindsMax bounds the distinct error kinds a table keeps.
const faultErrorKindsMax = 50

// countKind adds one to kind in counts, within faultErrorKindsMax kinds.
func countKind(counts map[string]int, kind string) {
	if _, ok := counts[kind]; ok || len(counts) < faultErrorKindsMax {
		counts[kind]++
	}
}

// faultClientLog counts the errors the producer clients log: the ones
// they retry (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, timeouts), which
// never reach a record's callback unless retries run out.
type faultClientLog struct{ w *faultWorkload }

func (l *faultClientLog) Level() kgo.LogLevel { return kgo.LogLevelInfo }

func (l *faultClientLog) Log(_ kgo.LogLevel, _ string, keyvals ...any) {
	for i := 0; i+1 < len(keyvals); i += 2 {
		if err, ok := keyvals[i+1].(error); ok && keyvals[i] == "err" {
			l.w.mu.Lock()
			countKind(l.w.clientErrors, errorKind(err))
			l.w.mu.Unlock()
		}
	}
}

// errorKind names err for the produce error table: the Kafka error's
// name, or the client's reason.
func errorKind(err error) string {
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		return ke.Message
	case errors.Is(err, kgo.ErrRecordTimeout):
		return "record delivery timeout"
	case errors.Is(err, kgo.ErrRecordRetries):
		return "record retries exhausted"
	case errors.Is(err, kgo.ErrClientClosed):
		return "client closed"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	s := hostPort.ReplaceAllString(err.Error(), "host:port")
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}

// hostPort matches an address in an error, which would make every
// broker's connection errors a kind of their own.
var hostPort = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+`)

// readThroughLeaders reads every partition of topic from its start to its
// end offset (the high watermark the leader names) with a fresh client:
// what a consumer sees once the fault is healed. It returns a problem, or
// "" when every partition was read to its end.
func readThroughLeaders(seeds []string, topic string, partitions int32, checker *faultChecker) string {
	checker.Final(faultFinalSource)
	ctx, cancel := context.WithTimeout(context.Background(), faultFinalReadMax)
	defer cancel()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err.Error()
	}
	defer admCl.Close()
	ends, err := kadm.NewClient(admCl).ListEndOffsets(ctx, topic)
	if err != nil {
		return fmt.Sprintf("list end offsets: %v", err)
	}
	want := map[int32]int64{}
	starts := map[int32]kgo.Offset{}
	for p := range partitions {
		o, ok := ends.Lookup(topic, p)
		if !ok || o.Err != nil {
			return fmt.Sprintf("end offset of %s[%d]: %v", topic, p, o.Err)
		}
		want[p] = o.Offset
		starts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}))
	if err != nil {
		return err.Error()
	}
	defer cl.Close()
	next := map[int32]int64{}
	done := func() bool {
		for p, end := range want {
			if next[p] < end {
				return false
			}
		}
		return true
	}
	var fetchErr error
	for !done() && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) { fetchErr = err })
		fs.EachRecord(func(r *kgo.Record) {
			checker.Read(faultFinalSource, string(r.Value), faultPos{r.Partition, r.Offset})
			next[r.Partition] = max(next[r.Partition], r.Offset+1)
		})
	}
	if !done() {
		return fmt.Sprintf("read up to %v of end offsets %v in %v (last fetch error %v)", next, want, faultFinalReadMax, fetchErr)
	}
	return ""
}

// readDiskCopy reads broker id's copy of every partition of topic from
// its data directory, segment file by segment file, as source
// "disk-<id>". The broker must be stopped. It returns the records read
// per partition and a problem with the files, if any.
func readDiskCopy(dataDir string, id int32, topic string, partitions int32, checker *faultChecker) (map[int32]int, string) {
	source := fmt.Sprintf("disk-%d", id)
	checker.Final(source)
	counts := map[int32]int{}
	var problems []string
	for p := range partitions {
		dir := filepath.Join(dataDir, fmt.Sprintf("%s-%d", topic, p))
		segments, err := filepath.Glob(filepath.Join(dir, "*.log"))
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		slices.Sort(segments) // 20-digit base offsets sort as numbers
		for _, path := range segments {
			n, err := readSegment(path, p, source, checker)
			counts[p] += n
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", path, err))
			}
		}
	}
	return counts, strings.Join(problems, "; ")
}

// readSegment feeds every data record of one segment file to checker.
func readSegment(path string, p int32, source string, checker *faultChecker) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n := 0
	for len(b) > 0 {
		batch, rest, err := record.Next(b)
		if err != nil {
			return n, fmt.Errorf("after %d records: %w", n, err)
		}
		b = rest
		h, err := record.ValidateStored(batch)
		if err != nil {
			return n, fmt.Errorf("after %d records: %w", n, err)
		}
		if h.Control() {
			continue
		}
		err = record.Records(batch, faultDecompressedMax, func(r record.Record) bool {
			checker.Read(source, string(r.Value), faultPos{p, h.BaseOffset + int64(r.OffsetDelta)})
			n++
			return true
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// faultFigures is one fault test's row of the figures table.
type faultFigures struct {
	Fault         string
	Attempted     int64
	Report        faultReport
	Gap           time.Duration // longest pause between acknowledgements of one partition
	GapPartition  int32
	GapAny        time.Duration  // longest pause between acknowledgements of any partition
	ProduceErrors map[string]int // records failed, by error kind
	ClientErrors  map[string]int // errors the producers logged and retried
	ConsumeErrors map[string]int
}

// figures is the workload's part of the row; the caller adds the report.
func (w *faultWorkload) figures(fault string) faultFigures {
	w.mu.Lock()
	defer w.mu.Unlock()
	return faultFigures{Fault: fault, Attempted: w.attempted.Load(), Gap: w.gap, GapPartition: w.gapPartition,
		GapAny: w.gapAny, ProduceErrors: maps.Clone(w.produceErrors), ClientErrors: maps.Clone(w.clientErrors),
		ConsumeErrors: maps.Clone(w.consumeErrors)}
}

// faultRowPrefix starts the one line per test that scripts/faults turns
// into its figures table.
const faultRowPrefix = "FAULT-FIGURES"

// row is f as a tab-separated line for scripts/faults.
func (f faultFigures) row() string {
	r := f.Report
	return strings.Join([]string{faultRowPrefix, f.Fault, fmt.Sprint(f.Attempted), fmt.Sprint(r.Acknowledged),
		fmt.Sprint(r.Lost.Count), formatCounts(r.LostBySource), fmt.Sprint(r.Duplicated.Count), fmt.Sprint(r.Moved.Count),
		fmt.Sprint(r.Inconsistent.Count), fmt.Sprint(r.UnackedPresent),
		fmt.Sprintf("%v(p%d)", f.Gap.Round(time.Millisecond), f.GapPartition), f.GapAny.Round(time.Millisecond).String(),
		formatCounts(f.ProduceErrors), formatCounts(f.ClientErrors)}, "\t")
}

// formatCounts is "k=v,k=v" in key order, "-" when empty.
func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, ",")
}
