package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/kclient"
)

// errBenchTimeout is the cause of a run's context ending at --timeout.
var errBenchTimeout = errors.New("the run did not finish within --timeout")

// benchRun is one run of sluice bench: its admin client, the topic and the
// producing and consuming sides (either may be nil).
type benchRun struct {
	o          *benchOptions
	stdout     io.Writer
	stderr     io.Writer
	adm        *kadm.Client
	runID      uint64
	partitions []int32
	produce    *produceRun
	consume    *consumeRun
}

// runBench runs one benchmark and prints its summary. Ctrl-C ends it early;
// the summary of what was done is still printed.
func runBench(ctx context.Context, o *benchOptions, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeoutCause(ctx, o.timeout, errBenchTimeout)
	defer cancel()
	if err := o.checkReachable(ctx); err != nil {
		return err
	}
	// kadm answers Metadata from kgo's cache for MetadataMinAge (5 s by
	// default), which would hide a topic just created.
	admClient, err := kclient.New(o.clientConfig("admin"), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		return fmt.Errorf("cannot create a client for %s: %w", o.brokers, err)
	}
	defer admClient.Close()
	r := &benchRun{o: o, stdout: stdout, stderr: stderr, adm: kadm.NewClient(admClient), runID: rand.Uint64()}
	r.partitions, err = o.topicPartitions(ctx, r.adm, o.mode.produces(), r.warn)
	if err != nil {
		return err
	}
	if o.mode.consumes() && o.group == "" && o.consumers > len(r.partitions) {
		return fmt.Errorf("--consumers %d is more than the %d partitions of %q: without --group each consumer needs a partition", o.consumers, len(r.partitions), o.topic)
	}
	switch o.mode {
	case benchProduce:
		err = r.runProduce(ctx)
	case benchConsume:
		err = r.runConsume(ctx)
	case benchE2E:
		err = r.runE2E(ctx)
	}
	if err != nil {
		return err
	}
	if r.produce != nil {
		r.produce.settle()
	}
	err = r.verdict(ctx)
	s := r.summary()
	if err != nil {
		s.Error = err.Error()
	}
	if perr := r.printSummary(s); perr != nil && err == nil {
		err = perr
	}
	return err
}

func (r *benchRun) warn(format string, args ...any) {
	fmt.Fprintf(r.stderr, "sluice bench: "+format+"\n", args...)
}

func (r *benchRun) producerClients() ([]*kgo.Client, error) {
	var clients []*kgo.Client
	for i := range r.o.producers {
		cl, err := kclient.New(r.o.clientConfig(fmt.Sprintf("producer-%d", i)), r.o.producerOptions()...)
		if err != nil {
			closeClients(clients)
			return nil, fmt.Errorf("cannot create a producer: %w", err)
		}
		clients = append(clients, cl)
	}
	return clients, nil
}

func (r *benchRun) runProduce(ctx context.Context) error {
	clients, err := r.producerClients()
	if err != nil {
		return err
	}
	defer closeClients(clients)
	r.produce = newProduceRun(r.o, r.runID)
	stop := r.startProgress()
	defer stop()
	r.produce.run(ctx, clients)
	return nil
}

func (r *benchRun) runConsume(ctx context.Context) error {
	targets, err := r.consumeTargets(ctx)
	if err != nil {
		return err
	}
	r.consume = &consumeRun{o: r.o, runID: r.runID, partitions: r.partitions}
	clients, err := r.consume.startConsumers(nil)
	if err != nil {
		return err
	}
	defer closeClients(clients)
	for i, g := range r.consume.groups {
		g.setTarget(targets[i])
	}
	if r.o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.o.duration)
		defer cancel()
	}
	stop := r.startProgress()
	defer stop()
	r.consume.run(ctx, clients)
	return nil
}

// consumeTargets returns how many records each group is to read: --records,
// or everything between its committed offsets (or the log start) and the
// end offsets now.
func (r *benchRun) consumeTargets(ctx context.Context) ([]int64, error) {
	targets := make([]int64, r.o.groups)
	if r.o.records > 0 {
		for i := range targets {
			targets[i] = r.o.records
		}
		return targets, nil
	}
	starts, err := listOffsets(ctx, r.adm, r.o.topic, false)
	if err != nil {
		return nil, err
	}
	ends, err := listOffsets(ctx, r.adm, r.o.topic, true)
	if err != nil {
		return nil, err
	}
	for i := range targets {
		from := map[int32]int64{}
		for p, at := range starts {
			from[p] = at
		}
		if name := r.o.groupName(i); name != "" {
			actx, cancel := context.WithTimeout(ctx, benchAdminTimeout)
			committed, err := r.adm.FetchOffsets(actx, name)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("cannot fetch the committed offsets of group %q: %w", name, err)
			}
			committed.Each(func(c kadm.OffsetResponse) {
				if c.Err == nil && c.Topic == r.o.topic && c.At > from[c.Partition] {
					from[c.Partition] = c.At
				}
			})
		}
		for p, end := range ends {
			targets[i] += max(end-from[p], 0)
		}
	}
	return targets, nil
}

// runE2E starts tailing consumers at the current end of the topic, waits
// until they fetch, warms the producers up, then produces and waits until
// every group has read every acknowledged record.
func (r *benchRun) runE2E(ctx context.Context) error {
	ends, err := listOffsets(ctx, r.adm, r.o.topic, true)
	if err != nil {
		return err
	}
	if err := r.commitStartOffsets(ctx, ends); err != nil {
		return err
	}
	r.consume = &consumeRun{o: r.o, runID: r.runID, partitions: r.partitions}
	consumers, err := r.consume.startConsumers(ends)
	if err != nil {
		return err
	}
	defer closeClients(consumers)
	cctx, ccancel := context.WithCancel(ctx)
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		r.consume.run(cctx, consumers)
	}()
	defer func() { ccancel(); <-consumed }()

	producers, err := r.producerClients()
	if err != nil {
		return err
	}
	defer closeClients(producers)
	if !r.consume.waitReady(ctx) {
		return fmt.Errorf("the consumers did not join and fetch before --timeout %v", r.o.timeout)
	}
	if err := r.warmUp(ctx, producers); err != nil {
		return err
	}
	r.produce = newProduceRun(r.o, r.runID)
	stop := r.startProgress()
	defer stop()
	r.produce.run(ctx, producers)
	for _, g := range r.consume.groups {
		g.setTarget(r.produce.acked.Load())
	}
	select {
	case <-consumed:
	case <-ctx.Done():
	}
	return nil
}

// commitStartOffsets commits the current end offsets for every named e2e
// group, so that a group starts at the end however long it takes to join,
// and reads exactly the records of this run.
func (r *benchRun) commitStartOffsets(ctx context.Context, ends map[int32]int64) error {
	var offsets kadm.Offsets
	for p, at := range ends {
		offsets.Add(kadm.Offset{Topic: r.o.topic, Partition: p, At: at, LeaderEpoch: -1})
	}
	for i := range r.o.groups {
		name := r.o.groupName(i)
		if name == "" {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, benchAdminTimeout)
		resp, err := r.adm.CommitOffsets(actx, name, offsets)
		cancel()
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("cannot commit start offsets for group %q (it must have no members): %w", name, err)
		}
	}
	return nil
}

// warmUp produces, from every producer, one record to every partition,
// stamped with time zero so that consumers skip it, to open the
// producer's connection to every partition leader and get a producer id
// before the schedule starts. One record alone reached one broker: in a
// cluster the first scheduled records to the other leaders then waited
// for a connection, which showed as a stall in the latency tail.
func (r *benchRun) warmUp(ctx context.Context, producers []*kgo.Client) error {
	ctx, cancel := context.WithTimeout(ctx, benchAdminTimeout)
	defer cancel()
	keys := warmUpKeys(r.o.topic, len(r.partitions))
	for _, cl := range producers {
		results := make(chan error, len(keys))
		for _, key := range keys {
			value := make([]byte, r.o.recordSize)
			putStamp(value, time.Unix(0, 0), r.runID)
			rec := &kgo.Record{Topic: r.o.topic, Key: key, Value: value}
			cl.Produce(ctx, rec, func(_ *kgo.Record, err error) { results <- err })
		}
		for range keys {
			if err := <-results; err != nil {
				return fmt.Errorf("the warm-up records could not be produced to %q: %w", r.o.topic, err)
			}
		}
	}
	return nil
}

// warmUpKeys returns keys that the producers' partitioner (kgo's default,
// which hashes a key with murmur2 as Kafka's default partitioner does)
// sends to each of n partitions, one key per partition found within
// warmUpKeyTries candidates per partition (in practice all of them).
func warmUpKeys(topic string, n int) [][]byte {
	// kgo's StickyKeyPartitioner hashes keys exactly as the default
	// (UniformBytesPartitioner) does, and can be asked directly.
	partitioner := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	found := make(map[int]bool, n)
	var keys [][]byte
	for i := 0; i < n*warmUpKeyTries && len(keys) < n; i++ {
		key := []byte("warm-up-" + strconv.Itoa(i))
		p := partitioner.Partition(&kgo.Record{Topic: topic, Key: key}, n)
		if !found[p] {
			found[p] = true
			keys = append(keys, key)
		}
	}
	return keys
}

// warmUpKeyTries bounds the candidate keys per partition warmUpKeys tries.
const warmUpKeyTries = 64

// verdict returns why the run is incomplete or failed, or nil.
func (r *benchRun) verdict(ctx context.Context) error {
	var problems []string
	switch {
	case errors.Is(context.Cause(ctx), errBenchTimeout):
		problems = append(problems, fmt.Sprintf("the run did not finish within --timeout %v", r.o.timeout))
	case ctx.Err() != nil:
		problems = append(problems, "interrupted")
	}
	if p := r.produce; p != nil && p.failed.Load() > 0 {
		problems = append(problems, fmt.Sprintf("%d records failed to produce, the first with: %v", p.failed.Load(), p.errs.get()))
	}
	if c := r.consume; c != nil && !c.allDone() && (r.o.mode == benchE2E || r.o.duration == 0) {
		got, _ := c.totals()
		msg := fmt.Sprintf("consumed only %d of %d records", got, c.expected())
		if first := c.errs.get(); first != nil {
			msg += fmt.Sprintf(", the first fetch error: %v", first)
		}
		problems = append(problems, msg)
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}
