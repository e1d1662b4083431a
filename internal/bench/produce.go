package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// benchFlushGrace bounds the wait for acknowledgements after a run was
// interrupted or timed out.
const benchFlushGrace = 5 * time.Second

// produceRun is the producing side of a run: --producers clients writing
// one topic, each a share of --records and of --rate.
type produceRun struct {
	o      *benchOptions
	runID  uint64 // stamped in each value so e2e consumers skip others' records
	filler []byte // the value bytes after the stamp, the same for every record

	// pool recycles records (and their value buffers) once kgo has called
	// their promise, so producing allocates nothing per record.
	pool sync.Pool

	sent       atomic.Int64 // handed to kgo
	acked      atomic.Int64 // acknowledged by the broker
	failed     atomic.Int64
	ackedBytes atomic.Int64
	ackLatency histogram // scheduled send time to acknowledgement
	errs       firstError

	start   time.Time
	elapsed time.Duration // from start until every record was acknowledged or failed
}

func newProduceRun(o *benchOptions, runID uint64) *produceRun {
	p := &produceRun{o: o, runID: runID, filler: make([]byte, o.recordSize)}
	// Uppercase letters, as kafka-producer-perf-test sends, so that
	// compression sees text rather than zeros.
	rng := rand.New(rand.NewPCG(runID, 0))
	for i := range p.filler {
		p.filler[i] = 'A' + byte(rng.IntN(26))
	}
	return p
}

// run produces until every producer has sent its share, --duration has
// passed, or ctx ends, then waits for every acknowledgement.
func (p *produceRun) run(ctx context.Context, clients []*kgo.Client) {
	p.start = time.Now()
	var wg sync.WaitGroup
	for i, cl := range clients {
		share := p.o.records / int64(len(clients))
		if int64(i) < p.o.records%int64(len(clients)) {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.produce(ctx, cl, share, p.o.rate/float64(len(clients)))
		}()
	}
	wg.Wait()
	p.elapsed = time.Since(p.start)
}

// settle waits, for at most benchFlushGrace, until kgo has called the
// promise of every record sent: closing a client fails its buffered
// records from another goroutine.
func (p *produceRun) settle() {
	deadline := time.Now().Add(benchFlushGrace)
	for p.acked.Load()+p.failed.Load() < p.sent.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// produce sends share records (0: no limit) at rate records/s (0: as fast
// as kgo takes them). With a rate, record i is scheduled at start + i/rate
// and stamped with that time even when sent late, so that a stall in the
// client or the broker shows in the latencies instead of slowing the
// schedule down.
func (p *produceRun) produce(ctx context.Context, cl *kgo.Client, share int64, rate float64) {
	var deadline time.Time
	if p.o.duration > 0 {
		deadline = p.start.Add(p.o.duration)
	}
	for i := int64(0); share == 0 || i < share; i++ {
		now := time.Now()
		sched := now
		if rate > 0 {
			sched = p.start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		}
		if ctx.Err() != nil || !deadline.IsZero() && !sched.Before(deadline) {
			break
		}
		if wait := sched.Sub(now); wait > 0 && !sleepContext(ctx, wait) {
			break
		}
		p.sent.Add(1)
		cl.Produce(ctx, p.record(sched), p.promise)
	}
	// After an interrupt or the timeout, records already sent still get
	// a short grace to be acknowledged, so that the summary counts them.
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), benchFlushGrace)
		defer cancel()
	}
	// Flush fails only when ctx ends, which the verdict reports.
	_ = cl.Flush(ctx)
}

// record returns a record from the pool stamped with its scheduled time.
func (p *produceRun) record(sched time.Time) *kgo.Record {
	r, _ := p.pool.Get().(*kgo.Record)
	if r == nil {
		r = &kgo.Record{Value: make([]byte, p.o.recordSize)}
		copy(r.Value, p.filler)
	} else {
		*r = kgo.Record{Value: r.Value}
	}
	r.Topic = p.o.topic
	r.Timestamp = sched
	putStamp(r.Value, sched, p.runID)
	return r
}

func (p *produceRun) promise(r *kgo.Record, err error) {
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		// Produce was blocked on a full buffer when the run ended: the
		// record was never sent. (An idempotent producer does not cancel
		// records already sent.)
		p.sent.Add(-1)
	case err != nil:
		p.failed.Add(1)
		p.errs.set(err)
	default:
		sched, ok := readStamp(r.Value, p.runID)
		if !ok {
			sched = r.Timestamp
		}
		p.ackLatency.record(time.Since(sched))
		p.acked.Add(1)
		p.ackedBytes.Add(int64(len(r.Value)))
	}
	p.pool.Put(r)
}

// putStamp writes the scheduled send time (Unix nanoseconds) and the run id
// into the first benchStampBytes of a value, when it is that long. The
// record timestamp cannot serve: Kafka keeps only milliseconds.
func putStamp(value []byte, sched time.Time, runID uint64) {
	if len(value) >= benchStampBytes {
		binary.BigEndian.PutUint64(value[0:8], uint64(sched.UnixNano()))
		binary.BigEndian.PutUint64(value[8:16], runID)
	}
}

// readStamp returns the scheduled send time in a value written by this run.
func readStamp(value []byte, runID uint64) (time.Time, bool) {
	if len(value) < benchStampBytes || binary.BigEndian.Uint64(value[8:16]) != runID {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(value[0:8]))), true
}

// firstError keeps the first error of many goroutines and counts them all.
type firstError struct {
	mu    sync.Mutex
	err   error // guarded by mu
	count atomic.Int64
}

func (f *firstError) set(err error) {
	f.count.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
