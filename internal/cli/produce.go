// sluice produce: one record per stdin line, produced with kgo. Records go
// out asynchronously (kgo batches them and bounds what it buffers, so a
// large file does not grow memory); the first failed record stops the run.

package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/kclient"
)

const (
	// produceLineBytesMax is the longest stdin line accepted; brokers
	// refuse far smaller records by default (message.max.bytes, 1 MiB).
	produceLineBytesMax = 64 << 20
	// produceBufferedBytesMax bounds the bytes kgo holds unacknowledged.
	produceBufferedBytesMax = 64 << 20
	produceReadBufferBytes  = 64 << 10
)

type produceOptions struct {
	client       clientOptions
	keySeparator string
	headers      []string
	partition    int32
	compression  string
	acks         string
	verbose      bool
	noProgress   bool
}

func produceCommand() *cobra.Command {
	o := &produceOptions{}
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce one record per line of standard input",
		Long: `Produce one record per line of standard input. The line's newline is not part
of the record; with --key-separator the text before the first separator is
the key (a line without it has no key). Headers given with -H go on every
record. With -v each record's partition and offset are printed as it is
acknowledged; a progress bar is drawn on standard error when it is a terminal.`,
		Example: `  printf 'k1:hello\nk2:world\n' | sluice produce orders -K : -H source=cli -v
  sluice produce orders --acks 1 --compression zstd < events.txt`,
		Args:              needArgs(1, 1, "topic name"),
		ValidArgsFunction: completeTopics(&o.client),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args[0])
		},
	}
	fs := cmd.Flags()
	addClientFlags(fs, &o.client)
	fs.StringVarP(&o.keySeparator, "key-separator", "K", "", "split each line into key and value at the first occurrence of this text")
	fs.StringArrayVarP(&o.headers, "header", "H", nil, "record header as key=value, on every record (repeatable)")
	fs.Int32VarP(&o.partition, "partition", "p", -1, "produce to this partition (-1: by key hash, or spread when there is no key)")
	fs.StringVarP(&o.compression, "compression", "z", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	fs.StringVar(&o.acks, "acks", "all", "acknowledgements to wait for: all (-1), 1 or 0")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "print the partition and offset of each record")
	fs.BoolVar(&o.noProgress, "no-progress", false, "never draw the progress bar")
	return withFlagHelp(cmd)
}

// producerOpts turns --compression and --acks into kgo options.
func (o *produceOptions) producerOpts() ([]kgo.Opt, error) {
	name := strings.ToLower(o.compression)
	if name == "" {
		name = "none"
	}
	codec, ok := kclient.Compression(name)
	if !ok {
		return nil, fmt.Errorf("--compression must be none, gzip, snappy, lz4 or zstd, not %q", o.compression)
	}
	acks, ok := kclient.Acks(o.acks)
	if !ok {
		return nil, fmt.Errorf("--acks must be all, -1, 1 or 0, not %q", o.acks)
	}
	opts := []kgo.Opt{
		kgo.ProducerBatchCompression(codec),
		kgo.AllowAutoTopicCreation(),
		kgo.MaxBufferedBytes(produceBufferedBytesMax),
		kgo.RecordDeliveryTimeout(o.client.timeout),
		kgo.RequiredAcks(acks),
	}
	if o.acks == "1" || o.acks == "0" {
		// kgo's idempotent producer requires acks=all.
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if o.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	} else if o.partition != -1 {
		return nil, fmt.Errorf("--partition must be a partition number or -1, not %d", o.partition)
	}
	return opts, nil
}

func (o *produceOptions) run(cmd *cobra.Command, topic string) error {
	headers, err := parseHeaders(o.headers)
	if err != nil {
		return err
	}
	opts, err := o.producerOpts()
	if err != nil {
		return err
	}
	cl, err := newClient(&o.client, opts...)
	if err != nil {
		return err
	}
	defer cl.close()
	if err := o.checkTopic(cmd.Context(), cl, topic); err != nil {
		return cl.explain(err)
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := &producer{
		cl: cl, topic: topic, partition: o.partition, keySeparator: []byte(o.keySeparator),
		headers: headers, verbose: o.verbose, out: cmd.OutOrStdout(),
	}
	in := &countingReader{r: cmd.InOrStdin()}
	progress := startProgress(cmd.ErrOrStderr(), in, &p.acked, !o.noProgress)
	err = p.produceLines(ctx, in)
	progress.stop()
	return err
}

// checkTopic fails early for an unreachable broker and for a partition the
// topic does not have. A missing topic is left to the broker, which creates
// it when auto.create.topics.enable is on.
func (o *produceOptions) checkTopic(parent context.Context, cl *client, topic string) error {
	ctx, cancel := cl.context(parent)
	defer cancel()
	if err := cl.reach(ctx); err != nil {
		return err
	}
	details, err := cl.adm.ListTopicsWithInternal(ctx, topic)
	if err != nil {
		return err
	}
	d, ok := details[topic]
	if !ok || d.Err != nil || o.partition < 0 {
		return nil
	}
	if n := len(d.Partitions); int(o.partition) >= n {
		return fmt.Errorf("topic %q has %d partitions, so partition %d does not exist", topic, n, o.partition)
	}
	return nil
}

func parseHeaders(pairs []string) ([]kgo.RecordHeader, error) {
	var headers []kgo.RecordHeader
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-H %q must look like key=value", kv)
		}
		headers = append(headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return headers, nil
}

// producer is one produce run.
type producer struct {
	cl           *client
	topic        string
	partition    int32
	keySeparator []byte
	headers      []kgo.RecordHeader
	verbose      bool

	acked atomic.Int64 // records acknowledged, for the progress bar

	failMu  sync.Mutex
	failErr error // guarded by failMu; the first failed record's sentence

	outMu sync.Mutex // serializes -v lines from concurrent callbacks
	out   io.Writer
}

// produceLines reads lines until EOF, an interrupt or the first failed
// record, then waits for everything in flight.
func (p *producer) produceLines(parent context.Context, in io.Reader) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, produceReadBufferBytes), produceLineBytesMax)
	sc.Split(scanLinesKeepCR)
	line := 0
	for sc.Scan() && ctx.Err() == nil {
		line++
		rec := p.record(sc.Bytes())
		n := line
		p.cl.kgo.Produce(ctx, rec, func(r *kgo.Record, err error) {
			if err != nil {
				p.fail(n, err, cancel)
				return
			}
			p.acked.Add(1)
			if p.verbose {
				p.printDelivered(n, r)
			}
		})
	}
	readErr := sc.Err()
	// Flush is bounded: every record has a delivery timeout.
	p.cl.kgo.Flush(context.WithoutCancel(ctx))
	switch failErr := p.firstFailure(); {
	case failErr != nil:
		return failErr
	case errors.Is(readErr, bufio.ErrTooLong):
		return fmt.Errorf("line %d is longer than %d MiB", line+1, produceLineBytesMax>>20)
	case readErr != nil:
		return fmt.Errorf("cannot read standard input after line %d: %w", line, readErr)
	case parent.Err() != nil:
		return fmt.Errorf("interrupted after producing %d records", p.acked.Load())
	}
	return nil
}

// record builds one record; the line's bytes are copied because the
// scanner reuses its buffer.
func (p *producer) record(line []byte) *kgo.Record {
	rec := &kgo.Record{Topic: p.topic, Partition: p.partition, Headers: p.headers}
	value := line
	if len(p.keySeparator) > 0 {
		if i := bytes.Index(line, p.keySeparator); i >= 0 {
			rec.Key = bytes.Clone(line[:i])
			value = line[i+len(p.keySeparator):]
		}
	}
	rec.Value = append([]byte{}, value...)
	return rec
}

func (p *producer) printDelivered(line int, r *kgo.Record) {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	offset := strconv.FormatInt(r.Offset, 10)
	if r.Offset < 0 {
		offset = "unknown (acks=0)"
	}
	fmt.Fprintf(p.out, "line %d: partition %d, offset %s\n", line, r.Partition, offset)
}

// fail keeps the first record failure, in one sentence, and stops
// reading. Records cancelled by an interrupt are not failures.
func (p *producer) fail(line int, err error, stop context.CancelFunc) {
	if errors.Is(err, context.Canceled) {
		return
	}
	p.failMu.Lock()
	defer p.failMu.Unlock()
	if p.failErr == nil {
		p.failErr = p.explainFailure(line, err)
		stop()
	}
}

func (p *producer) firstFailure() error {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	return p.failErr
}

func (p *producer) explainFailure(line int, err error) error {
	var ke *kerr.Error
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return errNoTopic(p.topic)
	case errors.As(err, &ke):
		return fmt.Errorf("cannot produce line %d to topic %q: %s", line, p.topic, kafkaReason(err, ""))
	case !p.cl.dials.connected.Load():
		return p.cl.explain(err)
	}
	if addr, _ := p.cl.dials.lastFailure(); addr == "" && (errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("the broker did not acknowledge line %d within %s", line, p.cl.timeout)
	}
	if isTransportError(err) {
		return p.cl.explain(err)
	}
	return fmt.Errorf("cannot produce line %d to topic %q: %w", line, p.topic, err)
}

// scanLinesKeepCR splits at '\n' only, so a record keeps any '\r' it had:
// what is produced is byte for byte what was on the line.
func scanLinesKeepCR(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// countingReader counts the bytes read, for the progress bar.
type countingReader struct {
	r     io.Reader
	total atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.total.Add(int64(n))
	return n, err
}
