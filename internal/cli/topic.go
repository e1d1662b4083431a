// sluice topic: create, list, describe, alter-config, add-partitions and
// delete topics with CreateTopics, Metadata, ListOffsets, DescribeLogDirs,
// DescribeConfigs, IncrementalAlterConfigs, CreatePartitions and
// DeleteTopics.

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// adminFlags are the flags shared by the subcommands of topic, group and
// cluster.
type adminFlags struct {
	client clientOptions
	format string
}

// newAdminParent returns a command grouping admin subcommands under the
// shared persistent flags.
func newAdminParent(use, short string, f *adminFlags) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs}
	addClientFlags(cmd.PersistentFlags(), &f.client)
	addFormatFlag(cmd.PersistentFlags(), &f.format)
	return withFlagHelp(cmd)
}

// adminCall is the body of an admin subcommand: it asks the cluster
// through cl and prints to w, as JSON when asJSON is set, else a table.
type adminCall func(ctx context.Context, cl *client, w io.Writer, asJSON bool) error

// run checks --format, opens a client, and calls fn with a context bounded
// by --timeout. Flags must be validated before run: an error from fn
// before any broker answered is reported as an unreachable broker.
func (f *adminFlags) run(cmd *cobra.Command, fn adminCall) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	cl, err := newClient(&f.client)
	if err != nil {
		return err
	}
	defer cl.close()
	ctx, cancel := cl.context(cmd.Context())
	defer cancel()
	if err := cl.reach(ctx); err != nil {
		return cl.explain(err)
	}
	return cl.explain(fn(ctx, cl, cmd.OutOrStdout(), f.format == formatJSON))
}

func topicCommand() *cobra.Command {
	f := &adminFlags{}
	cmd := newAdminParent("topic", "Create, list, describe, alter and delete topics", f)
	cmd.AddCommand(
		topicCreateCommand(f),
		topicListCommand(f),
		topicDescribeCommand(f),
		topicDeleteCommand(f),
		topicAlterConfigCommand(f),
		topicAddPartitionsCommand(f),
	)
	return cmd
}

// parseKeyValues parses repeated key=value flags into Kafka config values.
func parseKeyValues(flag string, pairs []string) (map[string]*string, error) {
	out := make(map[string]*string, len(pairs))
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q must look like key=value", flag, kv)
		}
		out[k] = &v
	}
	return out, nil
}

// lookupTopics reads metadata for topics and fails with one sentence for
// the first one that does not exist.
func (c *client) lookupTopics(ctx context.Context, topics ...string) (kadm.TopicDetails, error) {
	details, err := c.adm.ListTopicsWithInternal(ctx, topics...)
	if err != nil {
		return nil, err
	}
	for _, t := range topics {
		d, ok := details[t]
		if !ok {
			return nil, errNoTopic(t)
		}
		if d.Err != nil {
			return nil, topicError(t, d.Err)
		}
	}
	return details, nil
}

// joinFailures makes one sentence of per-name failures.
func joinFailures(verb string, total int, failures []string) error {
	switch len(failures) {
	case 0:
		return nil
	case 1:
		if total == 1 {
			return errors.New(failures[0])
		}
	}
	return fmt.Errorf("%s %d of %d failed: %s", verb, len(failures), total, strings.Join(failures, "; "))
}

func topicCreateCommand(f *adminFlags) *cobra.Command {
	var (
		partitions int32
		replicas   int16
		configs    []string
		dryRun     bool
	)
	cmd := &cobra.Command{
		Use:     "create TOPIC...",
		Short:   "Create topics",
		Example: `  sluice topic create orders -p 6 -r 3 -c retention.ms=86400000 -c cleanup.policy=compact`,
		Args:    needArgs(1, -1, "topic name"),
		RunE: func(cmd *cobra.Command, topics []string) error {
			req, err := parseCreate(partitions, replicas, configs, dryRun)
			if err != nil {
				return err
			}
			return f.run(cmd, func(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
				return req.create(ctx, cl, w, asJSON, topics)
			})
		},
	}
	cmd.Flags().Int32VarP(&partitions, "partitions", "p", -1, "number of partitions (-1: the broker's num.partitions)")
	cmd.Flags().Int16VarP(&replicas, "replicas", "r", -1, "replication factor (-1: the broker's default.replication.factor)")
	cmd.Flags().StringArrayVarP(&configs, "config", "c", nil, "topic config as key=value (repeatable)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only validate the request")
	return cmd
}

// createRequest is a checked topic create.
type createRequest struct {
	partitions int32
	replicas   int16
	configs    map[string]*string
	dryRun     bool
}

// parseCreate checks topic create's flags.
func parseCreate(partitions int32, replicas int16, configs []string, dryRun bool) (createRequest, error) {
	values, err := parseKeyValues("-c", configs)
	if err != nil {
		return createRequest{}, err
	}
	if partitions == 0 || partitions < -1 {
		return createRequest{}, fmt.Errorf("-p must be at least 1 (or -1 for the broker's default), not %d", partitions)
	}
	if replicas == 0 || replicas < -1 {
		return createRequest{}, fmt.Errorf("-r must be at least 1 (or -1 for the broker's default), not %d", replicas)
	}
	return createRequest{partitions: partitions, replicas: replicas, configs: values, dryRun: dryRun}, nil
}

// create creates topics (or only validates them with --dry-run) and
// prints the outcome.
func (r createRequest) create(ctx context.Context, cl *client, w io.Writer, asJSON bool, topics []string) error {
	create := cl.adm.CreateTopics
	if r.dryRun {
		create = cl.adm.ValidateCreateTopics
	}
	resps, err := create(ctx, r.partitions, r.replicas, r.configs, topics...)
	if err != nil {
		return err
	}
	return printCreated(w, asJSON, topics, resps, r.dryRun)
}

type createdTopicJSON struct {
	Topic      string `json:"topic"`
	ID         string `json:"id,omitempty"`
	Partitions int32  `json:"partitions"`
	Replicas   int16  `json:"replicas"`
	Error      string `json:"error,omitempty"`
}

func printCreated(w io.Writer, asJSON bool, topics []string, resps kadm.CreateTopicResponses, dryRun bool) error {
	var out []createdTopicJSON
	var failures []string
	for _, t := range topics {
		r := resps[t]
		row := createdTopicJSON{Topic: t, Partitions: r.NumPartitions, Replicas: r.ReplicationFactor}
		if r.ID != (kadm.TopicID{}) {
			row.ID = r.ID.String()
		}
		if r.Err != nil {
			row.Error = kafkaReason(r.Err, r.ErrMessage)
			if errors.Is(r.Err, kerr.TopicAlreadyExists) {
				failures = append(failures, fmt.Sprintf("topic %q already exists", t))
			} else {
				failures = append(failures, fmt.Sprintf("cannot create topic %q: %s", t, row.Error))
			}
		}
		out = append(out, row)
	}
	if asJSON {
		if err := printJSON(w, out); err != nil {
			return err
		}
	} else if len(failures) < len(topics) {
		status := "created"
		if dryRun {
			status = "valid (dry run)"
		}
		tw := newTable(w)
		row(tw, "TOPIC", "PARTITIONS", "REPLICAS", "STATUS")
		for _, r := range out {
			if r.Error == "" {
				row(tw, r.Topic, r.Partitions, r.Replicas, status)
			}
		}
		tw.Flush()
	}
	return joinFailures("creating topics:", len(topics), failures)
}

func topicListCommand(f *adminFlags) *cobra.Command {
	var internal bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, func(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
				return listTopics(ctx, cl, w, asJSON, internal)
			})
		},
	}
	cmd.Flags().BoolVarP(&internal, "internal", "i", false, "include internal topics such as __consumer_offsets")
	return cmd
}

// listTopics prints the topics, with the internal ones if internal is set.
func listTopics(ctx context.Context, cl *client, w io.Writer, asJSON, internal bool) error {
	details, err := cl.adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return err
	}
	return printTopicList(w, asJSON, details, internal)
}

type listedTopicJSON struct {
	Topic      string `json:"topic"`
	ID         string `json:"id,omitempty"`
	Partitions int    `json:"partitions"`
	Replicas   int    `json:"replicas"`
	Internal   bool   `json:"internal"`
	Error      string `json:"error,omitempty"`
}

func printTopicList(w io.Writer, asJSON bool, details kadm.TopicDetails, internal bool) error {
	out := []listedTopicJSON{}
	for _, d := range details.Sorted() {
		if d.IsInternal && !internal {
			continue
		}
		t := listedTopicJSON{Topic: d.Topic, Partitions: len(d.Partitions), Replicas: d.Partitions.NumReplicas(), Internal: d.IsInternal}
		if d.ID != (kadm.TopicID{}) {
			t.ID = d.ID.String()
		}
		if d.Err != nil {
			t.Error = kafkaReason(d.Err, "")
		}
		out = append(out, t)
	}
	if asJSON {
		return printJSON(w, out)
	}
	tw := newTable(w)
	row(tw, "TOPIC", "PARTITIONS", "REPLICAS")
	for _, t := range out {
		name := t.Topic
		if t.Internal {
			name += " (internal)"
		}
		if t.Error != "" {
			row(tw, name, "-", "-", t.Error)
			continue
		}
		row(tw, name, t.Partitions, t.Replicas)
	}
	return tw.Flush()
}

func topicDeleteCommand(f *adminFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:               "delete TOPIC...",
		Aliases:           []string{"rm"},
		Short:             "Delete topics and all their records",
		Args:              needArgs(1, -1, "topic name"),
		ValidArgsFunction: completeTopics(&f.client),
		RunE: func(cmd *cobra.Command, topics []string) error {
			return f.run(cmd, func(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
				return deleteTopics(ctx, cl, w, asJSON, topics)
			})
		},
	}
	return cmd
}

// deleteTopics deletes topics and prints each outcome.
func deleteTopics(ctx context.Context, cl *client, w io.Writer, asJSON bool, topics []string) error {
	resps, err := cl.adm.DeleteTopics(ctx, topics...)
	if err != nil {
		return err
	}
	return printDeletedTopics(w, asJSON, topics, resps)
}

// deletedTopic is one row of topic delete's output.
type deletedTopic struct {
	Topic string `json:"topic"`
	Error string `json:"error,omitempty"`
}

// deletedTopics pairs each topic with its outcome, in the order given,
// and returns the failures as sentences.
func deletedTopics(topics []string, resps kadm.DeleteTopicResponses) (out []deletedTopic, failures []string) {
	for _, t := range topics {
		r, ok := resps[t]
		d := deletedTopic{Topic: t}
		switch {
		case !ok || errors.Is(r.Err, kerr.UnknownTopicOrPartition):
			d.Error = errNoTopic(t).Error()
			failures = append(failures, d.Error)
		case r.Err != nil:
			d.Error = kafkaReason(r.Err, r.ErrMessage)
			failures = append(failures, fmt.Sprintf("cannot delete topic %q: %s", t, d.Error))
		}
		out = append(out, d)
	}
	return out, failures
}

func printDeletedTopics(w io.Writer, asJSON bool, topics []string, resps kadm.DeleteTopicResponses) error {
	out, failures := deletedTopics(topics, resps)
	if asJSON {
		if err := printJSON(w, out); err != nil {
			return err
		}
	} else if len(failures) < len(topics) {
		tw := newTable(w)
		row(tw, "TOPIC", "STATUS")
		for _, d := range out {
			if d.Error == "" {
				row(tw, d.Topic, "deleted")
			}
		}
		tw.Flush()
	}
	return joinFailures("deleting topics:", len(topics), failures)
}

func topicAlterConfigCommand(f *adminFlags) *cobra.Command {
	var set, del, appendTo, subtract []string
	cmd := &cobra.Command{
		Use:   "alter-config TOPIC...",
		Short: "Set or delete topic config overrides (IncrementalAlterConfigs)",
		Example: `  sluice topic alter-config orders --set retention.ms=3600000 --delete cleanup.policy
  sluice topic alter-config orders --append cleanup.policy=compact`,
		Args:              needArgs(1, -1, "topic name"),
		ValidArgsFunction: completeTopics(&f.client),
		RunE: func(cmd *cobra.Command, topics []string) error {
			alters, err := parseAlters(set, del, appendTo, subtract)
			if err != nil {
				return err
			}
			return f.run(cmd, func(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
				return alterConfigs(ctx, cl, w, asJSON, topics, alters)
			})
		},
	}
	cmd.Flags().StringArrayVarP(&set, "set", "s", nil, "set a config, as key=value (repeatable)")
	cmd.Flags().StringArrayVarP(&del, "delete", "d", nil, "delete a config override, back to the default (repeatable)")
	cmd.Flags().StringArrayVar(&appendTo, "append", nil, "append a value to a list config, as key=value (repeatable)")
	cmd.Flags().StringArrayVar(&subtract, "subtract", nil, "remove a value from a list config, as key=value (repeatable)")
	return cmd
}

// parseAlters turns the alter-config flags into incremental operations.
func parseAlters(set, del, appendTo, subtract []string) ([]kadm.AlterConfig, error) {
	var alters []kadm.AlterConfig
	for _, op := range []struct {
		flag  string
		pairs []string
		op    kadm.IncrementalOp
	}{{"--set", set, kadm.SetConfig}, {"--append", appendTo, kadm.AppendConfig}, {"--subtract", subtract, kadm.SubtractConfig}} {
		for _, kv := range op.pairs {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("%s %q must look like key=value", op.flag, kv)
			}
			alters = append(alters, kadm.AlterConfig{Op: op.op, Name: k, Value: &v})
		}
	}
	for _, k := range del {
		if k == "" || strings.Contains(k, "=") {
			return nil, fmt.Errorf("--delete takes a config name, not %q", k)
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	if len(alters) == 0 {
		return nil, errors.New("nothing to change: give --set, --delete, --append or --subtract")
	}
	return alters, nil
}

// alterConfigs applies alters to each topic and prints each outcome.
func alterConfigs(ctx context.Context, cl *client, w io.Writer, asJSON bool, topics []string, alters []kadm.AlterConfig) error {
	resps, err := cl.adm.AlterTopicConfigs(ctx, alters, topics...)
	if err != nil {
		return err
	}
	return printAltered(w, asJSON, topics, alters, resps)
}

func printAltered(w io.Writer, asJSON bool, topics []string, alters []kadm.AlterConfig, resps kadm.AlterConfigsResponses) error {
	type altered struct {
		Topic string `json:"topic"`
		Error string `json:"error,omitempty"`
	}
	var out []altered
	var failures []string
	for _, t := range topics {
		a := altered{Topic: t}
		r, err := resps.On(t, nil)
		if err == nil {
			err = r.Err
		}
		switch {
		case errors.Is(err, kerr.UnknownTopicOrPartition):
			a.Error = errNoTopic(t).Error()
			failures = append(failures, a.Error)
		case err != nil:
			a.Error = kafkaReason(err, r.ErrMessage)
			failures = append(failures, fmt.Sprintf("cannot alter the configs of topic %q: %s", t, a.Error))
		}
		out = append(out, a)
	}
	if asJSON {
		if err := printJSON(w, out); err != nil {
			return err
		}
	} else if len(failures) < len(topics) {
		tw := newTable(w)
		row(tw, "TOPIC", "CONFIG", "CHANGE")
		for _, a := range out {
			if a.Error != "" {
				continue
			}
			for _, c := range alters {
				row(tw, a.Topic, c.Name, describeAlter(c))
			}
		}
		tw.Flush()
	}
	return joinFailures("altering topic configs:", len(topics), failures)
}

func describeAlter(c kadm.AlterConfig) string {
	switch c.Op {
	case kadm.DeleteConfig:
		return "deleted (back to the default)"
	case kadm.AppendConfig:
		return "appended " + *c.Value
	case kadm.SubtractConfig:
		return "removed " + *c.Value
	}
	return "set to " + *c.Value
}

func topicAddPartitionsCommand(f *adminFlags) *cobra.Command {
	var add, total int
	cmd := &cobra.Command{
		Use:               "add-partitions TOPIC... (-n COUNT | --total COUNT)",
		Short:             "Add partitions to topics",
		Args:              needArgs(1, -1, "topic name"),
		ValidArgsFunction: completeTopics(&f.client),
		RunE: func(cmd *cobra.Command, topics []string) error {
			if err := checkPartitionCount(add, total); err != nil {
				return err
			}
			return f.run(cmd, func(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
				return addPartitions(ctx, cl, w, asJSON, topics, add, total)
			})
		},
	}
	cmd.Flags().IntVarP(&add, "num", "n", 0, "number of partitions to add")
	cmd.Flags().IntVar(&total, "total", 0, "the new total number of partitions")
	return cmd
}

// checkPartitionCount checks that exactly one of -n and --total is given.
func checkPartitionCount(add, total int) error {
	if (add > 0) == (total > 0) {
		return errors.New("give either -n (partitions to add) or --total (the new partition count), as a positive number")
	}
	return nil
}

// addPartitions adds add partitions to each topic, or grows each to total.
func addPartitions(ctx context.Context, cl *client, w io.Writer, asJSON bool, topics []string, add, total int) error {
	before, err := cl.lookupTopics(ctx, topics...)
	if err != nil {
		return err
	}
	var resps kadm.CreatePartitionsResponses
	if add > 0 {
		resps, err = cl.adm.CreatePartitions(ctx, add, topics...)
	} else {
		resps, err = cl.adm.UpdatePartitions(ctx, total, topics...)
	}
	if err != nil {
		return err
	}
	return printAddedPartitions(w, asJSON, topics, before, add, total, resps)
}

func printAddedPartitions(w io.Writer, asJSON bool, topics []string, before kadm.TopicDetails, add, total int, resps kadm.CreatePartitionsResponses) error {
	type added struct {
		Topic      string `json:"topic"`
		Before     int    `json:"partitions_before"`
		Partitions int    `json:"partitions"`
		Error      string `json:"error,omitempty"`
	}
	var out []added
	var failures []string
	for _, t := range topics {
		a := added{Topic: t, Before: len(before[t].Partitions), Partitions: total}
		if add > 0 {
			a.Partitions = a.Before + add
		}
		r, err := resps.On(t, nil)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			a.Error = kafkaReason(err, r.ErrMessage)
			failures = append(failures, fmt.Sprintf("cannot add partitions to topic %q: %s", t, a.Error))
		}
		out = append(out, a)
	}
	if asJSON {
		if err := printJSON(w, out); err != nil {
			return err
		}
	} else if len(failures) < len(topics) {
		tw := newTable(w)
		row(tw, "TOPIC", "PARTITIONS-BEFORE", "PARTITIONS")
		for _, a := range out {
			if a.Error == "" {
				row(tw, a.Topic, a.Before, a.Partitions)
			}
		}
		tw.Flush()
	}
	return joinFailures("adding partitions:", len(topics), failures)
}

// sortedConfigs returns configs sorted by name.
func sortedConfigs(cs []kadm.Config) []kadm.Config {
	out := append([]kadm.Config(nil), cs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
