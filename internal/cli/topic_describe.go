// sluice topic describe: partitions with leader, replicas and ISR (Metadata),
// watermarks (ListOffsets earliest and latest), size on disk
// (DescribeLogDirs) and configs with their source (DescribeConfigs).
// A partition without a leader is flagged OFFLINE, one whose ISR is
// smaller than its replicas UNDER-REPLICATED; the STATUS column and the
// topic's counts appear only when some partition is flagged, so a
// healthy topic prints as it always did.

package cli

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

func topicDescribeCommand(f *adminFlags) *cobra.Command {
	var noConfigs bool
	cmd := &cobra.Command{
		Use:               "describe TOPIC...",
		Short:             "Show partitions, leaders, replicas, ISR, watermarks, size and configs",
		Args:              needArgs(1, -1, "topic name"),
		ValidArgsFunction: completeTopics(&f.client),
		RunE: func(cmd *cobra.Command, topics []string) error {
			return f.run(cmd, func(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
				return showTopics(ctx, cl, w, asJSON, topics, !noConfigs)
			})
		},
	}
	cmd.Flags().BoolVar(&noConfigs, "no-configs", false, "leave out the configs")
	return cmd
}

// showTopics describes topics and prints them.
func showTopics(ctx context.Context, cl *client, w io.Writer, asJSON bool, topics []string, withConfigs bool) error {
	described, err := describeTopics(ctx, cl, topics, withConfigs)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(w, described)
	}
	return printTopicDescriptions(w, described, withConfigs)
}

// describedTopic is topic describe's output; the JSON form is this struct.
type describedTopic struct {
	Topic     string `json:"topic"`
	ID        string `json:"id,omitempty"`
	Internal  bool   `json:"internal"`
	Replicas  int    `json:"replicas"`
	SizeBytes int64  `json:"size_bytes"` // -1 if unknown
	// UnderReplicated counts the partitions whose ISR is smaller than
	// their replicas, Offline those without a leader.
	UnderReplicated int                  `json:"under_replicated_partitions"`
	Offline         int                  `json:"offline_partitions"`
	Partitions      []describedPartition `json:"partitions"`
	Configs         []describedConfig    `json:"configs,omitempty"`
}

type describedPartition struct {
	Partition       int32   `json:"partition"`
	Leader          int32   `json:"leader"`
	LeaderEpoch     int32   `json:"leader_epoch"`
	Replicas        []int32 `json:"replicas"`
	ISR             []int32 `json:"isr"`
	OfflineReplicas []int32 `json:"offline_replicas"`
	UnderReplicated bool    `json:"under_replicated"` // ISR smaller than replicas
	Offline         bool    `json:"offline"`          // no leader
	LogStartOffset  int64   `json:"log_start_offset"` // -1 if unknown
	HighWatermark   int64   `json:"high_watermark"`   // -1 if unknown
	SizeBytes       int64   `json:"size_bytes"`       // -1 if unknown
	Error           string  `json:"error,omitempty"`
}

type describedConfig struct {
	Name      string  `json:"name"`
	Value     *string `json:"value"`
	Source    string  `json:"source"`
	Sensitive bool    `json:"sensitive"`
}

func describeTopics(ctx context.Context, cl *client, topics []string, withConfigs bool) ([]describedTopic, error) {
	details, err := cl.lookupTopics(ctx, topics...)
	if err != nil {
		return nil, err
	}
	// A partition whose leader did not answer shows "-" (ShardErrors);
	// anything else fails the command.
	starts, err := cl.adm.ListStartOffsets(ctx, topics...)
	if err != nil && !isShardError(err) {
		return nil, err
	}
	ends, err := cl.adm.ListEndOffsets(ctx, topics...)
	if err != nil && !isShardError(err) {
		return nil, err
	}
	// Sizes are a nicety: a broker without DescribeLogDirs still gets
	// the rest of the description.
	logDirs, _ := cl.adm.DescribeAllLogDirs(ctx, details.TopicsSet())
	var configs kadm.ResourceConfigs
	if withConfigs {
		if configs, err = cl.adm.DescribeTopicConfigs(ctx, topics...); err != nil {
			return nil, err
		}
	}
	var out []describedTopic
	for _, t := range topics {
		d := details[t]
		dt := describedTopic{Topic: t, Internal: d.IsInternal, Replicas: d.Partitions.NumReplicas(), SizeBytes: 0}
		if d.ID != (kadm.TopicID{}) {
			dt.ID = d.ID.String()
		}
		for _, p := range d.Partitions.Sorted() {
			dp := describedPartition{
				Partition:       p.Partition,
				Leader:          p.Leader,
				LeaderEpoch:     p.LeaderEpoch,
				Replicas:        nonNil(p.Replicas),
				ISR:             nonNil(p.ISR),
				OfflineReplicas: nonNil(p.OfflineReplicas),
				LogStartOffset:  listedOffset(starts, t, p.Partition),
				HighWatermark:   listedOffset(ends, t, p.Partition),
				SizeBytes:       partitionSize(logDirs, p),
				UnderReplicated: len(p.ISR) < len(p.Replicas),
				Offline:         p.Leader < 0,
			}
			if dp.UnderReplicated {
				dt.UnderReplicated++
			}
			if dp.Offline {
				dt.Offline++
			}
			if p.Err != nil {
				dp.Error = kafkaReason(p.Err, "")
			}
			switch {
			case dp.SizeBytes < 0 || dt.SizeBytes < 0:
				dt.SizeBytes = -1
			default:
				dt.SizeBytes += dp.SizeBytes
			}
			dt.Partitions = append(dt.Partitions, dp)
		}
		if withConfigs {
			rc, err := configs.On(t, nil)
			if err == nil {
				err = rc.Err
			}
			if err != nil {
				return nil, fmt.Errorf("cannot read the configs of topic %q: %s", t, kafkaReason(err, rc.ErrMessage))
			}
			for _, c := range sortedConfigs(rc.Configs) {
				dt.Configs = append(dt.Configs, describedConfig{Name: c.Key, Value: c.Value, Source: c.Source.String(), Sensitive: c.Sensitive})
			}
		}
		out = append(out, dt)
	}
	return out, nil
}

func nonNil(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return ids
}

func listedOffset(l kadm.ListedOffsets, t string, p int32) int64 {
	o, ok := l.Lookup(t, p)
	if !ok || o.Err != nil {
		return -1
	}
	return o.Offset
}

// partitionSize is the size of the leader's replica, or of the largest
// replica when the leader did not answer; -1 if no replica did.
func partitionSize(all kadm.DescribedAllLogDirs, p kadm.PartitionDetail) int64 {
	if dirs, ok := all[p.Leader]; ok {
		if d, ok := dirs.LookupPartition(p.Topic, p.Partition); ok {
			return d.Size
		}
	}
	size := int64(-1)
	for _, r := range p.Replicas {
		if d, ok := all[r].LookupPartition(p.Topic, p.Partition); ok {
			size = max(size, d.Size)
		}
	}
	return size
}

func printTopicDescriptions(w io.Writer, topics []describedTopic, withConfigs bool) error {
	for i, t := range topics {
		if i > 0 {
			fmt.Fprintln(w)
		}
		tw := newTable(w)
		row(tw, "TOPIC", t.Topic)
		if t.ID != "" {
			row(tw, "ID", t.ID)
		}
		if t.Internal {
			row(tw, "INTERNAL", "yes")
		}
		row(tw, "PARTITIONS", len(t.Partitions))
		if t.Offline > 0 {
			row(tw, "OFFLINE", t.Offline)
		}
		if t.UnderReplicated > 0 {
			row(tw, "UNDER-REPLICATED", t.UnderReplicated)
		}
		row(tw, "REPLICAS", t.Replicas)
		row(tw, "SIZE", humanBytes(t.SizeBytes))
		tw.Flush()
		fmt.Fprintln(w)
		printPartitionTable(w, t.Partitions)
		if withConfigs {
			fmt.Fprintln(w)
			tw = newTable(w)
			row(tw, "CONFIG", "VALUE", "SOURCE")
			for _, c := range t.Configs {
				value := "-"
				switch {
				case c.Sensitive:
					value = "(sensitive)"
				case c.Value != nil:
					value = *c.Value
				}
				row(tw, c.Name, value, c.Source)
			}
			tw.Flush()
		}
	}
	return nil
}

func printPartitionTable(w io.Writer, partitions []describedPartition) {
	offline, flagged := false, false
	for _, p := range partitions {
		offline = offline || len(p.OfflineReplicas) > 0
		flagged = flagged || p.status() != ""
	}
	tw := newTable(w)
	header := []any{"PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR"}
	if offline {
		header = append(header, "OFFLINE-REPLICAS")
	}
	header = append(header, "LOG-START-OFFSET", "HIGH-WATERMARK", "SIZE")
	if flagged {
		header = append(header, "STATUS")
	}
	row(tw, header...)
	sort.Slice(partitions, func(i, j int) bool { return partitions[i].Partition < partitions[j].Partition })
	for _, p := range partitions {
		leader := fmt.Sprint(p.Leader)
		if p.Leader < 0 {
			leader = "none"
		}
		cells := []any{p.Partition, leader, p.LeaderEpoch, int32List(p.Replicas), int32List(p.ISR)}
		if offline {
			cells = append(cells, orDash(int32List(p.OfflineReplicas)))
		}
		cells = append(cells, offsetOrDash(p.LogStartOffset), offsetOrDash(p.HighWatermark), humanBytes(p.SizeBytes))
		if flagged {
			cells = append(cells, orDash(p.status()))
		}
		if p.Error != "" {
			cells = append(cells, p.Error)
		}
		row(tw, cells...)
	}
	tw.Flush()
}

// status is a partition's ISR health flag: OFFLINE without a leader,
// UNDER-REPLICATED with an ISR smaller than its replicas, else empty.
func (p describedPartition) status() string {
	switch {
	case p.Offline:
		return "OFFLINE"
	case p.UnderReplicated:
		return "UNDER-REPLICATED"
	}
	return ""
}
