package bench

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/kclient"
)

// benchMode is which of the three benchmarks runs.
type benchMode int

const (
	benchProduce benchMode = iota
	benchConsume
	benchE2E
)

func (m benchMode) String() string {
	return [...]string{"produce", "consume", "e2e"}[m]
}

func (m benchMode) produces() bool { return m != benchConsume }
func (m benchMode) consumes() bool { return m != benchProduce }

// Limits on what the flags accept: a benchmark that asks for more is a typo.
const (
	benchClientsMax      = 256
	benchPartitionsMax   = 10_000
	benchRecordBytesMax  = 64 << 20
	benchBatchBytesMin   = 512 // kgo's own lower bound
	benchBatchBytesMax   = 1 << 30
	benchStampBytes      = 16 // send time and run id at the start of each value
	benchProgressEvery   = time.Second
	benchDefaultTopic    = "sluice-bench"
	benchDefaultTimeout  = 10 * time.Minute
	benchBufferBytesMax  = 1 << 30
	benchDefaultBatchMax = 1_000_000
)

// benchOptions are the flags of one run.
type benchOptions struct {
	mode benchMode

	brokers           string
	settings          []string  // -X key=value client security settings
	security          []kgo.Opt // parsed from settings by validate
	topic             string
	partitions        int32
	replicationFactor int16
	records           int64
	duration          time.Duration
	timeout           time.Duration
	recordSize        int
	format            string
	quiet             bool

	producers     int
	acks          string
	idempotent    bool
	idempotentSet bool // --idempotent given explicitly
	linger        time.Duration
	batchMaxBytes int
	compression   string
	maxInflight   int
	rate          float64
	bufferBytes   int

	consumers int
	groups    int
	group     string
}

// Command returns the bench command with its produce, consume and e2e
// subcommands, for the root command to add.
func Command() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a Kafka-compatible broker: produce, consume and end-to-end latency",
		Long: `Measure any Kafka-compatible broker with a franz-go client, like Kafka's
kafka-producer-perf-test and kafka-consumer-perf-test. Progress goes to
stderr once a second; the summary goes to stdout (one JSON line with
--format json). MB means 2^20 bytes of record values, as in Kafka's tools.

The standard workloads (W1, W2, W1K, W3) are in docs/bench.md and
scripts/bench.`,
	}
	for _, m := range []benchMode{benchProduce, benchConsume, benchE2E} {
		cmd.AddCommand(benchSubcommand(m))
	}
	return cmd
}

var benchShort = [...]string{
	benchProduce: "Produce records as fast as possible (or at --rate) and report records/s, MB/s and ack latency",
	benchConsume: "Consume a topic from the start and report records/s, MB/s and the time to the first record",
	benchE2E:     "Produce and tail-consume at once and report end-to-end latency from the scheduled send time",
}

func benchSubcommand(mode benchMode) *cobra.Command {
	o := &benchOptions{mode: mode}
	cmd := &cobra.Command{
		Use:   mode.String(),
		Short: benchShort[mode],
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.idempotentSet = cmd.Flags().Changed("idempotent")
			if err := o.validate(); err != nil {
				return err
			}
			return runBench(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	addBenchFlags(cmd, o)
	return cmd
}

func addBenchFlags(cmd *cobra.Command, o *benchOptions) {
	f := cmd.Flags()
	f.StringVarP(&o.brokers, "brokers", "b", kclient.Brokers(""), "comma-separated seed brokers (default from $"+kclient.BrokersEnv+")")
	f.StringArrayVarP(&o.settings, "setting", "X", nil, "client setting key=value, as kcat's -X (security.protocol, sasl.mechanism, sasl.username, sasl.password, ssl.ca.location, ...); repeatable")
	f.StringVar(&o.topic, "topic", benchDefaultTopic, "topic to use")
	f.Int64Var(&o.records, "records", 0, "records to produce (or, for consume, to read; 0: all there are)")
	f.DurationVar(&o.duration, "duration", 0, "stop producing (or consuming) after this long")
	f.DurationVar(&o.timeout, "timeout", benchDefaultTimeout, "fail if the run has not finished after this long")
	f.StringVar(&o.format, "format", "text", "summary format: text or json")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress lines on stderr")
	if o.mode.produces() {
		f.Int32Var(&o.partitions, "partitions", 8, "partitions of the topic when it is created")
		f.Int16Var(&o.replicationFactor, "replication-factor", -1, "replication factor of the topic when it is created (-1: the broker's default)")
		f.IntVar(&o.recordSize, "record-size", 100, "bytes in each record value (e2e needs at least 16)")
		f.IntVar(&o.producers, "producers", 1, "producer clients")
		f.StringVar(&o.acks, "acks", "all", "acks: all, 1 or 0")
		f.BoolVar(&o.idempotent, "idempotent", true, "idempotent producer (only with --acks all)")
		f.DurationVar(&o.linger, "linger", 5*time.Millisecond, "how long a producer waits to fill a batch")
		f.IntVar(&o.batchMaxBytes, "batch-max-bytes", benchDefaultBatchMax, "largest record batch in bytes")
		f.StringVar(&o.compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
		f.IntVar(&o.maxInflight, "max-inflight", 5, "produce requests in flight per broker (an idempotent producer always uses 5)")
		f.Float64Var(&o.rate, "rate", 0, "records per second over all producers (0: as fast as possible)")
		f.IntVar(&o.bufferBytes, "buffer-bytes", 32<<20, "bytes of records each producer buffers before Produce blocks (Java's buffer.memory)")
	}
	if o.mode.consumes() {
		f.IntVar(&o.consumers, "consumers", 1, "consumers in each group (without --group they split the partitions)")
		f.IntVar(&o.groups, "groups", 1, "independent consumer groups, each reading every record (fan-out)")
		f.StringVar(&o.group, "group", "", "consumer group name (more groups are named NAME-0, NAME-1, …; none: partitions are assigned directly)")
	}
}

// validate checks the flags and returns one sentence for the first problem.
func (o *benchOptions) validate() error {
	if err := o.validateCommon(); err != nil {
		return err
	}
	if o.mode.produces() {
		if err := o.validateProducer(); err != nil {
			return err
		}
	}
	if o.mode.consumes() {
		return o.validateConsumer()
	}
	return nil
}

func (o *benchOptions) validateCommon() error {
	settings, err := kclient.ParseSettings(append(kclient.SettingsEnv(os.LookupEnv), o.settings...))
	if err == nil {
		o.security, err = settings.Options()
	}
	if err != nil {
		return fmt.Errorf("-X: %w", err)
	}
	switch {
	case strings.Trim(o.brokers, ", ") == "":
		return fmt.Errorf("--brokers is empty: give host:port of at least one broker")
	case o.topic == "":
		return fmt.Errorf("--topic is empty")
	case o.records < 0:
		return fmt.Errorf("--records %d is negative", o.records)
	case o.duration < 0:
		return fmt.Errorf("--duration %v is negative", o.duration)
	case o.timeout <= 0:
		return fmt.Errorf("--timeout %v must be positive", o.timeout)
	case o.duration > 0 && o.timeout <= o.duration:
		return fmt.Errorf("--timeout %v must be longer than --duration %v", o.timeout, o.duration)
	case o.format != "text" && o.format != "json":
		return fmt.Errorf("--format %q is not text or json", o.format)
	case o.mode.produces() && o.records == 0 && o.duration == 0:
		return fmt.Errorf("sluice bench %s needs --records or --duration", o.mode)
	}
	return nil
}

func (o *benchOptions) validateProducer() error {
	switch {
	case o.partitions < 1 || o.partitions > benchPartitionsMax:
		return fmt.Errorf("--partitions %d is not between 1 and %d", o.partitions, benchPartitionsMax)
	case o.replicationFactor == 0 || o.replicationFactor < -1:
		return fmt.Errorf("--replication-factor %d must be -1 (the broker's default) or at least 1", o.replicationFactor)
	case o.recordSize < 1 || o.recordSize > benchRecordBytesMax:
		return fmt.Errorf("--record-size %d is not between 1 and %d bytes", o.recordSize, benchRecordBytesMax)
	case o.mode == benchE2E && o.recordSize < benchStampBytes:
		return fmt.Errorf("--record-size %d is too small: e2e stamps the send time in the first %d bytes of each value", o.recordSize, benchStampBytes)
	case o.producers < 1 || o.producers > benchClientsMax:
		return fmt.Errorf("--producers %d is not between 1 and %d", o.producers, benchClientsMax)
	case o.acks != "all" && o.acks != "-1" && o.acks != "1" && o.acks != "0":
		return fmt.Errorf("--acks %q is not all, 1 or 0", o.acks)
	case o.idempotentSet && o.idempotent && !o.acksAll():
		return fmt.Errorf("an idempotent producer needs --acks all (or give --idempotent=false)")
	case o.linger < 0:
		return fmt.Errorf("--linger %v is negative", o.linger)
	case o.batchMaxBytes < benchBatchBytesMin || o.batchMaxBytes > benchBatchBytesMax:
		return fmt.Errorf("--batch-max-bytes %d is not between %d and %d", o.batchMaxBytes, benchBatchBytesMin, benchBatchBytesMax)
	case o.maxInflight < 1:
		return fmt.Errorf("--max-inflight %d must be at least 1", o.maxInflight)
	case o.rate < 0:
		return fmt.Errorf("--rate %v is negative", o.rate)
	case o.bufferBytes < o.recordSize || o.bufferBytes > benchBufferBytesMax:
		return fmt.Errorf("--buffer-bytes %d is not between the record size and %d", o.bufferBytes, benchBufferBytesMax)
	}
	if _, err := compressionCodec(o.compression); err != nil {
		return err
	}
	if !o.acksAll() {
		o.idempotent = false
	}
	return nil
}

func (o *benchOptions) validateConsumer() error {
	switch {
	case o.consumers < 1 || o.consumers > benchClientsMax:
		return fmt.Errorf("--consumers %d is not between 1 and %d", o.consumers, benchClientsMax)
	case o.groups < 1 || o.groups*o.consumers > benchClientsMax:
		return fmt.Errorf("--groups %d times --consumers %d must be between 1 and %d clients", o.groups, o.consumers, benchClientsMax)
	}
	return nil
}

func (o *benchOptions) acksAll() bool { return o.acks == "all" || o.acks == "-1" }

// seedBrokers splits --brokers.
func (o *benchOptions) seedBrokers() []string { return kclient.SplitBrokers(o.brokers) }

// groupName is the name of consumer group i, or "" for direct assignment.
func (o *benchOptions) groupName(i int) string {
	switch {
	case o.group == "":
		return ""
	case o.groups == 1:
		return o.group
	default:
		return fmt.Sprintf("%s-%d", o.group, i)
	}
}
