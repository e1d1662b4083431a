// sluice consume: read records from a topic with kgo, alone or as a member
// of a consumer group, and print them with a template or as JSON.

package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	consumeOutputBufferBytes = 64 << 10
	// consumePollRecordsMax bounds one poll, so output is flushed at least
	// every this many records.
	consumePollRecordsMax = 10_000
)

type consumeOptions struct {
	client     clientOptions
	offset     string
	count      int
	group      string
	partitions []int32
	format     string
	exitAtEnd  bool
}

func consumeCommand() *cobra.Command {
	o := &consumeOptions{}
	cmd := &cobra.Command{
		Use:   "consume TOPIC...",
		Short: "Print records from topics",
		Long: `Print records from topics, until interrupted, until -n records were printed, or
with -e until the end of every partition as it was when consuming started.

-o chooses where to start: start (the log start), end (only new records), an
offset (for every partition; -o=-10 is 10 before the end), or @UNIX_MS (the
first record at or after that time). With --group the committed offsets come
first and -o applies only to partitions without a commit; printed records
are committed when the command ends.

` + recordFormatHelp,
		Example: `  sluice consume orders -o start -n 10 -f '%p/%o %k=%v %h\n'
  sluice consume orders -o @1700000000000 -f json
  sluice consume orders -g billing -n 100`,
		Args:              needArgs(1, -1, "topic name"),
		ValidArgsFunction: completeTopics(&o.client),
		RunE:              o.run,
	}
	fs := cmd.Flags()
	addClientFlags(fs, &o.client)
	fs.StringVarP(&o.offset, "offset", "o", "start", "where to start: start, end, OFFSET, -N (N before the end) or @UNIX_MS")
	fs.IntVarP(&o.count, "num", "n", 0, "exit after this many records (0: no limit)")
	fs.StringVarP(&o.group, "group", "g", "", "consume as a member of this consumer group and commit what was printed")
	fs.Int32SliceVarP(&o.partitions, "partition", "p", nil, "consume only these partitions (comma-separated or repeated; not with --group)")
	fs.StringVarP(&o.format, "format", "f", defaultRecordFormat, `"json" or a template such as '%k=%v\n' (see above)`)
	fs.BoolVarP(&o.exitAtEnd, "exit-at-end", "e", false, "exit at the end of every partition, as it was at the start (not with --group)")
	return withFlagHelp(cmd)
}

// startOffset is a parsed -o.
type startOffset struct {
	kind  string // "start", "end", "exact", "relative" or "time"
	value int64  // the offset, the distance before the end, or the Unix ms
}

func parseStartOffset(s string) (startOffset, error) {
	switch strings.ToLower(s) {
	case "start", "beginning", "earliest", "oldest":
		return startOffset{kind: "start"}, nil
	case "end", "latest", "newest":
		return startOffset{kind: "end"}, nil
	}
	if ms, ok := strings.CutPrefix(s, "@"); ok {
		v, err := strconv.ParseInt(ms, 10, 64)
		if err != nil || v < 0 {
			return startOffset{}, fmt.Errorf("-o %q must be @ followed by a Unix time in milliseconds", s)
		}
		return startOffset{kind: "time", value: v}, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return startOffset{}, fmt.Errorf("-o must be start, end, an offset, -N or @UNIX_MS, not %q", s)
	}
	if v < 0 {
		return startOffset{kind: "relative", value: -v}, nil
	}
	return startOffset{kind: "exact", value: v}, nil
}

// kgoOffset is where kgo starts a partition.
func (s startOffset) kgoOffset() kgo.Offset {
	switch s.kind {
	case "end":
		return kgo.NewOffset().AtEnd()
	case "exact":
		return kgo.NewOffset().At(s.value)
	case "relative":
		return kgo.NewOffset().AtEnd().Relative(-s.value)
	case "time":
		return kgo.NewOffset().AfterMilli(s.value)
	}
	return kgo.NewOffset().AtStart()
}

func (o *consumeOptions) validate() (startOffset, error) {
	start, err := parseStartOffset(o.offset)
	if err != nil {
		return start, err
	}
	switch {
	case o.count < 0:
		return start, fmt.Errorf("-n must be 0 (no limit) or more, not %d", o.count)
	case o.group != "" && len(o.partitions) > 0:
		return start, errors.New("--partition cannot be combined with --group: the group assigns partitions")
	case o.group != "" && o.exitAtEnd:
		return start, errors.New("--exit-at-end cannot be combined with --group; use -n")
	}
	for _, p := range o.partitions {
		if p < 0 {
			return start, fmt.Errorf("--partition must not be negative, not %d", p)
		}
	}
	return start, nil
}

func (o *consumeOptions) run(cmd *cobra.Command, topics []string) error {
	start, err := o.validate()
	if err != nil {
		return err
	}
	out := bufio.NewWriterSize(cmd.OutOrStdout(), consumeOutputBufferBytes)
	records, err := newRecordWriter(out, o.format)
	if err != nil {
		return err
	}
	// The first client only looks the topics up; the consuming client
	// needs the partitions to be known when it is created.
	lookup, err := newClient(&o.client)
	if err != nil {
		return err
	}
	defer lookup.close()
	ctx, cancel := lookup.context(cmd.Context())
	defer cancel()
	if err := lookup.reach(ctx); err != nil {
		return lookup.explain(err)
	}
	details, err := lookup.lookupTopics(ctx, topics...)
	if err != nil {
		return lookup.explain(err)
	}
	if err := o.checkPartitions(topics, details); err != nil {
		return err
	}
	var ends map[string]map[int32]int64
	if o.exitAtEnd {
		if ends, err = remainingEnds(ctx, lookup.adm, topics, start); err != nil {
			return lookup.explain(err)
		}
		keepPartitions(ends, o.partitions)
	}
	cancel()

	cl, err := newClient(&o.client, o.consumerOpts(topics, details, start)...)
	if err != nil {
		return err
	}
	defer cl.close()
	sigCtx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &consumer{cl: cl, out: out, records: records, limit: o.count, group: o.group, ends: ends, exitAtEnd: o.exitAtEnd}
	consumeErr := c.loop(sigCtx)
	if err := out.Flush(); err != nil && consumeErr == nil {
		consumeErr = fmt.Errorf("cannot write the output: %w", err)
	}
	if err := c.commit(cmd.Context()); err != nil && consumeErr == nil {
		consumeErr = err
	}
	return consumeErr
}

func (o *consumeOptions) checkPartitions(topics []string, details kadm.TopicDetails) error {
	for _, t := range topics {
		for _, p := range o.partitions {
			if _, ok := details[t].Partitions[p]; !ok {
				return fmt.Errorf("topic %q has %d partitions, so partition %d does not exist", t, len(details[t].Partitions), p)
			}
		}
	}
	return nil
}

func (o *consumeOptions) consumerOpts(topics []string, details kadm.TopicDetails, start startOffset) []kgo.Opt {
	offset := start.kgoOffset()
	opts := []kgo.Opt{kgo.ConsumeStartOffset(offset)}
	switch {
	case o.group != "":
		opts = append(opts,
			kgo.ConsumerGroup(o.group),
			kgo.ConsumeTopics(topics...),
			kgo.AutoCommitMarks(),
		)
	case len(o.partitions) > 0 || o.exitAtEnd:
		// Named partitions: those given, else every partition there is.
		assign := map[string]map[int32]kgo.Offset{}
		for _, t := range topics {
			assign[t] = map[int32]kgo.Offset{}
			partitions := o.partitions
			if len(partitions) == 0 {
				partitions = details[t].Partitions.Numbers()
			}
			for _, p := range partitions {
				assign[t][p] = offset
			}
		}
		opts = append(opts, kgo.ConsumePartitions(assign))
	default:
		opts = append(opts, kgo.ConsumeTopics(topics...))
	}
	return opts
}

// remainingEnds returns, for each partition that has records at or after
// where consuming starts, its current end offset; -e exits once every one
// was reached.
func remainingEnds(ctx context.Context, adm *kadm.Client, topics []string, start startOffset) (map[string]map[int32]int64, error) {
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	var after kadm.ListedOffsets
	if start.kind == "time" {
		if after, err = adm.ListOffsetsAfterMilli(ctx, start.value, topics...); err != nil {
			return nil, err
		}
	}
	return remainingPartitions(start, starts, ends, after), nil
}

// remainingPartitions returns the end offset of each partition whose
// records from where consuming starts (-o, bounded by starts and ends, or
// the first offset after the time for @UNIX_MS) do not reach its end.
func remainingPartitions(start startOffset, starts, ends, after kadm.ListedOffsets) map[string]map[int32]int64 {
	remaining := map[string]map[int32]int64{}
	ends.Each(func(e kadm.ListedOffset) {
		if e.Err != nil || e.Partition < 0 {
			return
		}
		begin, _ := starts.Lookup(e.Topic, e.Partition)
		from := begin.Offset
		switch start.kind {
		case "end":
			from = e.Offset
		case "exact":
			from = min(max(start.value, begin.Offset), e.Offset)
		case "relative":
			from = max(e.Offset-start.value, begin.Offset)
		case "time":
			if a, ok := after.Lookup(e.Topic, e.Partition); ok && a.Err == nil && a.Offset >= 0 {
				from = a.Offset
			} else {
				from = e.Offset
			}
		}
		if from < e.Offset {
			if remaining[e.Topic] == nil {
				remaining[e.Topic] = map[int32]int64{}
			}
			remaining[e.Topic][e.Partition] = e.Offset
		}
	})
	return remaining
}

// keepPartitions drops from ends the partitions not named by --partition.
func keepPartitions(ends map[string]map[int32]int64, partitions []int32) {
	if len(partitions) == 0 {
		return
	}
	for _, ps := range ends {
		for p := range ps {
			if !slices.Contains(partitions, p) {
				delete(ps, p)
			}
		}
	}
}

// consumer is one consume run.
type consumer struct {
	cl        *client
	out       *bufio.Writer
	records   *recordWriter
	limit     int    // 0: no limit
	group     string // "" when not in a group
	exitAtEnd bool
	ends      map[string]map[int32]int64 // with -e: partitions not yet at their end
	printed   int
}

// loop polls and prints until the limit, the end (-e), an interrupt or a
// fetch error.
func (c *consumer) loop(ctx context.Context) error {
	for !c.done() {
		want := consumePollRecordsMax
		if c.limit > 0 {
			want = min(want, c.limit-c.printed)
		}
		fetches := c.cl.kgo.PollRecords(ctx, want)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		if err := c.fetchError(fetches); err != nil {
			return err
		}
		var writeErr error
		fetches.EachRecord(func(r *kgo.Record) {
			if writeErr != nil {
				return
			}
			if writeErr = c.records.write(r); writeErr != nil {
				return
			}
			c.printed++
			if c.group != "" {
				c.cl.kgo.MarkCommitRecords(r)
			}
			if end, ok := c.ends[r.Topic][r.Partition]; ok && r.Offset+1 >= end {
				delete(c.ends[r.Topic], r.Partition)
			}
		})
		if writeErr == nil {
			writeErr = c.out.Flush()
		}
		if writeErr != nil {
			return fmt.Errorf("cannot write the output: %w", writeErr)
		}
	}
	return nil
}

func (c *consumer) done() bool {
	if c.limit > 0 && c.printed >= c.limit {
		return true
	}
	if !c.exitAtEnd {
		return false
	}
	for _, ps := range c.ends {
		if len(ps) > 0 {
			return false
		}
	}
	return true
}

// fetchError returns the first fetch error as one sentence.
func (c *consumer) fetchError(fetches kgo.Fetches) error {
	for _, fe := range fetches.Errors() {
		if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, kgo.ErrClientClosed) {
			continue
		}
		if !c.cl.dials.connected.Load() {
			return c.cl.explain(fe.Err)
		}
		if fe.Partition < 0 {
			return fmt.Errorf("cannot consume topic %q: %s", fe.Topic, kafkaReason(fe.Err, ""))
		}
		return fmt.Errorf("cannot consume topic %q partition %d: %s", fe.Topic, fe.Partition, kafkaReason(fe.Err, ""))
	}
	return nil
}

// commit commits the printed records' offsets before the client leaves
// the group, bounded by --timeout.
func (c *consumer) commit(parent context.Context) error {
	if c.group == "" {
		return nil
	}
	ctx, cancel := c.cl.context(context.WithoutCancel(parent))
	defer cancel()
	if err := c.cl.kgo.CommitMarkedOffsets(ctx); err != nil {
		return fmt.Errorf("cannot commit the offsets of group %q: %s", c.group, kafkaReason(c.cl.explain(err), ""))
	}
	return nil
}
